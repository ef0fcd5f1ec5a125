"""The rollout's steps: wait for the build, start the release, health-check it, then move
traffic as the strategy says, watching the router's metrics between steps.

ROLLING replaces the serving release's replicas with the new release's in batches of
`deploy_max_unavailable` (the new release starts with one batch), health-checking each batch
and moving weights with the replica counts; without a serving base of the same replica count
(or with one replica) it starts all replicas beside the old ones and switches at once. See
`rollout_rolling.py`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from app.deps import Deps
from app.domain import deploy_events, variables
from app.domain.rollout import Rollout, Superseded, fail
from app.domain.rollout_order import newest_wins
from app.domain.rollout_traffic import set_weights, supersede
from app.runtime.protocol import ReleaseSpec, ReleaseStartError
from app.runtime.router.keys import RouterKeys
from app.runtime.router.metrics import read_windows
from db import models
from db.enums import BuildStatus, DeploymentEventKind, DeploymentStatus
from db.enums import DeploymentStrategy as Strategy

BUILD_POLL_S = 0.5
OBSERVE_POLL_S = 0.5


STARTING_PROBE_S = 0.1


async def execute(r: Rollout) -> DeploymentStatus:
    if not await newest_wins(r):
        return DeploymentStatus.CANCELED
    build = await _wait_for_build(r)
    if build.status != BuildStatus.SUCCEEDED or not build.artifact_uri:
        return await fail(r, "BUILD_FAILED", f"build #{build.number} {build.status.value}")
    await r.set_status(DeploymentStatus.DEPLOYING, "starting the release")
    from app.domain.rollout_rolling import first_spec  # ROLLING starts with one batch

    try:
        handle = await r.runtime.start_release(await first_spec(r, await _spec(r, build)))
    except ReleaseStartError as exc:
        return await fail(r, "START_FAILED", str(exc))
    if handle.replaced:
        await _forget_replaced(r, handle.replaced)
    async with r.write() as (uow, w):
        w.row.release_id, w.row.upstreams = handle.release_id, list(handle.upstreams)
        w.row.status = DeploymentStatus.VERIFYING
        deploy_events.record(
            uow,
            w.row,
            DeploymentEventKind.STATUS,
            f"started {len(handle.upstreams)} replica(s); checking health",
            payload={"releaseId": handle.release_id},
        )
    problem = await health_problem(r)
    if problem is not None:
        message = str(problem.pop("message"))
        return await fail(r, "HEALTH_CHECK_FAILED", message, **problem)
    return await _shift(r)


async def _forget_replaced(r: Rollout, replaced: tuple[str, ...]) -> None:
    """Releases the runtime evicted to make room no longer run: not rollback targets."""
    async with r.write(env=True) as (uow, w):
        for other in w.env_rows:
            if other.id == w.row.id or other.release_id not in replaced:
                continue
            if other.upstreams is None or other.traffic_weight > 0:
                continue  # already released, or (never chosen by a runtime) serving
            other.upstreams, other.retained_until = None, None
            deploy_events.record(
                uow,
                other,
                DeploymentEventKind.STATUS,
                f"release replaced by deployment #{w.row.number}'s (the runtime keeps a "
                "limited number per environment); no longer a rollback target",
                payload={"replacedBy": str(w.row.id)},
            )


async def _wait_for_build(r: Rollout) -> models.Build:
    deadline = time.monotonic() + r.deps.settings.deploy_build_wait_seconds
    waiting = False
    while True:
        async with r.deps.sessionmaker() as s:
            build_id = await s.scalar(
                select(models.Deployment.build_id).where(models.Deployment.id == r.deployment_id)
            )
            build = await s.get(models.Build, build_id)
        assert build is not None
        if build.status.is_terminal or time.monotonic() > deadline:
            return build
        if not waiting:
            waiting = True
            await r.set_status(
                DeploymentStatus.BUILDING, f"waiting for build #{build.number}", build=build.number
            )
        if r.lost.is_set():
            raise Superseded()
        await asyncio.sleep(BUILD_POLL_S)


async def _spec(r: Rollout, build: models.Build) -> ReleaseSpec:
    return await release_spec(r.deps, r.deployment_id, r.release_id, build)


async def release_spec(
    deps: Deps, deployment_id: uuid.UUID, release_id: str, build: models.Build
) -> ReleaseSpec:
    """What the runtime needs to start (or restart) a deployment's release."""
    async with deps.sessionmaker() as s:
        row = await s.get(models.Deployment, deployment_id)
        assert row is not None
        project = await s.get(models.Project, row.project_id)
        env = await s.get(models.Environment, row.environment_id)
        assert project is not None and env is not None
        # Decrypted only here, at start: plain values never touch the database or the API.
        plain = await variables.decrypt_environment(s, deps.secrets, env.id)
    return ReleaseSpec(
        release_id=release_id,
        deployment_id=str(deployment_id),
        project=project.slug,
        environment=env.name,
        artifact_uri=str(build.artifact_uri),
        framework=build.framework,
        start_command=build.start_command,
        env=plain,
        replicas=row.replicas,
        health_path=project.health_check_path or "/",
    )


