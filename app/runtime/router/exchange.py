"""One request/response exchange between a client connection and an app.

The exchange is driven by callbacks from both sides: the client connection feeds it the
request (head, body chunks, end), the upstream connection feeds it the response. Bodies
are passed on chunk by chunk as they arrive and never collected; backpressure travels the
other way through pause/resume of the reading side (see `ClientConnection`).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from app.runtime.router import wire
from app.runtime.router.table import Backend
from app.runtime.router.upstream import BodyKind, UpstreamConnection

if TYPE_CHECKING:
    from app.runtime.router.client import ClientConnection

log = logging.getLogger(__name__)

PENDING, UPSTREAM, PIPELINE = 1, 2, 4  # why the client connection stopped reading
_RETRYABLE = frozenset({b"GET", b"HEAD", b"OPTIONS"})


class Exchange:
    __slots__ = (
        "backend", "body_kind", "bytes_in", "bytes_out", "chunked_in", "chunked_out",
        "close_after", "conn", "ctx", "deployment", "deployment_b", "finished", "has_body",
        "head", "host", "http11", "method", "pending", "pending_size", "replica",
        "replicas_tried", "request_done", "retried", "status", "t0", "t_head", "target",
        "tunnel", "upgrade", "upstream", "waiting_since",
    )  # fmt: skip

    def __init__(
        self,
        conn: ClientConnection,
        method: bytes,
        head: bytes,
        host: str,
        *,
        head_size: int,
        keep_alive: bool,
        http11: bool,
        has_body: bool,
        chunked: bool,
        upgrade: bytes | None,
    ) -> None:
        self.conn = conn
        self.ctx = conn.ctx
        self.method = method
        self.head = head  # kept for one retry on a stale pooled connection
        self.host = host
        self.http11 = http11
        self.has_body = has_body
        self.chunked_in = chunked
        self.upgrade = upgrade
        self.request_done = not has_body
        # HTTP/1.0 clients get close-delimited answers: no chunked encoding, no keep-alive.
        self.close_after = not (keep_alive and http11) or upgrade is not None
        self.t0 = self.t_head = time.perf_counter()
        self.bytes_in = head_size
        self.bytes_out = 0
        self.deployment: str | None = None
        self.deployment_b = b""
        self.backend: Backend | None = None
        self.replica = 0  # index into backend.upstreams of `target`
        self.replicas_tried = 0
        self.target = ""
        self.upstream: UpstreamConnection | None = None
        self.pending: list[bytes] = [head]
        self.pending_size = len(head)
        self.status = 0
        self.body_kind: BodyKind = "none"
        self.chunked_out = False
        self.waiting_since = 0.0  # loop time; nonzero while a response head is awaited
        self.finished = self.retried = self.tunnel = False

    # -- request side (called by the client connection) ------------------------------------

    def begin(self) -> None:
        ctx = self.ctx
        if self.method == b"CONNECT":  # a forward-proxy verb: there is nothing to tunnel to
            self.close_after = True
            self.reply(405, "METHOD_NOT_ALLOWED", "CONNECT is not supported.")
            return
        if not self.host:
            ctx.metrics.unrouted["bad_request"] += 1
            self.reply(400, "BAD_HOST", "The request needs exactly one Host header.")
            return
        route = ctx.table.lookup(self.host)
        if route is None:
            ctx.metrics.unrouted["unknown_host"] += 1
            self.reply(404, "UNKNOWN_HOST", f"No deployment serves the host {self.host!r}.")
            return
        backend = route.choose(ctx.rnd)
        if backend is None:
            ctx.metrics.unrouted["no_backend"] += 1
            self.reply(503, "NO_LIVE_DEPLOYMENT", f"No live deployment for {self.host!r}.")
            return
        self.deployment = backend.deployment_id
        self.deployment_b = backend.deployment_id.encode()
        self.backend = backend
        self.replica = backend.first_choice()
        self.replicas_tried = 1
        self.target = backend.upstreams[self.replica]
        if self.request_done:
            self.waiting_since = self.conn.loop.time()
        ctx.pool.acquire(self.target, self)

    def request_body(self, data: bytes) -> None:
        self.bytes_in += len(data)
        if not self.finished:
            self._send(wire.chunk(data) if self.chunked_in else [data])

    def request_end(self) -> None:
        self.request_done = True
        if self.finished or self.deployment is None:
            return
        if self.chunked_in:
            self._send([wire.LAST_CHUNK])
        if self.status == 0:
            # The response timeout runs from the end of the request, not its start: a slow
            # upload is not a slow app.
            self.waiting_since = self.conn.loop.time()

    def client_raw(self, data: bytes) -> None:
        """Bytes after an upgrade request: websocket frames, passed on untouched."""
        self.bytes_in += len(data)
        if not self.finished:
            self._send([data])

    def _send(self, parts: list[bytes]) -> None:
        if self.upstream is not None:
            self.upstream.write(parts)
            return
        self.pending += parts
        self.pending_size += sum(len(p) for p in parts)
        if self.pending_size > self.ctx.config.max_pending_bytes:
            self.conn.pause_reading(PENDING)

    # -- upstream side (the Sink protocol) -------------------------------------------------

    def upstream_ready(self, conn: UpstreamConnection) -> None:
        if self.finished:
            self.ctx.pool.release(conn)  # the client left while we connected: keep it
            return
        self.upstream = conn
        conn.attach(self, head_only=self.method == b"HEAD")
        if self.conn.write_paused:
            conn.pause_reading(True)
        pending, self.pending, self.pending_size = self.pending, [], 0
        conn.write(pending)
        self.conn.resume_reading(PENDING)

    def upstream_failed(self, error: str) -> None:
        if self.finished:
            return
        backend = self.backend
        if backend is not None and self.replicas_tried < len(backend.upstreams):
            # Nothing reached the app (the connect failed), so any request may go to the
            # deployment's next replica: one stopped or crashed replica must not cost a 502
            # while its siblings serve.
            log.info(
                "router: %s (deployment %s) replica unreachable, trying the next: %s",
                self.host,
                self.deployment,
                error,
            )
            self.replicas_tried += 1
            self.replica = (self.replica + 1) % len(backend.upstreams)
            self.target = backend.upstreams[self.replica]
            self.ctx.pool.acquire(self.target, self)
            return
        log.warning("router: %s (deployment %s) unreachable: %s", self.host, self.deployment, error)
        self.reply(502, "UPSTREAM_UNAVAILABLE", "The deployment is not accepting connections.")

    def upstream_backpressure(self, paused: bool) -> None:
        if paused:
            self.conn.pause_reading(UPSTREAM)
        else:
            self.conn.resume_reading(UPSTREAM)

    def response_head(
        self, status: int, reason: bytes, headers: wire.Headers, body: BodyKind, keep_alive: bool
    ) -> None:
        if self.finished:
            return
        if status == 101:
            self._upgraded(reason, headers)
            return
        if status < 200:  # 100 Continue, 103 Early Hints: pass on, keep waiting
            if self.http11:
                self._head(status, reason, headers, chunked=False, close=False)
            return
        self.status, self.body_kind, self.waiting_since = status, body, 0.0
        if not self.request_done or self.ctx.draining:
            self.close_after = True
        if body in ("chunked", "eof"):
            # Re-chunk for HTTP/1.1 so the client connection survives an unknown length.
            self.chunked_out = self.http11
            self.close_after = self.close_after or not self.http11
        self._head(status, reason, headers, chunked=self.chunked_out, close=self.close_after)

    def _upgraded(self, reason: bytes, headers: wire.Headers) -> None:
        if self.upgrade is None:  # a 101 nobody asked for: the app is confused
            self._drop_upstream()
            self.reply(502, "UPSTREAM_PROTOCOL_ERROR", "The deployment sent an unexpected upgrade.")
            return
        value = next((v for _, v, lname in headers if lname == b"upgrade"), self.upgrade)
        self.status, self.waiting_since, self.t_head = 101, 0.0, time.perf_counter()
        self._head(101, reason, headers, chunked=False, close=False, upgrade=value)
        self.tunnel = True

    def _head(self, status: int, reason: bytes, headers: wire.Headers, **framing: Any) -> None:
        self._write(
            wire.response_head(status, reason, headers, deployment=self.deployment_b, **framing)
        )

    def response_body(self, data: bytes) -> None:
        if self.finished:
            return
        self.bytes_out += len(data)
        if self.chunked_out:
            self.conn.out.writelines(wire.chunk(data))
        else:
            self.conn.out.write(data)

    def tunnel_data(self, data: bytes) -> None:
        if self.tunnel and not self.finished:
            self.bytes_out += len(data)
            self.conn.out.write(data)

    def response_end(self) -> None:
        if self.finished:
            return
        if self.chunked_out:
            self.conn.out.write(wire.LAST_CHUNK)
        up, self.upstream = self.upstream, None
        if up is not None:
            if self.request_done and up.keep_alive:
                self.ctx.pool.release(up)
            else:  # the app answered before reading the whole request: out of step
                up.close()
        self.close_after = self.close_after or not self.request_done
        self._finish()

    def upstream_lost(self, conn: UpstreamConnection) -> None:
        if self.finished or conn is not self.upstream:
            return
        self.upstream = None
        if self.tunnel:
            self.close_after = True
            self._finish()
        elif self.status == 0:
            if (
                conn.uses > 1
                and not self.has_body
                and not self.retried
                and self.method in _RETRYABLE
            ):
                # A pooled connection the app closed while idle (its keep-alive timeout):
                # the request most likely never reached it. One retry on a fresh socket.
                self.retried = True
                self.pending, self.pending_size = [self.head], len(self.head)
                self.ctx.pool.acquire(self.target, self, fresh=True)
            else:
                self.reply(
                    502,
                    "UPSTREAM_CLOSED",
                    "The deployment closed the connection without answering.",
                )
        elif self.body_kind == "eof":
            self.response_end()  # a close-delimited body ends exactly like this
        else:
            # Cut the client off too: a short body that looked complete would be worse.
            self.close_after = True
            self._finish()

    # -- endings ---------------------------------------------------------------------------

    def reply(self, status: int, code: str, message: str) -> None:
        """Answer from the router itself (nothing of the app's answer was sent yet)."""
        self.pending, self.pending_size = [], 0
        self.status = status
        self.close_after = self.close_after or not self.request_done or self.ctx.draining
        self._write(
            wire.error_response(
                status, code, message, close=self.close_after, deployment=self.deployment
            )
        )
        self._finish()

    def timeout(self) -> None:
        """No response head within the response timeout."""
        if not self.finished and self.status == 0:
            self._drop_upstream()
            self.reply(504, "UPSTREAM_TIMEOUT", "The deployment did not answer in time.")

    def abort(self) -> None:
        """The client connection is gone: free the upstream, count the exchange."""
        if self.finished:
            return
        self._drop_upstream()
        if not self.tunnel:
            self.status = 0
        self._finish()

    def _drop_upstream(self) -> None:
        up, self.upstream = self.upstream, None
        if up is not None:
            up.close()  # mid-exchange: never back to the pool

    def _write(self, data: bytes) -> None:
        self.bytes_out += len(data)
        self.conn.out.write(data)

    def _finish(self) -> None:
        self.finished = True
        self.waiting_since = 0.0
        if self.deployment is not None:
            end = self.t_head if self.tunnel else time.perf_counter()
            self.ctx.metrics.record(
                self.deployment, self.status, end - self.t0, self.bytes_in, self.bytes_out
            )
        self.conn.exchange_done(self)
