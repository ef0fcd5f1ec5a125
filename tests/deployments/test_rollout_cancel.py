"""Canceling a rollout from the API stops it at once, not at the worker's next heartbeat."""

from __future__ import annotations

import asyncio
import dataclasses

from app.domain import rollout
from db.enums import DeploymentEventKind, DeploymentStatus
from tests.deployments.conftest import Stage
from tests.deployments.test_rollout import gid

CANCEL = """mutation($d: ID!) { cancelDeployment(input: {deploymentId: $d}) {
  deployment { status } userErrors { code } } }"""


async def test_cancel_mid_rollout_stops_the_rollout_at_once(stage: Stage) -> None:
    v1 = await stage.roll_out(await stage.build("v1"), "IMMEDIATE")
    await stage.wait_served("v1")
    # A heartbeat and an observation window far longer than the wait below: only the stop
    # signal can end this rollout in time.
    slow = stage.deps.settings.model_copy(
        update={"deploy_heartbeat_seconds": 60.0, "deploy_observe_seconds": 60.0}
    )
    deps = dataclasses.replace(stage.deps, settings=slow)
    v2 = await stage.deploy(await stage.build("v2"), "BLUE_GREEN")
    task = asyncio.create_task(rollout.run(deps, stage.runtime, v2, worker_id="slow-worker"))
    stage.tasks.append(task)
    loop = asyncio.get_running_loop()
    end = loop.time() + 30
    while not any(e.kind == DeploymentEventKind.TRAFFIC for e in await stage.events(v2)):
        assert loop.time() < end and not task.done()
        await asyncio.sleep(0.1)  # until the first traffic step (observation running)
    release = (await stage.get(v2)).release_id

    data = await stage.api.ok(CANCEL, {"d": gid(v2)}, token=stage.account.token)
    assert data["cancelDeployment"]["deployment"]["status"] == "CANCELED"
    assert await asyncio.wait_for(task, 10) is None  # it let go (no longer the owner)
    assert (await stage.get(v2)).status == DeploymentStatus.CANCELED
    assert release not in {s.release_id for s in await stage.runtime.list_releases()}
    await stage.wait_served("v1")
    assert await stage.active() == {str(v1): 100} == await stage.routed()