async def health_problem(r: Rollout) -> dict[str, Any] | None:
    """None once the release answers healthy; else what the last probe said.

    The budget is `retries` x `interval` seconds. While nothing listens yet (the app is
    still starting) probes come every 0.1 s instead of every `interval`, so a release that
    starts in 50 ms does not wait a whole interval for its second probe.
    """
    cfg = r.deps.settings
    budget = cfg.deploy_health_retries * cfg.deploy_health_interval_seconds
    deadline = time.monotonic() + budget
    attempt, last = 0, None
    while True:
        attempt += 1
        last = await r.runtime.health(r.release_id, timeout=cfg.deploy_health_timeout_seconds)
        if last.ok:
            async with r.write() as (uow, w):
                deploy_events.record(
                    uow,
                    w.row,
                    DeploymentEventKind.HEALTH,
                    f"healthy after {attempt} probe(s)",
                    payload={"attempts": attempt, "status": last.status},
                )
            return None
        if r.lost.is_set():
            raise Superseded()
        if time.monotonic() >= deadline:
            break
        starting = last.status is None
        await asyncio.sleep(
            min(STARTING_PROBE_S, cfg.deploy_health_interval_seconds)
            if starting
            else cfg.deploy_health_interval_seconds
        )
    return {
        "message": f"never became healthy: {last.error or last.status}",
        "attempts": attempt,
        "status": last.status,
    }


async def _shift(r: Rollout) -> DeploymentStatus:
    async with r.deps.sessionmaker() as s:
        row = await s.get(models.Deployment, r.deployment_id)
        assert row is not None
        strategy, canary = row.strategy, row.canary_weight or 0
    base = await serving_deployment(r)
    if strategy == Strategy.ROLLING:
        from app.domain.rollout_rolling import roll

        return await roll(r, base)
    if base is None or strategy == Strategy.IMMEDIATE:
        return await activate(r, "switched 100%")
    if strategy == Strategy.CANARY:
        async with r.write(env=True) as (uow, w):
            w.row.previous_id = base
            set_weights(uow, w.env_rows, {w.row.id: canary, base: 100 - canary}, step="canary")
            # The job lets go: promote, rollback or setTrafficSplit come from the API.
            w.row.worker_id = None
            deploy_events.record(
                uow, w.row, DeploymentEventKind.STATUS, f"canary at {canary}%; waiting"
            )
        return DeploymentStatus.VERIFYING
    for step in r.deps.settings.deploy_steps:
        if step >= 100:
            break
        async with r.write(env=True) as (uow, w):
            w.row.previous_id, w.row.status = base, DeploymentStatus.PROMOTING
            set_weights(uow, w.env_rows, {w.row.id: step, base: 100 - step}, step=f"{step}%")
        verdict = await _observe(r)
        if verdict is not None:
            return await _roll_back(r, base, verdict)
    return await activate(r, "blue-green complete: serving 100%")


