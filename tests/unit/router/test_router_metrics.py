"""Metrics model: buckets, Prometheus text, flush deltas and keeping counts when Redis fails."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from router_support import free_port

from app.runtime.router.keys import RouterKeys
from app.runtime.router.metrics import BUCKET_FIELDS, Counts, Metrics, read_windows


def test_latency_lands_in_one_non_cumulative_bucket() -> None:
    c = Counts()
    for latency in (0.0004, 0.001, 0.0011, 0.3, 99.0):
        c.add(200, latency, 10, 20)
    f = c.fields()
    assert f["latency_le_1"] == 2  # bounds are inclusive
    assert f["latency_le_2.5"] == 1
    assert f["latency_le_500"] == 1
    assert f["latency_le_inf"] == 1
    assert sum(f.get(name, 0) for name in BUCKET_FIELDS) == f["requests"] == 5
    assert (f["bytes_in"], f["bytes_out"], f["status_2xx"]) == (50, 100, 5)


def test_aborted_exchanges_have_no_status_class() -> None:
    c = Counts()
    c.add(0, 0.01, 1, 0)
    assert c.fields()["aborted"] == 1
    assert not any(k.startswith("status_") for k in c.fields())


def test_prometheus_text_parses() -> None:
    m = Metrics(clock=lambda: 1_000_005.0)
    m.record('dep"1', 200, 0.002, 100, 200)
    m.record('dep"1', 502, 0.010, 100, 50)
    m.unrouted["unknown_host"] = 3
    text = m.render(
        [("g", "A gauge.", {"state": "idle"}, 1), ("g", "A gauge.", {"state": "busy"}, 2)]
    )
    families = {f.name: f for f in text_string_to_metric_families(text)}
    hist = families["stratus_router_request_duration_seconds"]
    counts = {s.labels.get("le"): s.value for s in hist.samples if s.name.endswith("_bucket")}
    assert (counts["0.001"], counts["0.0025"], counts["0.01"], counts["+Inf"]) == (0, 1, 2, 2)
    responses = {s.labels["code"]: s.value for s in families["stratus_router_responses"].samples}
    assert (responses["2xx"], responses["5xx"]) == (1, 1)
    assert families["stratus_router_requests"].samples[0].labels["deployment"] == 'dep"1'
    assert len(families["g"].samples) == 2


async def test_flush_writes_deltas_per_window(redis: Redis, keys: RouterKeys) -> None:
    now = [1_000_005.0]
    m = Metrics(clock=lambda: now[0])
    m.record("d", 200, 0.001, 1, 2)
    now[0] = 1_000_012.0  # the next 10 s window
    m.record("d", 500, 0.001, 1, 2)
    assert await m.flush(redis, keys) == 2
    assert await m.flush(redis, keys) == 0  # nothing new: nothing written twice
    assert await redis.hget(keys.metrics("d"), "requests") == b"2"
    assert await redis.hget(keys.window("d", 1_000_000), "status_2xx") == b"1"
    assert await redis.hget(keys.window("d", 1_000_010), "status_5xx") == b"1"
    both = await read_windows(redis, keys, "d", 1_000_000, 1_000_020)
    assert (both["requests"], both["status_5xx"]) == (2, 1)
    last = await read_windows(redis, keys, "d", 1_000_001, 1_000_020)  # starts at 1_000_010
    assert last["requests"] == 1


async def test_counts_survive_a_redis_outage(redis: Redis, keys: RouterKeys) -> None:
    m = Metrics()
    m.record("d", 200, 0.001, 1, 2)
    down = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    with pytest.raises((RedisConnectionError, OSError)):
        await m.flush(down, keys)
    await down.aclose()
    m.record("d", 200, 0.001, 1, 2)
    await m.flush(redis, keys)
    assert await redis.hget(keys.metrics("d"), "requests") == b"2"
