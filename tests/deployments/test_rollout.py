"""Rollouts with real processes behind a real router: blue-green steps, instant rollback,
health-check failures, automatic rollback on errors, canary weights."""

from __future__ import annotations

import asyncio
import uuid

from app.domain import build_runner, deploy_events, rollout
from app.ids import parse_id
from db import models
from db.enums import DeploymentEventKind, DeploymentStatus
from tests.deployments.conftest import Stage
from tests.support.api import user_error_codes

ROLLBACK = """mutation($d: ID!) { rollbackDeployment(input: {deploymentId: $d}) {
  deployment { id status trafficWeight } serving { id trafficWeight }
  userErrors { code message field } } }"""
SPLIT = """mutation($d: ID!, $w: Int!) { setTrafficSplit(input: {deploymentId: $d, weight: $w}) {
  deployment { trafficWeight } userErrors { code message field } } }"""
PROMOTE = """mutation($d: ID!) { promoteDeployment(input: {deploymentId: $d}) {
  deployment { status trafficWeight } userErrors { code message field } } }"""


def gid(deployment_id: uuid.UUID) -> str:
    from app.ids import to_global_id

    return to_global_id("Deployment", deployment_id)


async def test_blue_green_steps_then_instant_rollback(stage: Stage) -> None:
    v1 = await stage.roll_out(await stage.build("v1"), "IMMEDIATE")
    assert (await stage.get(v1)).status == DeploymentStatus.ACTIVE
    await stage.wait_served("v1")
    assert await stage.active() == {str(v1): 100} == await stage.routed()

    v2 = await stage.deploy(await stage.build("v2"), "BLUE_GREEN")
    seen: list[deploy_events.DeployEvent] = []
    splits: list[tuple[dict[str, int], dict[str, int]]] = []

    async def watch() -> None:
        async for event in deploy_events.follow(
            stage.deps.sessionmaker, stage.deps.events, v2, after=0
        ):
            seen.append(event)
            if event.kind == DeploymentEventKind.TRAFFIC and event.payload["to"] < 100:
                # Inside the step's observation window: the router has been written (the
                # route follows each commit, DB first) and nothing moves until it ends.
                await asyncio.sleep(0.2)
                splits.append((await stage.active(), await stage.routed()))

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    assert await asyncio.wait_for(stage.start_rollout(v2), 60) == DeploymentStatus.ACTIVE
    await asyncio.wait_for(watcher, 10)  # completes at the terminal status

    steps = [e.payload["to"] for e in seen if e.kind == DeploymentEventKind.TRAFFIC]
    assert steps == [20, 100]
    assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
    assert seen[-1].status == DeploymentStatus.ACTIVE
    # The DB (activeDeployments) and the router's table agreed at every step.
    assert splits == [({str(v1): 80, str(v2): 20},) * 2]
    await stage.wait_served("v2")
    old = await stage.get(v1)
    assert old.status == DeploymentStatus.SUPERSEDED and old.upstreams

    # A resumed subscription gets only what came after its cursor.
    tail = [
        e.seq
        async for e in deploy_events.follow(
            stage.deps.sessionmaker, stage.deps.events, v2, after=seen[-3].seq
        )
    ]
    assert tail == [seen[-2].seq, seen[-1].seq]

    data = await stage.api.ok(ROLLBACK, {"d": gid(v1)}, token=stage.account.token)
    payload = data["rollbackDeployment"]
    assert payload["deployment"]["status"] == "ACTIVE"
    assert [s["trafficWeight"] for s in payload["serving"]] == [100]
    assert await stage.active() == {str(v1): 100} == await stage.routed()
    await stage.wait_served("v1", timeout=2.0)
    assert (await stage.get(v2)).status == DeploymentStatus.SUPERSEDED


async def test_unhealthy_release_never_gets_traffic(stage: Stage) -> None:
    stage.deps.settings.deploy_health_retries = 5
    v1 = await stage.roll_out(await stage.build("v1"), "IMMEDIATE")
    v2 = await stage.deploy(await stage.build("v2", unhealthy=True), "BLUE_GREEN")
    assert await asyncio.wait_for(stage.start_rollout(v2), 30) == DeploymentStatus.FAILED
    row = await stage.get(v2)
    assert row.reason == "HEALTH_CHECK_FAILED" and row.traffic_weight == 0
    kinds = [e.kind for e in await stage.events(v2)]
    assert DeploymentEventKind.TRAFFIC not in kinds
    assert await stage.active() == {str(v1): 100} == await stage.routed()
    await stage.wait_served("v1")
    assert not [s for s in await stage.runtime.list_releases() if s.release_id == row.release_id]


