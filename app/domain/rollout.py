"""Runs a deployment's rollout in the worker: claim, heartbeat, fenced writes, reconcile.

A rollout is owned by one (worker_id, attempt). Every write goes through `Rollout.write`,
which locks the row and checks the owner first: a worker declared lost, or a rollout that
was canceled or rolled back from the API (both clear worker_id), can no longer write, and
stops the release it started. The steps themselves are in `rollout_steps.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update

from app.deps import Deps
from app.domain import deploy_events, deployments
from app.domain.rollout_traffic import env_deployments, set_weights, sync_routes
from app.runtime.protocol import Runtime
from app.uow import UnitOfWork, transaction
from db import models
from db.enums import DeploymentEventKind, DeploymentStatus

log = logging.getLogger(__name__)


class Superseded(Exception):
    """This worker no longer owns the rollout."""


@dataclass
class Rollout:
    deps: Deps
    runtime: Runtime
    deployment_id: uuid.UUID
    environment_id: uuid.UUID
    worker_id: str
    attempt: int
    lost: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def release_id(self) -> str:
        return f"d{self.deployment_id.hex}"

    @contextlib.asynccontextmanager
    async def write(self, *, env: bool = False) -> AsyncIterator[tuple[UnitOfWork, Row]]:
        """A transaction on the owned row (and the environment's rows when `env`)."""
        async with transaction(self.deps, None) as uow:
            rows = await env_deployments(uow, self.environment_id) if env else []
            row = await uow.session.get(
                models.Deployment, self.deployment_id, with_for_update=True, populate_existing=True
            )
            if (
                row is None
                or (row.worker_id, row.attempt) != (self.worker_id, self.attempt)
                or row.status.is_terminal
            ):
                raise Superseded()
            yield uow, Row(row, rows)

    async def set_status(self, status: DeploymentStatus, message: str, **payload: object) -> None:
        async with self.write() as (uow, r):
            r.row.status = status
            deploy_events.record(
                uow, r.row, DeploymentEventKind.STATUS, message, payload=dict(payload)
            )


@dataclass
class Row:
    row: models.Deployment
    env_rows: list[models.Deployment]


async def run(
    deps: Deps, runtime: Runtime, deployment_id: uuid.UUID, *, worker_id: str
) -> DeploymentStatus | None:
    from app.domain import rollout_steps

    r = await _claim(deps, runtime, deployment_id, worker_id)
    if r is None:
        return None
    beat = asyncio.create_task(_heartbeat(r))
    try:
        return await rollout_steps.execute(r)
    except Superseded:
        await _release_if_unwanted(r)
        return None
    except Exception as exc:
        log.exception("rollout of %s failed unexpectedly", deployment_id)
        await fail(r, "INTERNAL_ERROR", f"internal error ({type(exc).__name__})")
        return DeploymentStatus.FAILED
    finally:
        beat.cancel()
        await asyncio.gather(beat, return_exceptions=True)


async def _claim(
    deps: Deps, runtime: Runtime, deployment_id: uuid.UUID, worker_id: str
) -> Rollout | None:
    async with transaction(deps, None) as uow:
        row = await uow.session.get(models.Deployment, deployment_id, with_for_update=True)
        if row is None or row.status != DeploymentStatus.QUEUED or row.worker_id is not None:
            return None  # started, finished, or owned (the reconciler settles a lost owner)
        row.worker_id, row.attempt = worker_id, row.attempt + 1
        row.started_at = row.heartbeat_at = datetime.now(UTC)
        return Rollout(deps, runtime, row.id, row.environment_id, worker_id, row.attempt)


async def fail(r: Rollout, reason: str, message: str, **payload: object) -> DeploymentStatus:
    """End the rollout as FAILED; traffic goes back to what served before, if it moved."""
    async with r.write(env=True) as (uow, w):
        row = w.row
        if row.traffic_weight > 0:
            back = [x for x in w.env_rows if x.id == row.previous_id and x.upstreams]
            set_weights(uow, w.env_rows, {back[0].id: 100} if back else {})
        row.status, row.reason, row.message = DeploymentStatus.FAILED, reason, message
        row.upstreams, row.worker_id, row.finished_at = None, None, datetime.now(UTC)
        deploy_events.record(
            uow, row, DeploymentEventKind.STATUS, message, payload={"reason": reason, **payload}
        )
    await r.runtime.stop_release(r.release_id, drain_seconds=r.deps.settings.deploy_drain_seconds)
    return DeploymentStatus.FAILED


async def _release_if_unwanted(r: Rollout) -> None:
    async with r.deps.sessionmaker() as s:
        row = await s.get(models.Deployment, r.deployment_id)
    if row is None or row.upstreams is None:
        await r.runtime.stop_release(r.release_id, drain_seconds=0)


async def _heartbeat(r: Rollout) -> None:
    """Beat while running; a beat matching no row means the rollout was taken away.

    Between beats it waits on the deployment's stop signal (cancel, rollback from the API),
    so a rollout stopped from outside notices at once rather than at the next beat.
    """
    while True:
        if await _stop_signalled(r, r.deps.settings.deploy_heartbeat_seconds):
            r.lost.set()
            return
        try:
            async with r.deps.sessionmaker() as s, s.begin():
                hit = await s.scalar(
                    update(models.Deployment)
                    .where(
                        models.Deployment.id == r.deployment_id,
                        models.Deployment.worker_id == r.worker_id,
                        models.Deployment.attempt == r.attempt,
                    )
                    .values(heartbeat_at=func.now())
                    .returning(models.Deployment.id)
                )
        except Exception:  # the database may come back before lost_after
            log.warning("heartbeat of deployment %s failed", r.deployment_id, exc_info=True)
            continue
        if hit is None:
            r.lost.set()
            return


async def _stop_signalled(r: Rollout, wait_s: float) -> bool:
    key = deployments.stop_signal_key(r.deployment_id)
    try:
        return await r.deps.redis.blpop([key], timeout=wait_s) is not None  # type: ignore[misc,arg-type]
    except Exception:  # Redis away: the heartbeat still notices, one beat later
        log.warning("waiting for the stop signal of %s failed", r.deployment_id, exc_info=True)
        await asyncio.sleep(wait_s)
        return False


async def reconcile(deps: Deps, runtime: Runtime) -> None:
    """Fail rollouts whose worker died, stop releases no one needs, restart held releases the
    runtime lost (worker restart), re-sync the routes."""
    cutoff = func.now() - timedelta(seconds=deps.settings.deploy_lost_after_seconds)
    async with deps.sessionmaker() as s:
        lost = (
            await s.scalars(
                select(models.Deployment.id).where(
                    models.Deployment.worker_id.is_not(None),
                    or_(
                        models.Deployment.heartbeat_at.is_(None),
                        models.Deployment.heartbeat_at < cutoff,
                    ),
                )
            )
        ).all()
        queued = (
            await s.scalars(
                select(models.Deployment.id).where(
                    models.Deployment.status == DeploymentStatus.QUEUED,
                    models.Deployment.worker_id.is_(None),
                )
            )
        ).all()
    for deployment_id in lost:
        await _fail_lost(deps, runtime, deployment_id)
    for deployment_id in queued:
        await _enqueue(deps, deployment_id)
    await _expire_retained(deps)
    await _stop_unwanted(deps, runtime)
    # Imported here: rollout_restore builds on rollout_steps, which builds on this module.
    from app.domain.rollout_restore import restore_held_releases

    await restore_held_releases(deps, runtime)
    await _resync_routes(deps)


async def _resync_routes(deps: Deps) -> None:
    """The route table is a projection of the rows: rebuild it, so that a lost after-commit
    write or a Redis restart heals within one reconcile period."""
    async with deps.sessionmaker() as s:
        env_ids = (
            await s.scalars(
                select(models.Deployment.environment_id)
                .where(models.Deployment.upstreams.is_not(None))
                .distinct()
            )
        ).all()
    for env_id in env_ids:
        try:
            await sync_routes(deps, env_id)
        except Exception:
            log.exception("route sync of environment %s failed", env_id)


async def _fail_lost(deps: Deps, runtime: Runtime, deployment_id: uuid.UUID) -> None:
    async with deps.sessionmaker() as s:
        row = await s.get(models.Deployment, deployment_id)
    if row is None or row.worker_id is None:
        return
    owner = Rollout(deps, runtime, row.id, row.environment_id, row.worker_id, row.attempt)
    with contextlib.suppress(Superseded):
        await fail(owner, "WORKER_LOST", "the worker running this rollout stopped responding")


async def _enqueue(deps: Deps, deployment_id: uuid.UUID) -> None:
    if deps.queue is None:
        return
    from arq.constants import result_key_prefix

    job_id = deployments.rollout_job_id(deployment_id)
    try:
        await deps.queue.delete(result_key_prefix + job_id)
        await deps.queue.enqueue_job(
            deployments.RUN_ROLLOUT_JOB, str(deployment_id), _job_id=job_id
        )
    except Exception:
        log.exception("enqueue of rollout %s failed", deployment_id)


async def _expire_retained(deps: Deps) -> None:
    """Superseded releases past their retention stop being rollback targets."""
    async with transaction(deps, None) as uow:
        rows = await uow.session.scalars(
            select(models.Deployment)
            .where(
                models.Deployment.status == DeploymentStatus.SUPERSEDED,
                models.Deployment.upstreams.is_not(None),
                models.Deployment.retained_until < func.now(),
            )
            .with_for_update(skip_locked=True)
        )
        envs = set()
        for row in rows:
            row.upstreams = None
            envs.add(row.environment_id)
            deploy_events.record(uow, row, DeploymentEventKind.STATUS, "retention ended")
    for env_id in envs:
        await sync_routes(deps, env_id)


async def _stop_unwanted(deps: Deps, runtime: Runtime) -> None:
    """Stop releases whose deployment no longer holds them (ended, expired, rolled back)."""
    async with deps.sessionmaker() as s:
        ids = (
            await s.scalars(
                select(models.Deployment.id).where(
                    or_(
                        models.Deployment.upstreams.is_not(None),
                        models.Deployment.worker_id.is_not(None),
                    )
                )
            )
        ).all()
    wanted = {f"d{i.hex}" for i in ids}
    for state in await runtime.list_releases():
        if state.supervised and state.release_id not in wanted:
            await runtime.stop_release(
                state.release_id, drain_seconds=deps.settings.deploy_drain_seconds
            )
