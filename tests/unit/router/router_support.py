"""A tiny app to route to (raw ASGI under an in-process uvicorn) and raw-socket helpers.

Each `Upstream` answers with its name so tests can see which release served a request,
and exposes events so tests can assert on what the app saw (not on timings).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn

from app.runtime.router.server import Router

CHUNK = 256 * 1024
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/12"
HOST = "shop-production.localhost"
# Here rather than in conftest.py: test modules importing "conftest" get whichever conftest
# was imported first when several test folders run together.
MakeRouter = Callable[..., Awaitable[Router]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Upstream:
    name: str
    port: int = 0
    first_body: asyncio.Event = field(default_factory=asyncio.Event)
    hang_started: asyncio.Event = field(default_factory=asyncio.Event)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    stream_gate: asyncio.Event = field(default_factory=asyncio.Event)
    slow_started: asyncio.Event = field(default_factory=asyncio.Event)
    seen_headers: list[dict[bytes, bytes]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await self._websocket(receive, send)
            return
        if scope["type"] != "http":
            return
        self.seen_headers.append(dict(scope["headers"]))
        path: str = scope["path"]
        if path == "/upload":
            await self._upload(receive, send)
        elif path.startswith("/stream/"):
            await self._stream(int(path.rsplit("/", 1)[1]), send)
        elif path.startswith("/status/"):
            await _reply(send, int(path.rsplit("/", 1)[1]), b"status")
        elif path == "/304":
            await send(
                {"type": "http.response.start", "status": 304, "headers": [(b"etag", b'"v1"')]}
            )
            await send({"type": "http.response.body", "body": b""})
        elif path == "/sized":
            await _reply(send, 200, b"x" * 1234)
        elif path == "/hang":
            self.hang_started.set()
            while (await receive())["type"] != "http.disconnect":
                pass
            self.disconnected.set()
        elif path == "/slow":
            self.slow_started.set()
            await asyncio.sleep(0.5)
            await _reply(send, 200, b"slow done")
        else:
            await _reply(send, 200, self.name.encode())

    async def _upload(self, receive: Any, send: Any) -> None:
        """Read the body as it arrives, slowly at first so that backpressure engages."""
        size, digest, reads = 0, hashlib.sha256(), 0
        while True:
            message = await receive()
            body = message.get("body", b"")
            if body:
                self.first_body.set()
                size += len(body)
                digest.update(body)
                reads += 1
                if reads < 100:
                    await asyncio.sleep(0.002)
            if not message.get("more_body"):
                break
        out = {"size": size, "sha256": digest.hexdigest(), "reads": reads}
        await _reply(send, 200, orjson.dumps(out))

    async def _stream(self, total: int, send: Any) -> None:
        """No Content-Length (so chunked); pause after 1 MiB until the client saw bytes."""
        await send({"type": "http.response.start", "status": 200, "headers": []})
        sent = 0
        while sent < total:
            n = min(CHUNK, total - sent)
            await send({"type": "http.response.body", "body": b"s" * n, "more_body": True})
            sent += n
            if sent >= 1024 * 1024 and not self.stream_gate.is_set():
                await asyncio.wait_for(self.stream_gate.wait(), 5)
        await send({"type": "http.response.body", "body": b""})

    async def _websocket(self, receive: Any, send: Any) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": f"{self.name}:{message.get('text')}"})


async def _reply(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def serve_upstream(name: str) -> AsyncIterator[Upstream]:
    up = Upstream(name, free_port())
    config = uvicorn.Config(
        up, host="127.0.0.1", port=up.port, lifespan="off", log_level="warning",
        log_config=None, ws="websockets-sansio", http="httptools",
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield up
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


def buffered_bytes(router: Router) -> int:
    """Bytes the router holds in user space right now (write buffers and pending data)."""
    total = 0
    for conn in router.ctx.connections:
        if conn.transport is not None:
            total += conn.transport.get_write_buffer_size()
        ex = conn.active
        if ex is not None:
            total += ex.pending_size
    for up in router.ctx.pool.busy:
        if up.transport is not None:
            total += up.transport.get_write_buffer_size()
    return total


@contextlib.asynccontextmanager
async def peak_sampler(router: Router) -> AsyncIterator[list[int]]:
    """Sample `buffered_bytes` every few ms; the yielded list's max is the peak."""
    samples = [0]

    async def sample() -> None:
        while True:
            samples.append(buffered_bytes(router))
            await asyncio.sleep(0.002)

    task = asyncio.create_task(sample())
    try:
        yield samples
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def raw_exchange(port: int, data: bytes, *, until: bytes, timeout: float = 5) -> bytes:
    """Send raw bytes on a new connection and read until `until` appears."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        got = b""
        while until not in got:
            chunk = await asyncio.wait_for(reader.read(65536), timeout)
            if not chunk:
                break
            got += chunk
        return got
    finally:
        writer.close()
        await writer.wait_closed()
