"""ROLLING with real processes behind a real router: replicas are replaced one batch at a
time, capacity never drops below N - max_unavailable, a failing batch puts the old release
back at full strength, and without a comparable base it switches at once."""

from __future__ import annotations

import asyncio
import shlex
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from app.ids import parse_id
from app.runtime.protocol import ProcessState
from app.runtime.router.table import RouteTable
from db import models
from db.enums import DeploymentEventKind, DeploymentStatus
from tests.deployments.conftest import Stage

APP = shlex.join([sys.executable, "-u", "app.py", "--version"])


async def build(stage: Stage, version: str, *, sick_after_first: bool = False) -> str:
    """A build of the test app that answers `<version>@<port>`, so a response names the
    replica that served it. `sick_after_first`: only the release's first replica to start
    passes health checks (mkdir is atomic: exactly one wins)."""
    gid = await stage.build(version)
    command = f'exec {APP} "{version}@$PORT"'
    if sick_after_first:
        command = f'if mkdir "$HOME/first"; then {command}; else {command} --unhealthy; fi'
    async with stage.deps.sessionmaker() as s, s.begin():
        row = await s.get(models.Build, parse_id(gid, "Build"))
        assert row is not None
        row.start_command = command
    return gid


def ports(upstreams: list[str] | None) -> set[str]:
    return {u.rsplit(":", 1)[1] for u in upstreams or []}


async def served_by(stage: Stage, n: int) -> Counter[str]:
    """`status:version@port` of n requests through the router."""
    out: Counter[str] = Counter()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stage.router_port}") as c:
        for _ in range(n):
            r = await c.get("/", headers={"Host": stage.host})
            out[f"{r.status_code}:{r.text}"] += 1
    return out


async def wait_spread(stage: Stage, version: str, upstreams: list[str] | None) -> None:
    """Until requests reach exactly the given replicas of `version` (the router reloads)."""
    want = {f"200:{version}@{port}" for port in ports(upstreams)}
    for _ in range(50):
        if set(await served_by(stage, 30)) == want:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never served by exactly {want}: {await served_by(stage, 30)}")


@dataclass
class Watch:
    """What the runtime, the router's table and a client saw while a rollout ran."""

    running: list[int] = field(default_factory=list)  # replicas of both releases
    routed: list[int] = field(default_factory=list)  # replicas the router may send to
    answers: Counter[str] = field(default_factory=Counter)


async def watch(stage: Stage, releases: set[str], until: asyncio.Task[object]) -> Watch:
    seen = Watch()
    table = RouteTable(stage.keys)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stage.router_port}") as c:
        while not until.done():
            states = await stage.runtime.list_releases()
            seen.running.append(
                sum(
                    1
                    for st in states
                    if st.release_id in releases
                    for rep in st.replicas
                    if rep.state == ProcessState.RUNNING
                )
            )
            backends = await table.get(stage.deps.redis, stage.host) or []
            seen.routed.append(sum(len(b.upstreams) for b in backends if b.weight > 0))
            r = await c.get("/", headers={"Host": stage.host})
            seen.answers[f"{r.status_code}:{r.text.split('@')[0]}"] += 1
            await asyncio.sleep(0.01)
    return seen


async def release_of(stage: Stage, deployment_id: uuid.UUID) -> str:
    release = (await stage.get(deployment_id)).release_id
    assert release is not None
    return release


