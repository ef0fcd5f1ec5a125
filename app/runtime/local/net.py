"""Ports and health probes on the loopback interface."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Collection

from app.runtime.protocol import HealthResult

HOST = "127.0.0.1"
_ATTEMPTS = 50


def free_port(taken: Collection[int]) -> int:
    """A port nothing listens on right now and that we have not handed out ourselves.

    Bind-then-close leaves a window in which another program may take the port; the
    kernel hands out ephemeral ports round-robin, which keeps that window unlikely.
    """
    for _ in range(_ATTEMPTS):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port: int = sock.getsockname()[1]
        if port not in taken:
            return port
    raise OSError(f"no free port on {HOST} after {_ATTEMPTS} attempts")


async def probe(upstream: str, path: str, timeout: float) -> HealthResult:
    """GET ``path`` over HTTP/1.1; 2xx and 3xx are healthy.

    Raw asyncio rather than an HTTP client: no proxy settings from the environment can
    intercept it, and nothing but the status line is needed.
    """
    host, _, port = upstream.rpartition(":")
    started = time.perf_counter()
    try:
        status = await asyncio.wait_for(_status(host, int(port), path), timeout)
    except TimeoutError:
        return HealthResult(False, None, _ms(started), f"no response within {timeout:g}s")
    except (OSError, ValueError) as exc:
        return HealthResult(False, None, _ms(started), f"{type(exc).__name__}: {exc}")
    ok = 200 <= status < 400
    return HealthResult(ok, status, _ms(started), None if ok else f"HTTP {status}")


async def _status(host: str, port: int, path: str) -> int:
    if not path.startswith("/") or any(ch.isspace() or not ch.isprintable() for ch in path):
        raise ValueError(f"invalid health check path {path!r}")
    reader, writer = await asyncio.open_connection(host, port)
    try:
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: stratus-health\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n"
        )
        writer.write(request.encode("latin-1"))
        await writer.drain()
        line = await reader.readline()
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
    parts = line.decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP response: {line[:80]!r}")
    return int(parts[1])


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
