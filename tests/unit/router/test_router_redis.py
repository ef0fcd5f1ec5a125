"""The router follows the Redis table written by other processes, spreads traffic by weight,
and flushes its per-deployment counters to Redis in the documented format."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter

import httpx
from redis.asyncio import Redis
from router_support import HOST, MakeRouter, Upstream

from app.runtime.router.keys import RouterKeys, window_start
from app.runtime.router.metrics import read_windows
from app.runtime.router.server import Router
from app.runtime.router.table import Backend, RouteTable, encode


async def test_weight_changes_through_redis_apply_within_a_second(
    make_router: MakeRouter, redis: Redis, keys: RouterKeys, app_a: Upstream, app_b: Upstream
) -> None:
    writer = RouteTable(keys)  # another process's view: only Redis is shared
    await writer.set_routes(redis, HOST, [Backend("dep-a", (app_a.address,), 100)])
    router = await make_router(reload_interval=30.0)  # only pub/sub can make this prompt
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{router.port}", timeout=5) as c:
        assert (await c.get("/", headers={"Host": HOST})).text == "a"
        await writer.set_routes(
            redis,
            HOST,
            [Backend("dep-a", (app_a.address,), 0), Backend("dep-b", (app_b.address,), 100)],
        )
        changed = time.monotonic()
        while (await c.get("/", headers={"Host": HOST})).text != "b":
            assert time.monotonic() - changed < 1.0, "weight change not applied within 1 s"
            await asyncio.sleep(0.01)
        await writer.remove(redis, HOST)
        removed = time.monotonic()
        while (await c.get("/", headers={"Host": HOST})).status_code != 404:
            assert time.monotonic() - removed < 1.0
            await asyncio.sleep(0.01)


async def test_periodic_reload_catches_a_change_without_a_message(
    make_router: MakeRouter, redis: Redis, keys: RouterKeys, app_a: Upstream
) -> None:
    router = await make_router(reload_interval=0.3)
    await redis.hset(keys.routes, HOST, encode([Backend("dep-a", (app_a.address,), 100)]))
    for _ in range(200):
        if router.ctx.table.lookup(HOST) is not None:
            break
        await asyncio.sleep(0.01)
    assert router.ctx.table.lookup(HOST) is not None


async def test_traffic_split_80_20_end_to_end(
    make_router: MakeRouter, redis: Redis, keys: RouterKeys, app_a: Upstream, app_b: Upstream
) -> None:
    await RouteTable(keys).set_routes(
        redis,
        HOST,
        [Backend("dep-a", (app_a.address,), 80), Backend("dep-b", (app_b.address,), 20)],
    )
    router = await make_router(rnd=random.random)  # a real run, not a seeded one
    seen: Counter[str] = Counter()
    request = f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()

    async def connection(n: int) -> None:
        # Pipelined: 500 requests in one write keep the client's own cost out of the run.
        reader, writer = await asyncio.open_connection("127.0.0.1", router.port)
        writer.write(request * n)
        got = b""
        while got.count(b"X-Stratus-Deployment: ") < n:
            got += await asyncio.wait_for(reader.read(65536), 10)
        writer.close()
        await writer.wait_closed()
        seen.update(m.decode() for m in re.findall(rb"X-Stratus-Deployment: (dep-\w)", got))

    await asyncio.gather(*(connection(500) for _ in range(4)))
    assert sum(seen.values()) == 2000
    assert 0.76 <= seen["dep-a"] / 2000 <= 0.84, seen


async def test_metrics_are_flushed_to_redis(router: Router, redis: Redis, keys: RouterKeys) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{router.port}", timeout=5) as c:
        for path in ("/", "/status/500", "/status/503", "/sized", "/status/404"):
            await c.get(path, headers={"Host": HOST})
        await c.post("/upload", content=b"z" * 1000, headers={"Host": HOST})
    await router.flush_metrics()
    totals = {k.decode(): int(v) for k, v in (await redis.hgetall(keys.metrics("dep-a"))).items()}
    assert totals["requests"] == 6
    assert totals["status_5xx"] == 2
    assert totals["status_4xx"] == 1
    assert totals["status_2xx"] == 3
    assert totals["bytes_in"] > 1000
    assert totals["bytes_out"] > 1234
    assert sum(v for k, v in totals.items() if k.startswith("latency_le_")) == 6
    now = time.time()
    window_key = keys.window("dep-a", window_start(now))
    if not await redis.exists(window_key):  # the requests ended just before a boundary
        window_key = keys.window("dep-a", window_start(now) - 10)
    window = await redis.hgetall(window_key)
    assert (int(window[b"requests"]), int(window[b"status_5xx"])) == (6, 2)
    assert 3500 < await redis.ttl(window_key) <= 3600
    summed = await read_windows(redis, keys, "dep-a", now - 30, now + 10)
    assert summed["requests"] == 6 and summed["status_5xx"] == 2
    # A second flush adds only what is new (HINCRBY of deltas, several routers add up).
    await router.flush_metrics()
    assert int(await redis.hget(keys.metrics("dep-a"), "requests")) == 6


async def test_flush_loop_runs_by_itself(router: Router, redis: Redis, keys: RouterKeys) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{router.port}", timeout=5) as c:
        await c.get("/", headers={"Host": HOST})
    for _ in range(200):  # flush_interval is 0.2 s in tests
        if await redis.hget(keys.metrics("dep-a"), "requests") == b"1":
            break
        await asyncio.sleep(0.01)
    assert await redis.hget(keys.metrics("dep-a"), "requests") == b"1"
