"""The newest deployment of an environment wins: a rollout never fights an older one."""

from __future__ import annotations

import asyncio
import dataclasses

from app.domain import rollout
from app.domain.rollout_order import NEWER
from db.enums import DeploymentEventKind, DeploymentStatus
from tests.deployments.conftest import Stage


async def test_a_newer_deploy_cancels_an_older_rollout_in_flight(stage: Stage) -> None:
    v1 = await stage.roll_out(await stage.build("v1"), "IMMEDIATE")
    await stage.wait_served("v1")
    # v2 stays in its first blue-green step for a minute unless something ends it.
    slow = dataclasses.replace(
        stage.deps, settings=stage.deps.settings.model_copy(update={"deploy_observe_seconds": 60})
    )
    v2 = await stage.deploy(await stage.build("v2"), "BLUE_GREEN")
    old = asyncio.create_task(rollout.run(slow, stage.runtime, v2, worker_id="worker-a"))
    stage.tasks.append(old)
    loop = asyncio.get_running_loop()
    end = loop.time() + 30
    while not any(e.kind == DeploymentEventKind.TRAFFIC for e in await stage.events(v2)):
        assert loop.time() < end and not old.done()
        await asyncio.sleep(0.1)
    assert (await stage.get(v2)).traffic_weight == 20

    v3 = await stage.roll_out(await stage.build("v3"), "IMMEDIATE")
    assert (await stage.get(v3)).status == DeploymentStatus.ACTIVE
    assert await asyncio.wait_for(old, 10) is None  # v2's job let go at once
    row = await stage.get(v2)
    assert (row.status, row.reason) == (DeploymentStatus.CANCELED, NEWER)
    assert row.message == f"canceled: superseded by deployment #{(await stage.get(v3)).number}"
    assert row.upstreams is None and row.traffic_weight == 0
    assert (await stage.get(v1)).status == DeploymentStatus.SUPERSEDED  # kept warm, by v3
    await stage.wait_served("v3")
    assert await stage.active() == {str(v3): 100} == await stage.routed()


async def test_queued_older_deployments_never_replace_a_newer_one(stage: Stage) -> None:
    a = await stage.deploy(await stage.build("v1"), "IMMEDIATE")
    b = await stage.deploy(await stage.build("v2"), "IMMEDIATE")
    # The older job runs first (queue order is not creation order): it cancels itself.
    assert await asyncio.wait_for(stage.start_rollout(a), 60) == DeploymentStatus.CANCELED
    row = await stage.get(a)
    assert (row.status, row.reason, row.release_id) == (DeploymentStatus.CANCELED, NEWER, None)
    assert row.message == f"canceled: deployment #{(await stage.get(b)).number} is newer"
    assert await asyncio.wait_for(stage.start_rollout(b), 60) == DeploymentStatus.ACTIVE

    # The newer job runs first: it cancels the older one still queued, whose job then has
    # nothing left to do.
    c = await stage.deploy(await stage.build("v3"), "IMMEDIATE")
    d = await stage.deploy(await stage.build("v4"), "IMMEDIATE")
    assert await asyncio.wait_for(stage.start_rollout(d), 60) == DeploymentStatus.ACTIVE
    assert ((await stage.get(c)).status, (await stage.get(c)).reason) == (
        DeploymentStatus.CANCELED,
        NEWER,
    )
    assert await asyncio.wait_for(stage.start_rollout(c), 60) is None
    await stage.wait_served("v4")
    assert await stage.active() == {str(d): 100}
