"""The proxy itself: routing by Host, forwarded headers, the router's own errors, HEAD and
304 on a kept-alive connection, pipelining and websocket pass-through."""

from __future__ import annotations

import asyncio
import re

import httpx
import orjson
from redis.asyncio import Redis
from router_support import HOST, Upstream, free_port, raw_exchange
from websockets.asyncio.client import connect

from app.runtime.router.server import Router
from app.runtime.router.table import Backend


def client(router: Router) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{router.port}", timeout=5)


async def test_routes_by_host_case_insensitive_and_ignoring_the_port(
    router: Router, redis: Redis, app_a: Upstream, app_b: Upstream
) -> None:
    await router.ctx.table.set_routes(
        redis, "other-staging.localhost", [Backend("dep-b", (app_b.address,), 100)]
    )
    await router.ctx.table.load(redis)
    async with client(router) as c:
        a = await c.get("/", headers={"Host": "Shop-Production.LOCALHOST:8080"})
        b = await c.get("/", headers={"Host": "other-staging.localhost"})
    assert (a.status_code, a.text, a.headers["x-stratus-deployment"]) == (200, "a", "dep-a")
    assert (b.status_code, b.text, b.headers["x-stratus-deployment"]) == (200, "b", "dep-b")


async def test_forwarded_headers_are_set_by_the_router(router: Router, app_a: Upstream) -> None:
    async with client(router) as c:
        r = await c.get("/", headers={"Host": f"{HOST}:8080", "X-Forwarded-For": "6.6.6.6"})
    assert r.status_code == 200
    seen = app_a.seen_headers[-1]
    assert seen[b"x-forwarded-for"] == b"127.0.0.1"  # the client's claim is not trusted
    assert seen[b"x-forwarded-proto"] == b"http"
    assert seen[b"x-forwarded-host"] == f"{HOST}:8080".encode()
    assert seen[b"host"] == f"{HOST}:8080".encode()


async def test_unknown_host_is_404_json(router: Router) -> None:
    async with client(router) as c:
        r = await c.get("/", headers={"Host": "nobody-here.localhost"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "UNKNOWN_HOST"
    assert router.ctx.metrics.unrouted["unknown_host"] == 1


async def test_host_without_live_backend_is_503(
    router: Router, redis: Redis, app_a: Upstream
) -> None:
    await router.ctx.table.set_routes(redis, HOST, [Backend("dep-a", (app_a.address,), 0)])
    await router.ctx.table.load(redis)
    async with client(router) as c:
        r = await c.get("/", headers={"Host": HOST})
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "NO_LIVE_DEPLOYMENT"


async def test_upstream_down_is_502_and_counted_as_5xx(router: Router, redis: Redis) -> None:
    await router.ctx.table.set_routes(
        redis, HOST, [Backend("dep-down", (f"127.0.0.1:{free_port()}",), 100)]
    )
    await router.ctx.table.load(redis)
    async with client(router) as c:
        r = await c.get("/", headers={"Host": HOST})
        again = await c.get("/", headers={"Host": HOST})  # the connection survives a 502
    assert r.status_code == again.status_code == 502
    assert r.json()["error"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert r.headers["x-stratus-deployment"] == "dep-down"
    counts = router.ctx.metrics.totals["dep-down"]
    assert (counts.requests, counts.status[4]) == (2, 2)


async def test_head_and_304_carry_no_body_and_keep_the_connection(router: Router) -> None:
    async with client(router) as c:
        head = await c.head("/sized", headers={"Host": HOST})
        not_modified = await c.get("/304", headers={"Host": HOST})
        after = await c.get("/sized", headers={"Host": HOST})
    assert (head.status_code, head.headers["content-length"], head.content) == (200, "1234", b"")
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    assert not_modified.headers["etag"] == '"v1"'
    assert (after.status_code, len(after.content)) == (200, 1234)
    idle, busy = router.ctx.pool.counts()
    assert (idle, busy) == (1, 0)  # one upstream connection served all three


async def test_upstream_5xx_passes_through(router: Router) -> None:
    async with client(router) as c:
        r = await c.get("/status/500", headers={"Host": HOST})
    assert (r.status_code, r.text) == (500, "status")


async def test_pipelined_requests_are_answered_in_order(router: Router) -> None:
    one = f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    two = f"GET /status/404 HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    three = b"GET /sized HTTP/1.1\r\nHost: nope.localhost\r\nConnection: close\r\n\r\n"
    got = await raw_exchange(router.port, one + two + three, until=b"UNKNOWN_HOST")
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", got)
    assert statuses == [b"200", b"404", b"404"]
    assert got.index(b"\r\n\r\na") < got.index(b"status") < got.index(b"UNKNOWN_HOST")


async def test_missing_or_repeated_host_is_400(router: Router) -> None:
    twice = f"GET / HTTP/1.1\r\nHost: {HOST}\r\nHost: other.localhost\r\n\r\n".encode()
    got = await raw_exchange(router.port, twice, until=b"}")
    assert got.startswith(b"HTTP/1.1 400 ")
    got = await raw_exchange(router.port, b"GET / HTTP/1.0\r\n\r\n", until=b"}")
    assert got.startswith(b"HTTP/1.1 400 ")
    assert orjson.loads(got.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "BAD_HOST"


async def test_malformed_request_is_400_and_closed(router: Router) -> None:
    got = await raw_exchange(router.port, b"NOT HTTP AT ALL\r\n\r\n", until=b"}")
    assert got.startswith(b"HTTP/1.1 400 ")


async def test_websocket_upgrade_passes_through(router: Router) -> None:
    # The URI gives the Host header; host/port say where to connect.
    url = f"ws://{HOST}/ws"
    async with connect(url, host="127.0.0.1", port=router.port) as ws:
        await ws.send("hello")
        assert await ws.recv() == "a:hello"
        await ws.send("again")
        assert await ws.recv() == "a:again"
    # the tunnel is counted once it ends
    for _ in range(100):
        if "dep-a" in router.ctx.metrics.totals:
            break
        await asyncio.sleep(0.01)
    assert router.ctx.metrics.totals["dep-a"].status[0] == 1  # 101 is a 1xx


async def test_admin_port_serves_prometheus_metrics(router: Router) -> None:
    async with client(router) as c:
        await c.get("/", headers={"Host": HOST})
        text = (await c.get(f"http://127.0.0.1:{router.admin_port}/__stratus/metrics")).text
        health = await c.get(f"http://127.0.0.1:{router.admin_port}/__stratus/healthz")
        routes = await c.get(f"http://127.0.0.1:{router.admin_port}/__stratus/routes")
    assert 'stratus_router_requests_total{deployment="dep-a"} 1' in text
    assert 'stratus_router_responses_total{deployment="dep-a",code="2xx"} 1' in text
    assert 'stratus_router_request_duration_seconds_count{deployment="dep-a"} 1' in text
    assert "# TYPE stratus_router_request_duration_seconds histogram" in text
    assert health.status_code == 200
    assert routes.json()[HOST][0]["deployment_id"] == "dep-a"
