"""Router fixtures: a real Redis (REDIS_URL or db 12 on localhost) under a key prefix of
each test's own, two tiny upstream apps, and an in-process router on free ports."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from router_support import HOST, REDIS_URL, MakeRouter, Upstream, serve_upstream

from app.runtime.router.context import RouterConfig
from app.runtime.router.keys import RouterKeys
from app.runtime.router.server import Router
from app.runtime.router.table import Backend


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def keys(redis: Redis) -> AsyncIterator[RouterKeys]:
    keys = RouterKeys(f"stratus:router:test:{uuid.uuid4().hex[:12]}")
    yield keys
    stale = [key async for key in redis.scan_iter(match=f"{keys.prefix}:*")]
    if stale:
        await redis.delete(*stale)


@pytest.fixture
async def app_a() -> AsyncIterator[Upstream]:
    async with serve_upstream("a") as up:
        yield up


@pytest.fixture
async def app_b() -> AsyncIterator[Upstream]:
    async with serve_upstream("b") as up:
        yield up


@pytest.fixture
async def make_router(redis: Redis, keys: RouterKeys) -> AsyncIterator[MakeRouter]:
    routers: list[Router] = []

    async def make(**overrides: Any) -> Router:
        options: dict[str, Any] = {
            "port": 0,
            "admin_port": 0,
            "keys": keys,
            "reload_interval": 0.5,
            "flush_interval": 0.2,
            "drain_timeout": 2.0,
        }
        options.update(overrides)
        rnd = options.pop("rnd", None) or random.Random(1234).random
        router = Router(RouterConfig(**options), redis, rnd=rnd)
        await router.start()
        routers.append(router)
        return router

    yield make
    for router in routers:
        await router.stop(drain_timeout=1.0)


@pytest.fixture
async def router(
    make_router: MakeRouter, redis: Redis, keys: RouterKeys, app_a: Upstream
) -> Router:
    """A router with HOST -> app "a" (deployment "dep-a") at weight 100."""
    r = await make_router()
    await r.ctx.table.set_routes(redis, HOST, [Backend("dep-a", (app_a.address,), 100)])
    await r.ctx.table.load(redis)
    return r
