"""Bodies stream through the router both ways without being collected, and a client that
leaves frees its upstream connection.

Streaming is shown by order of arrival (the app sees the first bytes of an upload before
the client has sent it all; the client sees the first bytes of a download before the app
has produced it all) and bounded buffering by sampling what the router holds in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import httpx
from router_support import HOST, Upstream, peak_sampler

from app.runtime.router.server import Router

MiB = 1024 * 1024
TOTAL = 20 * MiB
MAX_HELD = 4 * MiB  # what the router may hold at once: socket buffers' worth, not the body


async def test_large_chunked_upload_streams_with_backpressure(
    router: Router, app_a: Upstream
) -> None:
    digest = hashlib.sha256()
    block = bytes(range(256)) * 4096  # 1 MiB

    async def body() -> AsyncIterator[bytes]:
        for i in range(TOTAL // MiB):
            digest.update(block)
            yield block
            if i == 1:  # 2 MiB sent: the app must already be reading
                await asyncio.wait_for(app_a.first_body.wait(), 5)

    async with peak_sampler(router) as samples, httpx.AsyncClient(timeout=30) as c:
        r = await c.post(
            f"http://127.0.0.1:{router.port}/upload", content=body(), headers={"Host": HOST}
        )
    assert r.status_code == 200
    got = r.json()
    assert got["size"] == TOTAL and got["sha256"] == digest.hexdigest()
    assert got["reads"] > 20  # the app got it in many pieces, not one
    assert max(samples) < MAX_HELD, max(samples)
    assert router.ctx.metrics.totals["dep-a"].bytes_in > TOTAL


async def test_content_length_upload(router: Router) -> None:
    data = b"0123456789abcdef" * (3 * MiB // 16)
    async with httpx.AsyncClient(timeout=30) as c:
        r = await c.post(
            f"http://127.0.0.1:{router.port}/upload", content=data, headers={"Host": HOST}
        )
    assert r.json() == {
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "reads": r.json()["reads"],
    }


async def test_large_download_streams_to_a_slow_client(router: Router, app_a: Upstream) -> None:
    received = 0
    async with peak_sampler(router) as samples, httpx.AsyncClient(timeout=30) as c:
        url = f"http://127.0.0.1:{router.port}/stream/{TOTAL}"
        async with c.stream("GET", url, headers={"Host": HOST}) as r:
            assert r.headers["transfer-encoding"] == "chunked"
            async for part in r.aiter_raw():
                received += len(part)
                app_a.stream_gate.set()  # the app waits for this after its first MiB
                if received < 4 * MiB:
                    await asyncio.sleep(0.002)  # a slow reader: the router must not soak it up
    assert received == TOTAL
    assert max(samples) < MAX_HELD, max(samples)
    assert router.ctx.metrics.totals["dep-a"].bytes_out > TOTAL


async def test_client_disconnect_frees_the_upstream_connection(
    router: Router, app_a: Upstream
) -> None:
    _reader, writer = await asyncio.open_connection("127.0.0.1", router.port)
    writer.write(f"GET /hang HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
    await asyncio.wait_for(app_a.hang_started.wait(), 5)
    assert router.ctx.pool.counts() == (0, 1)
    writer.close()
    await writer.wait_closed()
    await asyncio.wait_for(app_a.disconnected.wait(), 5)  # the app saw its connection close
    assert router.ctx.pool.counts() == (0, 0)
    assert router.ctx.metrics.totals["dep-a"].aborted == 1


async def test_client_disconnect_mid_download_frees_the_upstream(
    router: Router, app_a: Upstream
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", router.port)
    writer.write(f"GET /stream/{TOTAL} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
    assert await asyncio.wait_for(reader.read(1024), 5)
    writer.transport.abort()  # a reset, as when a browser tab goes away
    app_a.stream_gate.set()
    for _ in range(200):
        if router.ctx.pool.counts() == (0, 0):
            break
        await asyncio.sleep(0.01)
    assert router.ctx.pool.counts() == (0, 0)
