"""The client side of the router: one protocol object per accepted connection.

Requests are parsed with httptools straight from `data_received` (no streams, no task
per request: that is where an asyncio proxy spends its time). Exchanges run one at a
time per connection; pipelined requests queue behind the active one with reading paused.
Reading is also paused while the upstream cannot take more request body (`UPSTREAM`) or
while bytes pile up waiting for an upstream connection (`PENDING`), which is what keeps a
large upload from being buffered in the router.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import cast

from httptools import HttpParserError, HttpParserUpgrade, HttpRequestParser

from app.runtime.router import admin, wire
from app.runtime.router.context import Context
from app.runtime.router.exchange import PENDING, PIPELINE, UPSTREAM, Exchange


class ClientConnection(asyncio.Protocol):
    def __init__(self, ctx: Context, *, admin_port: bool = False) -> None:
        self.ctx = ctx
        self.admin_port = admin_port
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.out: wire.Outbox
        self.parser = HttpRequestParser(self)
        self.active: Exchange | None = None
        self.queue: deque[Exchange] = deque()
        self.current: Exchange | None = None  # receives the body being parsed
        self.raw: Exchange | None = None  # set after an upgrade request: bytes pass untouched
        self.paused = 0  # PENDING | UPSTREAM | PIPELINE bits
        self.write_paused = False
        self.closing = False
        self.last_active = self.loop.time()
        self.forwarded = b""
        self._advancing = False
        self._in_head = self._too_big = self._chunked = self._length = False
        self._url = b""
        self._headers: wire.Headers = []
        self._host: bytes | None = None
        self._upgrade: bytes | None = None
        self._size = 0

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.out = wire.Outbox(self.ctx.batch, self.transport)
        peer = transport.get_extra_info("peername")
        ip = str(peer[0]) if peer else "unknown"
        self.forwarded = b"X-Forwarded-For: " + ip.encode() + b"\r\n" + self.ctx.proto_line
        self.ctx.connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.last_active = self.loop.time()
        batch = self.ctx.batch
        batch.depth += 1
        try:
            if self.raw is not None:
                self.raw.client_raw(data)
            else:
                self.parser.feed_data(data)
        except HttpParserUpgrade as exc:
            ex = self.current
            if ex is not None and ex.upgrade is not None:
                self.raw = ex
                if rest := data[exc.args[0] :]:
                    ex.client_raw(rest)
            elif not self.closing:  # CONNECT (refused in `begin`): the parser is done
                self._bad_request()
        except HttpParserError:
            self._bad_request()
        finally:
            batch.end()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.ctx.connections.discard(self)
        self._abort_all()
        if self.ctx.draining and not self.ctx.connections:
            self.ctx.drained.set()

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.active is not None and self.active.upstream is not None:
            self.active.upstream.pause_reading(True)

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.active is not None and self.active.upstream is not None:
            self.active.upstream.pause_reading(False)

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._in_head = True
        self._url = b""
        self._headers = []
        self._host = self._upgrade = None
        self._size = 0
        self._chunked = self._length = False

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        lname = name.lower()
        if lname == b"host":
            # Two Host headers could route by one and reach the app with the other.
            self._host = value if self._host is None else b""
        elif lname == b"content-length":
            self._length = value.strip() != b"0"
        elif lname == b"transfer-encoding":
            self._chunked = True  # llhttp refuses a request whose last coding is not chunked
        elif lname == b"upgrade":
            self._upgrade = value
        self._headers.append((name, value, lname))

    def _count(self, n: int) -> None:
        self._size += n
        if self._size > self.ctx.config.max_head_bytes:
            self._too_big = True
            raise ValueError("request head too large")  # httptools turns it into a parse error

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self.closing:
            self.current = None
            return
        p = self.parser
        if self.admin_port:
            self._answer_admin(p.get_method())
            return
        host = self._host or b""
        upgrade = self._upgrade if p.should_upgrade() else None
        method = p.get_method()
        forwarded = self.forwarded + b"X-Forwarded-Host: " + host + b"\r\n"
        head = wire.request_head(
            method,
            self._url,
            self._headers,
            forwarded=forwarded,
            chunked=self._chunked,
            upgrade=upgrade,
        )
        ex = Exchange(
            self, method, head, host.decode("latin-1"),
            head_size=self._size + len(method) + 12, keep_alive=p.should_keep_alive(),
            http11=p.get_http_version() == "1.1", has_body=self._chunked or self._length,
            chunked=self._chunked, upgrade=upgrade,
        )  # fmt: skip
        self.current = ex
        if self.active is None:
            self.active = ex
            ex.begin()
        else:
            self.queue.append(ex)
            self.pause_reading(PIPELINE)

    def on_body(self, body: bytes) -> None:
        if self.current is not None:
            self.current.request_body(body)

    def on_message_complete(self) -> None:
        if self.current is not None:
            self.current.request_end()

    # -- used by exchanges and the server --------------------------------------------------

    def pause_reading(self, reason: int) -> None:
        if not self.paused and self.transport is not None and not self.closing:
            self.transport.pause_reading()
        self.paused |= reason

    def resume_reading(self, reasons: int) -> None:
        was = self.paused
        self.paused &= ~reasons
        if was and not self.paused and self.transport is not None and not self.closing:
            self.transport.resume_reading()

    def exchange_done(self, ex: Exchange) -> None:
        if ex is not self.active:
            return  # a queued exchange aborted with its connection
        self.active = None
        self.resume_reading(PENDING | UPSTREAM)
        self.last_active = self.loop.time()
        if ex.close_after or self.ctx.draining:
            self.close_now()
            return
        if self._advancing:
            return  # `_advance` below is already looping (no recursion per pipelined request)
        self._advancing = True
        try:
            while self.active is None and self.queue and not self.closing:
                self.active = self.queue.popleft()
                self.active.begin()
        finally:
            self._advancing = False
        if not self.queue:
            self.resume_reading(PIPELINE)

    def close_now(self) -> None:
        """Send what is queued and close; exchanges still open are aborted right away so
        their upstream connections are freed even if the client never reads again."""
        if self.closing:
            return
        self.closing = True
        self.last_active = self.loop.time()
        self._abort_all()
        self.out.close()

    def drain(self) -> None:
        """Shutdown: close now if idle, else after the exchange in flight."""
        if self.active is None and not self._in_head and not self.queue:
            self.close_now()

    def sweep(self, now: float) -> None:
        cfg = self.ctx.config
        ex = self.active
        if ex is not None:
            if ex.waiting_since and now - ex.waiting_since > cfg.response_timeout:
                ex.timeout()
        elif now - self.last_active > cfg.client_idle_timeout and self.transport is not None:
            if self.closing:  # a client that stopped reading our last bytes
                self.transport.abort()
            else:
                self.close_now()

    def _abort_all(self) -> None:
        pending = [self.active, *self.queue]
        self.queue.clear()
        for ex in pending:
            if ex is not None:
                ex.abort()

    def _bad_request(self) -> None:
        if self.active is None:
            status, code = (431, "HEAD_TOO_LARGE") if self._too_big else (400, "BAD_REQUEST")
            self.ctx.metrics.unrouted["bad_request"] += 1
            self.out.write(wire.error_response(status, code, "Malformed HTTP request.", close=True))
        self.close_now()

    def _answer_admin(self, method: bytes) -> None:
        status, content_type, body = admin.answer(self.ctx, method, self._url)
        close = not self.parser.should_keep_alive() or self.ctx.draining
        self.out.write(wire.plain_response(status, content_type, body, close=close))
        if close:
            self.close_now()
