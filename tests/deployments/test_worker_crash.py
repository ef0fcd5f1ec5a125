"""Killing the worker (SIGKILL) mid-rollout: no orphaned process, no stuck deployment,
traffic back on the release that served before."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.domain import rollout
from app.runtime.local import procs
from db.enums import DeploymentStatus
from tests.deployments.conftest import Stage

REPO = Path(__file__).resolve().parents[2]


def _release_pids(release_id: str) -> list[int]:
    return [
        pid
        for value, pids in procs.marked_processes().items()
        if value.startswith(release_id + ".")
        for pid in pids
    ]


def _worker(stage: Stage) -> subprocess.Popen[bytes]:
    s = stage.deps.settings
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(s.state_dir),
        "DATABASE_URL": s.database_url,
        "REDIS_URL": s.redis_url,
        "STRATUS_ENV": "test",
        "STRATUS_STATE_DIR": str(s.state_dir),
        "STRATUS_ROUTER_KEY_PREFIX": s.router_key_prefix,
        "STRATUS_DEPLOY_STEPS": "[20, 100]",
        "STRATUS_DEPLOY_OBSERVE_SECONDS": "60",
        "STRATUS_DEPLOY_HEALTH_INTERVAL_SECONDS": "0.1",
        "STRATUS_DEPLOY_HEARTBEAT_SECONDS": "0.5",
        "STRATUS_DEPLOY_LOST_AFTER_SECONDS": "2",
        "STRATUS_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _until(check, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_sigkill_of_the_worker_mid_rollout(stage: Stage) -> None:
    # v1 serves, run by the test's own runtime (another worker, as it were).
    v1 = await stage.roll_out(await stage.build("v1"), "IMMEDIATE")
    await stage.wait_served("v1")
    await stage.deps.redis.delete("arq:queue")  # leftovers of other tests are not ours
    worker = _worker(stage)
    try:
        v2 = await stage.deploy(await stage.build("v2"), "BLUE_GREEN")

        async def promoting() -> bool:
            row = await stage.get(v2)
            return row.status == DeploymentStatus.PROMOTING and row.traffic_weight == 20

        await _until(promoting, 60, "v2 at 20% in its observation window")
        release = (await stage.get(v2)).release_id
        assert release and _release_pids(release), "v2's processes should be running"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)

    # The worker's release processes die with it (parent-death signal): no orphans.
    async def gone() -> bool:
        return not _release_pids(release)

    await _until(gone, 10, "v2's processes to exit")
    # After the heartbeat goes stale, the reconciler settles the rollout.
    await asyncio.sleep(2.5)
    quick = stage.deps.settings.model_copy(update={"deploy_lost_after_seconds": 2})
    await rollout.reconcile(dataclasses.replace(stage.deps, settings=quick), stage.runtime)
    row = await stage.get(v2)
    assert row.status == DeploymentStatus.FAILED and row.reason == "WORKER_LOST"
    assert row.traffic_weight == 0
    assert await stage.active() == {str(v1): 100} == await stage.routed()
    await stage.wait_served("v1")
    assert not _release_pids(release)


def _router(stage: Stage, port: int) -> subprocess.Popen[bytes]:
    s = stage.deps.settings
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.runtime.router",
            "--port",
            str(port),
            "--admin-port",
            "0",
            "--redis-url",
            s.redis_url,
            "--key-prefix",
            s.router_key_prefix,
            "--reload-interval",
            "0.5",
            "--log-level",
            "WARNING",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _body(port: int, host: str) -> str:
    import httpx

    try:
        async with httpx.AsyncClient(timeout=2) as c:
            r = await c.get(f"http://127.0.0.1:{port}/", headers={"Host": host})
            return f"{r.status_code}:{r.text}"
    except httpx.HTTPError as exc:
        return type(exc).__name__


@pytest.mark.slow
async def test_sigkill_of_the_router_mid_rollout(stage: Stage) -> None:
    from tests.support.live_server import free_port

    v1 = await stage.roll_out(await stage.build("v1"), "IMMEDIATE")
    port = free_port()
    router = _router(stage, port)
    try:
        await _until(lambda: _is(port, stage.host, "200:v1"), 15, "the router to serve v1")
        slow = stage.deps.settings.model_copy(update={"deploy_observe_seconds": 3.0})
        stage.deps = dataclasses.replace(stage.deps, settings=slow)
        v2 = await stage.deploy(await stage.build("v2"), "BLUE_GREEN")
        rolling = stage.start_rollout(v2)

        async def promoting() -> bool:
            row = await stage.get(v2)
            return row.status == DeploymentStatus.PROMOTING

        await _until(promoting, 30, "v2 in its first traffic step")
        router.send_signal(signal.SIGKILL)
        router.wait(10)
        router = _router(stage, port)  # restarted, e.g. by the supervisor
        assert await asyncio.wait_for(rolling, 60) == DeploymentStatus.ACTIVE
        await _until(lambda: _is(port, stage.host, "200:v2"), 15, "the new router to serve v2")
        assert await stage.active() == {str(v2): 100} == await stage.routed()
        assert (await stage.get(v1)).status == DeploymentStatus.SUPERSEDED
    finally:
        router.send_signal(signal.SIGKILL)
        router.wait(10)


async def _is(port: int, host: str, want: str) -> bool:
    bodies = [await _body(port, host) for _ in range(5)]
    return all(b == want for b in bodies)