async def test_error_rate_during_observation_rolls_back(stage: Stage) -> None:
    stage.deps.settings.deploy_steps = [50, 100]
    stage.deps.settings.deploy_observe_seconds = 4.0
    v1 = await stage.roll_out(await stage.build("v1"), "IMMEDIATE")
    await stage.wait_served("v1")
    v2 = await stage.deploy(await stage.build("v2", errors=True), "BLUE_GREEN")
    rollout = stage.start_rollout(v2)

    async def load() -> None:
        while not rollout.done():
            await stage.hits(5)
            await asyncio.sleep(0.05)

    loader = asyncio.create_task(load())
    assert await asyncio.wait_for(rollout, 30) == DeploymentStatus.ROLLED_BACK
    await loader
    row = await stage.get(v2)
    assert row.reason == "ERROR_RATE" and row.traffic_weight == 0
    [event] = [e for e in await stage.events(v2) if e.kind == DeploymentEventKind.ROLLBACK]
    assert event.payload["requests"] >= 5 and event.payload["errorRate"] > 0.05
    assert await stage.active() == {str(v1): 100} == await stage.routed()
    await stage.wait_served("v1")


async def test_canary_weights_split_and_promote(stage: Stage) -> None:
    v1 = await stage.roll_out(await stage.build("v1"), "IMMEDIATE")
    v2 = await stage.deploy(await stage.build("v2"), "CANARY", canaryWeight=30)
    assert await asyncio.wait_for(stage.start_rollout(v2), 30) == DeploymentStatus.VERIFYING
    assert await stage.active() == {str(v1): 70, str(v2): 30} == await stage.routed()
    await asyncio.sleep(0.7)  # past the router's reload period
    got = await stage.hits(400)
    assert abs(got["200:v2"] / 400 - 0.30) < 0.08, got

    bad = await stage.api.payload(SPLIT, {"d": gid(v2), "w": 101}, token=stage.account.token)
    assert user_error_codes(bad) == ["INVALID_WEIGHTS"]
    await stage.api.ok(SPLIT, {"d": gid(v2), "w": 80}, token=stage.account.token)
    assert await stage.active() == {str(v2): 80, str(v1): 20} == await stage.routed()
    await asyncio.sleep(0.7)
    got = await stage.hits(400)
    assert abs(got["200:v2"] / 400 - 0.80) < 0.08, got

    data = await stage.api.ok(PROMOTE, {"d": gid(v2)}, token=stage.account.token)
    assert data["promoteDeployment"]["deployment"] == {"status": "ACTIVE", "trafficWeight": 100}
    await stage.wait_served("v2")
    assert (await stage.get(v1)).status == DeploymentStatus.SUPERSEDED


async def test_deploy_a_git_ref_builds_first(stage: Stage) -> None:
    """The rollout waits for the build it triggered, then serves its artifact."""
    data = await stage.api.ok(
        """mutation($p: ID!) { deploy(input: {projectId: $p, gitRef: "main", strategy: IMMEDIATE})
           { deployment { id } userErrors { code } } }""",
        {"p": stage.project_gid},
        token=stage.account.token,
    )
    dep = parse_id(data["deploy"]["deployment"]["id"], "Deployment")
    # The static site is served on "/" only: its health check path is the project's.
    async with stage.deps.sessionmaker() as s, s.begin():
        project = await s.get(models.Project, stage.project_id)
        assert project is not None
        project.health_check_path = "/"
    rollout = stage.start_rollout(dep)
    build_id = (await stage.get(dep)).build_id
    await build_runner.run(stage.deps, build_id, worker_id="test-builder")
    assert await asyncio.wait_for(rollout, 60) == DeploymentStatus.ACTIVE
    kinds = [(e.kind, e.status) for e in await stage.events(dep)]
    assert (DeploymentEventKind.STATUS, DeploymentStatus.BUILDING) in kinds
    got = await stage.hits(3)
    assert all("hello from stratus" in body for body in got), got


async def test_worker_restart_brings_held_releases_back(stage: Stage) -> None:
    """After the runtime loses its processes (worker restart, `make up` again), the
    reconciler restarts the releases deployments hold and the router serves again."""
    from app.runtime.build.artifacts import FilesystemArtifactStore
    from app.runtime.local import LocalRuntime

    v1 = await stage.roll_out(await stage.build("v1"), "IMMEDIATE")
    await stage.wait_served("v1")
    old = (await stage.get(v1)).upstreams
    await stage.runtime.aclose()  # the worker stops: its processes go with it
    assert (await stage.hits(1)).keys() != {"200:v1"}
    settings = stage.deps.settings
    stage.runtime = LocalRuntime(
        settings.state_dir, FilesystemArtifactStore(settings.artifacts_dir)
    )
    await rollout.reconcile(stage.deps, stage.runtime)
    await stage.wait_served("v1")
    row = await stage.get(v1)
    assert row.status == DeploymentStatus.ACTIVE and row.upstreams and row.upstreams != old
    assert await stage.active() == {str(v1): 100} == await stage.routed()
    # Reconciling again changes nothing: the release is running.
    await rollout.reconcile(stage.deps, stage.runtime)
    assert (await stage.get(v1)).upstreams == row.upstreams
