"""HTTP/1.1 wire helpers: header rewriting, the router's own JSON answers, write batching."""

from __future__ import annotations

import asyncio
from http import HTTPStatus

import orjson

Headers = list[tuple[bytes, bytes, bytes]]  # (name as sent, value, lowercase name)

# Hop-by-hop headers (RFC 9110 7.6.1) describe one connection; each side gets its own.
# Proxy-Authorization would leak the client's proxy credential to the app.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# The router is the edge: forwarding headers from the client would let it forge its address.
_CLIENT_FORWARDING = frozenset(
    {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded", b"x-real-ip"}
)
_DROP_FROM_REQUEST = HOP_BY_HOP | _CLIENT_FORWARDING
_DROP_FROM_RESPONSE = HOP_BY_HOP | {b"x-stratus-deployment"}


def _dropped(headers: Headers, base: frozenset[bytes]) -> frozenset[bytes]:
    """`base` plus any header a Connection header names (those are hop-by-hop too)."""
    extra = [
        token.strip().lower()
        for _, value, lname in headers
        if lname == b"connection"
        for token in value.split(b",")
    ]
    return base | frozenset(extra) if extra else base


def request_head(
    method: bytes,
    target: bytes,
    headers: Headers,
    *,
    forwarded: bytes,
    chunked: bool,
    upgrade: bytes | None,
) -> bytes:
    """The head sent upstream; `forwarded` holds the ready X-Forwarded-* lines."""
    drop = _dropped(headers, _DROP_FROM_REQUEST)
    out = [method, b" ", target, b" HTTP/1.1\r\n"]
    for name, value, lname in headers:
        if lname not in drop:
            out += (name, b": ", value, b"\r\n")
    out.append(forwarded)
    if chunked:
        out.append(b"Transfer-Encoding: chunked\r\n")
    if upgrade is not None:
        out += (b"Connection: upgrade\r\nUpgrade: ", upgrade, b"\r\n")
    out.append(b"\r\n")
    return b"".join(out)


def response_head(
    status: int,
    reason: bytes,
    headers: Headers,
    *,
    deployment: bytes,
    chunked: bool,
    close: bool,
    upgrade: bytes | None = None,
) -> bytes:
    drop = _dropped(headers, _DROP_FROM_RESPONSE)
    out = [b"HTTP/1.1 %d %s\r\n" % (status, reason or _reason(status))]
    for name, value, lname in headers:
        if lname not in drop:
            out += (name, b": ", value, b"\r\n")
    out += (b"X-Stratus-Deployment: ", deployment, b"\r\n")
    if chunked:
        out.append(b"Transfer-Encoding: chunked\r\n")
    if upgrade is not None:
        out += (b"Connection: upgrade\r\nUpgrade: ", upgrade, b"\r\n")
    elif close:
        out.append(b"Connection: close\r\n")
    out.append(b"\r\n")
    return b"".join(out)


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b"Unknown"


def error_response(
    status: int, code: str, message: str, *, close: bool, deployment: str | None = None
) -> bytes:
    """A complete JSON response the router answers by itself."""
    body = orjson.dumps({"error": {"code": code, "message": message}})
    head = [
        b"HTTP/1.1 %d %s\r\n" % (status, _reason(status)),
        b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body),
        b"Cache-Control: no-store\r\n",
    ]
    if deployment is not None:
        head.append(b"X-Stratus-Deployment: %s\r\n" % deployment.encode())
    if close:
        head.append(b"Connection: close\r\n")
    return b"".join([*head, b"\r\n", body])


def plain_response(status: int, content_type: bytes, body: bytes, *, close: bool) -> bytes:
    head = b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (
        status,
        _reason(status),
        content_type,
        len(body),
    )
    return head + (b"Connection: close\r\n\r\n" if close else b"\r\n") + body


def chunk(data: bytes) -> list[bytes]:
    return [b"%x\r\n" % len(data), data, b"\r\n"]


LAST_CHUNK = b"0\r\n\r\n"


class Batch:
    """Turns the writes made while one chunk of input is handled into one send per socket.

    A small exchange arrives as one read (head + body) and leaves as several writes; each
    write on its own would cost a syscall. The event loop is single-threaded, so a depth
    counter around `data_received` is enough.
    """

    __slots__ = ("depth", "dirty")

    def __init__(self) -> None:
        self.depth = 0
        self.dirty: list[Outbox] = []

    def end(self) -> None:
        self.depth -= 1
        if self.depth == 0 and self.dirty:
            dirty, self.dirty = self.dirty, []
            for box in dirty:
                box.flush()


class Outbox:
    __slots__ = ("batch", "chunks", "transport")

    def __init__(self, batch: Batch, transport: asyncio.Transport) -> None:
        self.batch = batch
        self.transport = transport
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        if self.batch.depth == 0:
            self.chunks.append(data)
            self.flush()
            return
        if not self.chunks:
            self.batch.dirty.append(self)
        self.chunks.append(data)

    def writelines(self, parts: list[bytes]) -> None:
        if self.batch.depth == 0:
            self.chunks += parts
            self.flush()
            return
        if not self.chunks:
            self.batch.dirty.append(self)
        self.chunks += parts

    def flush(self) -> None:
        if not self.chunks:
            return
        data = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        self.chunks.clear()
        if not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        """Send what is queued, then close (the transport drains its buffer first)."""
        self.flush()
        self.transport.close()
