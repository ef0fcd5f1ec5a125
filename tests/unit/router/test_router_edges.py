"""Less travelled paths: a pooled connection the app closed, timeouts, HTTP/1.0, CONNECT."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from router_support import HOST, MakeRouter, Upstream, raw_exchange

from app.runtime.router.keys import RouterKeys
from app.runtime.router.server import Router
from app.runtime.router.table import Backend, RouteTable

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@contextlib.asynccontextmanager
async def one_shot_app() -> AsyncIterator[int]:
    """Answers the first request of each connection; on the second it closes without a
    word, as an app does when its keep-alive timeout fires just as a request arrives."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(OK)
            await writer.drain()
            await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def test_a_stale_pooled_connection_is_retried_once_for_a_get(
    make_router: MakeRouter, redis: Redis, keys: RouterKeys
) -> None:
    async with one_shot_app() as port:
        await RouteTable(keys).set_routes(
            redis, HOST, [Backend("dep-s", (f"127.0.0.1:{port}",), 100)]
        )
        router = await make_router()
        get = f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
        post = f"POST / HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 1\r\n\r\nx".encode()
        first = await raw_exchange(router.port, get, until=b"ok")
        second = await raw_exchange(router.port, get, until=b"ok")  # reused, then retried
        assert first.startswith(b"HTTP/1.1 200") and second.startswith(b"HTTP/1.1 200")
        third = await raw_exchange(router.port, post, until=b"}")  # the retried one is reused
        assert third.startswith(b"HTTP/1.1 502 "), third  # a body is never sent twice


async def test_response_timeout_is_504(
    make_router: MakeRouter, redis: Redis, keys: RouterKeys, app_a: Upstream
) -> None:
    await RouteTable(keys).set_routes(redis, HOST, [Backend("dep-a", (app_a.address,), 100)])
    router = await make_router(response_timeout=0.1, sweep_interval=0.05)
    got = await raw_exchange(
        router.port, f"GET /hang HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode(), until=b"}"
    )
    assert got.startswith(b"HTTP/1.1 504 ")
    await asyncio.wait_for(app_a.disconnected.wait(), 5)  # and the app's connection is closed
    assert router.ctx.metrics.totals["dep-a"].status[4] == 1


async def test_idle_client_connections_are_closed(make_router: MakeRouter) -> None:
    router = await make_router(client_idle_timeout=0.1, sweep_interval=0.05)
    reader, writer = await asyncio.open_connection("127.0.0.1", router.port)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the router
    writer.close()
    await writer.wait_closed()


async def test_http10_client_gets_a_close_delimited_body(router: Router) -> None:
    got = await raw_exchange(
        router.port, f"GET /stream/1000 HTTP/1.0\r\nHost: {HOST}\r\n\r\n".encode(), until=b"never"
    )
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"transfer-encoding" not in head.lower()
    assert b"Connection: close" in head
    assert body == b"s" * 1000


async def test_connect_is_refused(router: Router) -> None:
    got = await raw_exchange(
        router.port,
        f"CONNECT example.com:443 HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode(),
        until=b"}",
    )
    assert got.startswith(b"HTTP/1.1 405 ")
