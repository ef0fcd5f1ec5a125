"""Routing table model: host normalization, weighted pick, validation, the Redis format."""

from __future__ import annotations

import random

import orjson
import pytest
from redis.asyncio import Redis

from app.runtime.router.keys import RouterKeys
from app.runtime.router.table import (
    Backend,
    Route,
    RouteError,
    RouteTable,
    encode,
    normalize_host,
    pick,
)

A = Backend("dep-a", ("127.0.0.1:9001",), 80)
B = Backend("dep-b", ("127.0.0.1:9002",), 20)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Shop-Production.LOCALHOST", "shop-production.localhost"),
        ("shop-production.localhost:8080", "shop-production.localhost"),
        ("shop-production.localhost.", "shop-production.localhost"),
        (" shop.localhost ", "shop.localhost"),
        ("[::1]:8080", "[::1]"),
    ],
)
def test_normalize_host(raw: str, expected: str) -> None:
    assert normalize_host(raw) == expected


def test_pick_respects_weights_with_an_injected_random() -> None:
    rnd = random.Random(42).random
    picks = [pick([A, B], rnd) for _ in range(2000)]
    share = sum(p is A for p in picks) / len(picks)
    assert 0.76 <= share <= 0.84
    assert {p for p in picks} == {A, B}


def test_pick_is_deterministic_at_the_edges() -> None:
    assert pick([A, B], lambda: 0.0) is A
    assert pick([A, B], lambda: 0.7999) is A
    assert pick([A, B], lambda: 0.8) is B
    assert pick([A, B], lambda: 0.999999) is B


def test_weight_zero_is_never_chosen() -> None:
    zero = Backend("dep-z", ("127.0.0.1:9003",), 0)
    full = Backend("dep-f", ("127.0.0.1:9004",), 100)
    for value in (0.0, 0.5, 0.9999999):
        assert pick([zero, full], lambda v=value: v) is full
        assert pick([full, zero], lambda v=value: v) is full
    assert pick([zero], lambda: 0.0) is None
    assert Route("h", [zero, full]).choose(lambda: 0.0) is full


def test_route_with_one_live_backend_needs_no_random_number() -> None:
    def boom() -> float:
        raise AssertionError("not needed")

    assert Route("h", [Backend("d", ("127.0.0.1:1",), 100)]).choose(boom).deployment_id == "d"


@pytest.mark.parametrize(
    "backends",
    [
        [],
        [Backend("a", ("127.0.0.1:1",), 60), Backend("b", ("127.0.0.1:2",), 30)],  # sums to 90
        [Backend("a", ("127.0.0.1:1",), 101)],
        [Backend("a", ("127.0.0.1:1",), 50), Backend("a", ("127.0.0.1:2",), 50)],  # repeated id
        [Backend("a", ("localhost",), 100)],  # no port
        [Backend("a", ("127.0.0.1:70000",), 100)],
    ],
)
def test_invalid_tables_are_refused(backends: list[Backend]) -> None:
    with pytest.raises(RouteError):
        encode(backends)


async def test_writers_and_router_agree_on_the_redis_format(redis: Redis, keys: RouterKeys) -> None:
    writer, reader = RouteTable(keys), RouteTable(keys)
    await writer.set_routes(redis, "Shop-Production.localhost:8080", [A, B])
    stored = await redis.hget(keys.routes, "shop-production.localhost")
    assert orjson.loads(stored) == [
        {
            "deployment_id": "dep-a",
            "upstreams": ["127.0.0.1:9001"],
            "upstream": "127.0.0.1:9001",
            "weight": 80,
        },
        {
            "deployment_id": "dep-b",
            "upstreams": ["127.0.0.1:9002"],
            "upstream": "127.0.0.1:9002",
            "weight": 20,
        },
    ]
    assert await writer.get(redis, "SHOP-production.localhost") == [A, B]
    assert await reader.load(redis) == 1
    route = reader.lookup("shop-production.localhost:80")
    assert route is not None and route.backends == (A, B)

    await writer.remove(redis, "shop-production.localhost")
    await reader.load(redis)
    assert reader.lookup("shop-production.localhost") is None
    assert await writer.get(redis, "shop-production.localhost") is None


async def test_a_malformed_host_is_skipped_not_fatal(redis: Redis, keys: RouterKeys) -> None:
    table = RouteTable(keys)
    await table.set_routes(redis, "good.localhost", [Backend("d", ("127.0.0.1:1",), 100)])
    await redis.hset(keys.routes, "bad.localhost", b"{not json")
    await redis.hset(
        keys.routes,
        "sum.localhost",
        orjson.dumps([{"deployment_id": "x", "upstream": "127.0.0.1:1", "weight": 7}]),
    )
    assert await table.load(redis) == 1
    assert table.lookup("good.localhost") is not None
    assert table.lookup("bad.localhost") is None
