"""A deployment with several replicas: every replica serves, a dead one is skipped, and the
one-replica format written by older writers still routes."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from redis.asyncio import Redis
from router_support import HOST, MakeRouter, Upstream, free_port, serve_upstream

from app.runtime.router.keys import RouterKeys
from app.runtime.router.server import Router
from app.runtime.router.table import Backend, RouteError, RouteTable, decode, encode


@contextlib.asynccontextmanager
async def replicas(n: int) -> AsyncIterator[list[Upstream]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(serve_upstream(f"r{i}")) for i in range(n)]


async def bodies(router: Router, n: int) -> Counter[str]:
    """Status and body of n requests on one kept-alive client connection."""
    out: Counter[str] = Counter()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{router.port}", timeout=5) as c:
        for _ in range(n):
            r = await c.get("/", headers={"Host": HOST})
            out[f"{r.status_code}:{r.text}"] += 1
    return out


async def routed(router: Router, redis: Redis, *backends: Backend) -> None:
    await router.ctx.table.set_routes(redis, HOST, list(backends))
    await router.ctx.table.load(redis)


async def test_every_replica_of_a_deployment_gets_requests(
    make_router: MakeRouter, redis: Redis
) -> None:
    router = await make_router()
    async with replicas(3) as ups:
        await routed(router, redis, Backend("dep-a", tuple(u.address for u in ups), 100))
        got = await bodies(router, 30)
    assert set(got) == {"200:r0", "200:r1", "200:r2"}, got
    assert sum(got.values()) == 30
    # Counted per deployment, not per replica.
    assert set(router.ctx.metrics.totals) == {"dep-a"}
    assert router.ctx.metrics.totals["dep-a"].requests == 30


async def test_weights_pick_the_deployment_then_its_replicas_share_it(
    make_router: MakeRouter, redis: Redis, app_b: Upstream
) -> None:
    router = await make_router()
    async with replicas(2) as ups:
        await routed(
            router,
            redis,
            Backend("dep-a", tuple(u.address for u in ups), 50),
            Backend("dep-b", (app_b.address,), 50),
        )
        got = await bodies(router, 200)
    assert set(got) == {"200:r0", "200:r1", "200:b"}, got
    share_a = (got["200:r0"] + got["200:r1"]) / 200
    assert 0.35 <= share_a <= 0.65, got


async def test_a_replica_that_refuses_connections_is_skipped(
    make_router: MakeRouter, redis: Redis
) -> None:
    router = await make_router()
    dead = f"127.0.0.1:{free_port()}"
    async with replicas(2) as (r0, r1):
        await routed(router, redis, Backend("dep-a", (r0.address, dead, r1.address), 100))
        got = await bodies(router, 12)
    assert set(got) == {"200:r0", "200:r1"}, got
    counts = router.ctx.metrics.totals["dep-a"]
    assert (counts.requests, counts.status[4]) == (12, 0)


async def test_a_replica_stopped_after_serving_is_skipped(
    make_router: MakeRouter, redis: Redis
) -> None:
    """What a rolling update does to a router that has not reloaded yet: the pool holds
    kept-alive connections to a replica that then stops."""
    router = await make_router()
    async with replicas(2) as (r0, r1):
        async with serve_upstream("r2") as r2:
            await routed(router, redis, Backend("dep-a", (r0.address, r1.address, r2.address), 100))
            assert set(await bodies(router, 9)) == {"200:r0", "200:r1", "200:r2"}
        got = await bodies(router, 12)
    assert set(got) == {"200:r0", "200:r1"}, got


async def test_all_replicas_down_is_502(make_router: MakeRouter, redis: Redis) -> None:
    router = await make_router()
    dead = tuple(f"127.0.0.1:{free_port()}" for _ in range(3))
    await routed(router, redis, Backend("dep-down", dead, 100))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{router.port}", timeout=5) as c:
        r = await c.get("/", headers={"Host": HOST})
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "UPSTREAM_UNAVAILABLE"


async def test_the_one_replica_format_still_routes(
    make_router: MakeRouter, redis: Redis, keys: RouterKeys, app_a: Upstream
) -> None:
    """Entries written before `upstreams` existed (a router upgraded before its writers)."""
    old = [{"deployment_id": "dep-a", "upstream": app_a.address, "weight": 100}]
    await redis.hset(keys.routes, HOST, orjson.dumps(old))
    router = await make_router()
    assert await RouteTable(keys).get(redis, HOST) == [Backend("dep-a", (app_a.address,), 100)]
    assert await bodies(router, 3) == Counter({"200:a": 3})


def test_writers_keep_the_one_replica_field_for_older_routers() -> None:
    raw = encode([Backend("dep-a", ("127.0.0.1:1", "127.0.0.1:2"), 100)])
    [item] = orjson.loads(raw)
    assert item["upstreams"] == ["127.0.0.1:1", "127.0.0.1:2"]
    assert item["upstream"] == "127.0.0.1:1"
    assert decode(raw) == [Backend("dep-a", ("127.0.0.1:1", "127.0.0.1:2"), 100)]


def _entry(upstreams: object) -> bytes:
    return orjson.dumps([{"deployment_id": "d", "upstreams": upstreams, "weight": 100}])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_entry([]), "needs 1..32 upstreams, got 0"),
        (_entry([f"127.0.0.1:{9000 + i}" for i in range(33)]), "needs 1..32 upstreams, got 33"),
        (_entry(["127.0.0.1:1", "127.0.0.1:1"]), "repeat an address"),
        (_entry("127.0.0.1:1"), "is not a list"),
        (_entry(["127.0.0.1:1", 9002]), "must be a list of host:port strings"),
        (_entry(["127.0.0.1:1", "localhost"]), "'localhost' of d is not host:port"),
        (_entry(["127.0.0.1:0"]), "is not host:port"),
        (orjson.dumps([{"deployment_id": "d", "weight": 100}]), "not a JSON list of backends"),
    ],
)
def test_bad_upstreams_are_refused_with_a_reason(raw: bytes, message: str) -> None:
    with pytest.raises(RouteError, match=message):
        decode(raw)


def test_a_plain_string_is_not_taken_for_a_list_of_replicas() -> None:
    with pytest.raises(RouteError, match="list of host:port strings"):
        encode([Backend("d", "127.0.0.1:1", 100)])  # type: ignore[arg-type]
