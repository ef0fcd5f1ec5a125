"""The admin listener's answers: metrics, health and the current routing table.

A port of its own (loopback by default) rather than a path on the public port: a path
would shadow the same path of every app and publish the metrics of all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from app.runtime.router.table import to_json

if TYPE_CHECKING:
    from app.runtime.router.context import Context

PROMETHEUS = b"text/plain; version=0.0.4; charset=utf-8"
JSON = b"application/json"


def answer(ctx: Context, method: bytes, url: bytes) -> tuple[int, bytes, bytes]:
    """(status, content type, body) for one admin request."""
    path = url.split(b"?", 1)[0]
    if method != b"GET":
        return 405, JSON, orjson.dumps({"error": {"code": "METHOD_NOT_ALLOWED"}})
    if path in (b"/__stratus/metrics", b"/metrics"):
        return 200, PROMETHEUS, render_metrics(ctx).encode()
    if path in (b"/__stratus/healthz", b"/healthz"):
        status = 503 if ctx.draining else 200
        return status, JSON, orjson.dumps({"ok": not ctx.draining, "hosts": len(ctx.table.hosts())})
    if path == b"/__stratus/routes":
        routes = {
            host: [to_json(b) for b in backends] for host, backends in ctx.table.hosts().items()
        }
        return 200, JSON, orjson.dumps(routes, option=orjson.OPT_SORT_KEYS)
    return 404, JSON, orjson.dumps({"error": {"code": "NOT_FOUND"}})


def render_metrics(ctx: Context) -> str:
    idle, busy = ctx.pool.counts()
    return ctx.metrics.render(
        [
            (
                "stratus_router_upstream_connections",
                "Pooled upstream connections.",
                {"state": "idle"},
                idle,
            ),
            (
                "stratus_router_upstream_connections",
                "Pooled upstream connections.",
                {"state": "busy"},
                busy,
            ),
            (
                "stratus_router_client_connections",
                "Open client connections.",
                {},
                len(ctx.connections),
            ),
            ("stratus_router_hosts", "Hosts in the routing table.", {}, len(ctx.table.hosts())),
        ]
    )