async def serving_deployment(r: Rollout) -> Any:
    """The deployment serving most of the environment now (the one to compare against)."""
    async with r.deps.sessionmaker() as s:
        return await s.scalar(
            select(models.Deployment.id)
            .where(
                models.Deployment.environment_id == r.environment_id,
                models.Deployment.id != r.deployment_id,
                models.Deployment.traffic_weight > 0,
                models.Deployment.upstreams.is_not(None),
            )
            .order_by(models.Deployment.traffic_weight.desc())
            .limit(1)
        )


async def activate(r: Rollout, message: str) -> DeploymentStatus:
    async with r.write(env=True) as (uow, w):
        set_weights(uow, w.env_rows, {w.row.id: 100}, step="100%")
        for other in w.env_rows:
            if other.id != w.row.id and other.status == DeploymentStatus.ACTIVE:
                supersede(uow, other, r.deps.settings.deploy_retention_seconds)
        w.row.status, w.row.worker_id = DeploymentStatus.ACTIVE, None
        w.row.finished_at = datetime.now(UTC)
        deploy_events.record(uow, w.row, DeploymentEventKind.STATUS, message)
    return DeploymentStatus.ACTIVE


async def _observe(r: Rollout) -> dict[str, Any] | None:
    """Watch the new release for one window: None if fine, else the measured figures."""
    cfg = r.deps.settings
    keys, dep = RouterKeys(cfg.router_key_prefix), str(r.deployment_id)
    since = time.time() - 10  # include the window this step started in; diffed below
    before = await read_windows(r.deps.redis, keys, dep, since, time.time() + 10)
    end = time.monotonic() + cfg.deploy_observe_seconds
    while True:
        await asyncio.sleep(OBSERVE_POLL_S)
        if r.lost.is_set():
            raise Superseded()
        now = await read_windows(r.deps.redis, keys, dep, since, time.time() + 10)
        requests = now.get("requests", 0) - before.get("requests", 0)
        errors = now.get("status_5xx", 0) - before.get("status_5xx", 0)
        rate = errors / requests if requests else 0.0
        figures = {"requests": requests, "errors5xx": errors, "errorRate": round(rate, 4)}
        if requests >= cfg.deploy_min_requests and rate > cfg.deploy_error_rate_threshold:
            return {"reason": "ERROR_RATE", **figures, "threshold": cfg.deploy_error_rate_threshold}
        health = await r.runtime.health(r.release_id, timeout=cfg.deploy_health_timeout_seconds)
        if not health.ok:
            return {"reason": "HEALTH_CHECK_FAILED", "error": health.error, **figures}
        if time.monotonic() >= end:
            async with r.write() as (uow, w):
                deploy_events.record(
                    uow,
                    w.row,
                    DeploymentEventKind.OBSERVATION,
                    "step looks healthy",
                    payload=figures,
                )
            return None


async def _roll_back(r: Rollout, base: Any, verdict: dict[str, Any]) -> DeploymentStatus:
    reason = str(verdict["reason"])
    async with r.write(env=True) as (uow, w):
        set_weights(uow, w.env_rows, {base: 100}, step="rollback")
        row = w.row
        row.status, row.reason = DeploymentStatus.ROLLED_BACK, reason
        row.message = f"rolled back automatically: {reason}"
        row.upstreams, row.worker_id, row.finished_at = None, None, datetime.now(UTC)
        deploy_events.record(uow, row, DeploymentEventKind.ROLLBACK, row.message, payload=verdict)
        deploy_events.record(uow, row, DeploymentEventKind.STATUS, row.message, payload=verdict)
    await r.runtime.stop_release(r.release_id, drain_seconds=r.deps.settings.deploy_drain_seconds)
    return DeploymentStatus.ROLLED_BACK
