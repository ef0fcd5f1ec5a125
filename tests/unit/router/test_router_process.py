"""`python -m app.runtime.router` as `make up` runs it: serves, and on SIGTERM stops
accepting, finishes the request in flight, flushes its metrics and exits 0."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from router_support import HOST, REDIS_URL, Upstream, free_port

from app.runtime.router.keys import RouterKeys
from app.runtime.router.table import Backend, RouteTable

pytestmark = pytest.mark.slow


async def test_entry_point_drains_on_sigterm(
    redis: Redis, keys: RouterKeys, app_a: Upstream, tmp_path: Path
) -> None:
    await RouteTable(keys).set_routes(redis, HOST, [Backend("dep-a", (app_a.address,), 100)])
    port, admin = free_port(), free_port()
    log = (tmp_path / "router.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.runtime.router", "--port", str(port), "--admin-port", str(admin),
        "--redis-url", REDIS_URL, "--key-prefix", keys.prefix, "--drain-timeout", "5",
        stdout=log, stderr=log,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(timeout=5) as c:
            for _ in range(300):
                try:
                    if (
                        await c.get(f"http://127.0.0.1:{admin}/__stratus/healthz")
                    ).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.02)
            slow = asyncio.create_task(
                c.get(f"http://127.0.0.1:{port}/slow", headers={"Host": HOST})
            )
            await asyncio.wait_for(app_a.slow_started.wait(), 5)
            proc.send_signal(signal.SIGTERM)
            r = await slow
            assert (r.status_code, r.text) == (200, "slow done")
            assert r.headers["connection"] == "close"  # draining: no keep-alive
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log.close()
    # the last flush happened on the way out
    assert await redis.hget(keys.metrics("dep-a"), "requests") == b"1", (
        tmp_path / "router.log"
    ).read_text()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
