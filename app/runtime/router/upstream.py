"""Keep-alive connections to the apps, pooled per upstream address.

An `UpstreamConnection` parses responses with httptools and reports them to the `Sink`
(the exchange it is attached to); between exchanges it sits idle in the `Pool`. Reusing
connections is most of the router's speed: a fresh loopback connection costs a handshake
and a new accept on the app side for every request.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal, Protocol, cast

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

from app.runtime.router.wire import Batch, Headers, Outbox

log = logging.getLogger(__name__)

BodyKind = Literal["none", "length", "chunked", "eof"]


class Sink(Protocol):
    def upstream_ready(self, conn: UpstreamConnection) -> None: ...
    def upstream_failed(self, error: str) -> None: ...
    def response_head(
        self, status: int, reason: bytes, headers: Headers, body: BodyKind, keep_alive: bool
    ) -> None: ...
    def response_body(self, data: bytes) -> None: ...
    def response_end(self) -> None: ...
    def tunnel_data(self, data: bytes) -> None: ...
    def upstream_lost(self, conn: UpstreamConnection) -> None: ...
    def upstream_backpressure(self, paused: bool) -> None: ...


class UpstreamConnection(asyncio.Protocol):
    def __init__(self, pool: Pool, upstream: str) -> None:
        self.pool = pool
        self.upstream = upstream
        self.transport: asyncio.Transport | None = None
        self.out: Outbox | None = None
        self.sink: Sink | None = None
        self.closed = False
        self.tunnel = False
        self.uses = 0
        self.idle_since = 0.0
        self.reading_paused = False
        self.keep_alive = True  # until a response says otherwise
        self._parser = HttpResponseParser(self)
        self._head_only = False
        self._headers: Headers = []
        self._reason = b""
        self._chunked = False
        self._length = False
        self._done = False

    # -- used by the exchange --------------------------------------------------------------

    def attach(self, sink: Sink, *, head_only: bool) -> None:
        self.sink = sink
        self.uses += 1
        # A fresh parser per response: after a HEAD answer httptools still expects the
        # announced body (it cannot be told the method), so the old one is unusable.
        if self.uses > 1:
            self._parser = HttpResponseParser(self)
        self._head_only = head_only
        self._done = False

    def write(self, parts: list[bytes]) -> None:
        assert self.out is not None
        self.out.writelines(parts)

    def pause_reading(self, paused: bool) -> None:
        if self.transport is None or self.closed or paused == self.reading_paused:
            return
        self.reading_paused = paused
        if paused:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    def close(self) -> None:
        """Close without telling the exchange (it is the one asking, or already gone)."""
        self.sink = None
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.out = Outbox(self.pool.batch, self.transport)

    def data_received(self, data: bytes) -> None:
        sink = self.sink
        if sink is None:
            self.close()  # an idle app must not speak: the connection is out of step
            return
        if self.tunnel:
            sink.tunnel_data(data)
            return
        batch = self.pool.batch
        batch.depth += 1
        try:
            self._parser.feed_data(data)
        except HttpParserUpgrade as exc:
            self.tunnel = True
            rest = data[exc.args[0] :]
            if rest:
                sink.tunnel_data(rest)
        except HttpParserError as exc:
            log.warning("router: bad response from %s: %r", self.upstream, exc)
            self.keep_alive = False
            if self._done:
                self._done = False
                sink.response_end()
            else:
                self.close()
                sink.upstream_lost(self)
        else:
            if self._done:
                self._done = False
                sink.response_end()
        finally:
            batch.end()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        if self.sink is not None:
            sink, self.sink = self.sink, None
            sink.upstream_lost(self)

    def pause_writing(self) -> None:
        if self.sink is not None:
            self.sink.upstream_backpressure(True)

    def resume_writing(self) -> None:
        if self.sink is not None:
            self.sink.upstream_backpressure(False)

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._headers = []
        self._reason = b""
        self._chunked = self._length = False

    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        lname = name.lower()
        if lname == b"transfer-encoding":
            self._chunked = b"chunked" in value.lower()
        elif lname == b"content-length":
            self._length = True
        self._headers.append((name, value, lname))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        body: BodyKind
        if self._head_only or status < 200 or status in (204, 304):
            body = "none"
        elif self._chunked:
            body = "chunked"
        elif self._length:
            body = "length"
        else:
            body = "eof"
        self.keep_alive = self._parser.should_keep_alive() and body != "eof"
        if self._head_only and status >= 200:
            self._done = True  # httptools would wait for the body a HEAD answer never has
        assert self.sink is not None
        self.sink.response_head(status, self._reason, self._headers, body, self.keep_alive)

    def on_body(self, body: bytes) -> None:
        if self.sink is not None and not self._done:
            self.sink.response_body(body)

    def on_message_complete(self) -> None:
        if self._parser.get_status_code() >= 200 or self.tunnel:
            self._done = True  # interim 1xx answers are followed by the real one


class Pool:
    """Idle connections per upstream, most recently used first (the warmest socket)."""

    def __init__(
        self, batch: Batch, *, connect_timeout: float, idle_timeout: float, max_idle: int
    ) -> None:
        self.batch = batch
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.max_idle = max_idle
        self.idle: dict[str, list[UpstreamConnection]] = {}
        self.busy: set[UpstreamConnection] = set()
        self.connecting = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def acquire(self, upstream: str, sink: Sink, *, fresh: bool = False) -> None:
        """Give `sink` a connection now (`upstream_ready`) or once connected (or failed).

        `fresh` skips the idle ones: after one turned out stale, its siblings likely are too
        (the app restarted or they all passed its keep-alive timeout together).
        """
        idle = self.idle.get(upstream)
        if fresh and idle:
            for conn in idle:
                conn.close()
            idle.clear()
        while idle:
            conn = idle.pop()
            if not conn.closed:
                self.busy.add(conn)
                sink.upstream_ready(conn)
                return
        task = asyncio.get_running_loop().create_task(self._connect(upstream, sink))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, upstream: str, sink: Sink) -> None:
        host, _, port = upstream.rpartition(":")
        loop = asyncio.get_running_loop()
        self.connecting += 1
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: UpstreamConnection(self, upstream), host, int(port)),
                self.connect_timeout,
            )
        except (OSError, TimeoutError) as exc:
            sink.upstream_failed(f"{upstream}: {exc or 'connect timeout'}")
            return
        finally:
            self.connecting -= 1
        self.busy.add(conn)
        sink.upstream_ready(conn)

    def release(self, conn: UpstreamConnection) -> None:
        """Take back a connection whose exchange ended cleanly; keep it if it can be reused."""
        conn.sink = None
        self.busy.discard(conn)
        conn.pause_reading(False)  # so an idle close by the app is noticed
        idle = self.idle.setdefault(conn.upstream, [])
        if conn.closed or not conn.keep_alive or conn.tunnel or len(idle) >= self.max_idle:
            conn.close()
            return
        conn.idle_since = asyncio.get_running_loop().time()
        idle.append(conn)

    def forget(self, conn: UpstreamConnection) -> None:
        self.busy.discard(conn)
        idle = self.idle.get(conn.upstream)
        if idle and conn in idle:
            idle.remove(conn)

    def sweep(self, now: float) -> None:
        """Close connections idle for longer than `idle_timeout` (below the apps' own
        keep-alive timeouts, so that we close first and never write into a closing socket)."""
        for idle in self.idle.values():
            while idle and now - idle[0].idle_since > self.idle_timeout:
                idle.pop(0).close()

    def counts(self) -> tuple[int, int]:
        return sum(len(v) for v in self.idle.values()), len(self.busy)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in [*self.busy, *(c for v in self.idle.values() for c in v)]:
            conn.close()
        self.idle.clear()
        self.busy.clear()