async def test_rolling_replaces_one_replica_at_a_time(stage: Stage) -> None:
    v1 = await stage.roll_out(await build(stage, "v1"), "IMMEDIATE", replicas=3)
    old = await stage.get(v1)
    assert old.upstreams is not None and len(old.upstreams) == 3
    await wait_spread(stage, "v1", old.upstreams)

    v2 = await stage.deploy(await build(stage, "v2"), "ROLLING", replicas=3)
    rollout = stage.start_rollout(v2)
    watcher = asyncio.create_task(
        watch(stage, {await release_of(stage, v1), f"d{v2.hex}"}, rollout)
    )
    assert await asyncio.wait_for(rollout, 60) == DeploymentStatus.ACTIVE
    seen = await watcher

    events = await stage.events(v2)
    batches = [e.payload for e in events if "replaced" in e.payload]
    assert batches == [{"replaced": k, "of": 3} for k in (1, 2, 3)]
    # Each batch was health-checked before its replicas got traffic.
    health = [e.seq for e in events if e.kind == DeploymentEventKind.HEALTH]
    batch_seqs = [e.seq for e in events if "replaced" in e.payload]
    assert all(any(h < b for h in health) for b in batch_seqs) and len(health) >= 3
    # max_unavailable = 1: never fewer than 2 replicas running or routed, never more than 4.
    assert seen.running and min(seen.running) >= 2 and max(seen.running) <= 4, seen.running
    assert min(seen.routed) >= 2, seen.routed
    assert set(seen.answers) <= {"200:v1", "200:v2"}, seen.answers

    new, old = await stage.get(v2), await stage.get(v1)
    assert new.status == DeploymentStatus.ACTIVE and new.upstreams and len(new.upstreams) == 3
    assert old.status == DeploymentStatus.SUPERSEDED and old.upstreams is None
    assert "cannot be rolled back to instantly" in str((await stage.events(v1))[-1].message)
    assert await stage.active() == {str(v2): 100} == await stage.routed()
    await wait_spread(stage, "v2", new.upstreams)  # all traffic on v2, over its 3 replicas
    running = {s.release_id: len(s.replicas) for s in await stage.runtime.list_releases()}
    assert running == {f"d{v2.hex}": 3}


async def test_a_batch_that_never_gets_healthy_leaves_the_old_release_whole(
    stage: Stage,
) -> None:
    stage.deps.settings.deploy_health_retries = 5
    v1 = await stage.roll_out(await build(stage, "v1"), "IMMEDIATE", replicas=3)
    await wait_spread(stage, "v1", (await stage.get(v1)).upstreams)

    # The first batch (one replica) is healthy; the second batch's replica never is.
    v2 = await stage.deploy(await build(stage, "v2", sick_after_first=True), "ROLLING", replicas=3)
    assert await asyncio.wait_for(stage.start_rollout(v2), 60) == DeploymentStatus.FAILED

    new = await stage.get(v2)
    assert new.reason == "HEALTH_CHECK_FAILED" and new.traffic_weight == 0
    assert new.upstreams is None
    batches = [e.payload for e in await stage.events(v2) if "replaced" in e.payload]
    assert batches == [{"replaced": 1, "of": 3}]
    old = await stage.get(v1)
    assert old.status == DeploymentStatus.ACTIVE and old.upstreams and len(old.upstreams) == 3
    assert await stage.active() == {str(v1): 100} == await stage.routed()
    await wait_spread(stage, "v1", old.upstreams)
    running = {s.release_id: len(s.replicas) for s in await stage.runtime.list_releases()}
    assert running == {str(old.release_id): 3}


async def test_without_a_base_of_the_same_size_rolling_switches_at_once(stage: Stage) -> None:
    v1 = await stage.roll_out(await build(stage, "v1"), "ROLLING", replicas=2)  # no base
    assert (await stage.get(v1)).status == DeploymentStatus.ACTIVE
    v2 = await stage.roll_out(await build(stage, "v2"), "ROLLING", replicas=3)
    new, old = await stage.get(v2), await stage.get(v1)
    assert new.status == DeploymentStatus.ACTIVE and new.upstreams and len(new.upstreams) == 3
    assert not [e for e in await stage.events(v2) if "replaced" in e.payload]
    # Nothing was scaled down: the old release stays warm for an instant rollback.
    assert old.status == DeploymentStatus.SUPERSEDED and old.upstreams and len(old.upstreams) == 2
    await wait_spread(stage, "v2", new.upstreams)
