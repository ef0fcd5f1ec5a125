"""Deployments as the API changes them: deploy (idempotent), cancel, promote, roll back,
split traffic. Reads are in `deployment_reads.py`; the rollout itself runs in a job
(`app/domain/rollout.py`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from app.domain import audit, builds, deploy_events, previews
from app.domain.policy import Action, authorize
from app.domain.rollout_traffic import env_deployments, set_weights, supersede
from app.errors import ErrorCode, NotFound, UserInputError
from app.runtime.protocol import MAX_REPLICAS
from app.uow import UnitOfWork
from db import models
from db.enums import BuildStatus, BuildTrigger, DeploymentEventKind, DeploymentStatus
from db.enums import DeploymentStrategy as Strategy

RUN_ROLLOUT_JOB = "run_rollout"
DEFAULT_CANARY_WEIGHT = 10
# Statuses whose release may serve again without a restart (rollback targets).
RETAINED = (DeploymentStatus.ACTIVE, DeploymentStatus.SUPERSEDED)


def rollout_job_id(deployment_id: uuid.UUID) -> str:
    return f"rollout:{deployment_id}"


def stop_signal_key(deployment_id: uuid.UUID) -> str:
    """A Redis list the running rollout blocks on between heartbeats (app/domain/rollout.py):
    a push ends its wait at once, so cancel and rollback stop it within moments."""
    return f"stratus:deployment:{deployment_id}:stop"


@dataclass(frozen=True, kw_only=True)
class DeployRequest:
    project_id: uuid.UUID
    environment: str | None
    git_ref: str | None
    build_id: uuid.UUID | None
    strategy: Strategy
    idempotency_key: str | None
    canary_weight: int | None = None
    replicas: int = 1


def _check(req: DeployRequest) -> None:
    if (req.git_ref is None) == (req.build_id is None):
        raise UserInputError.one(
            ErrorCode.INVALID_ARGUMENT, "give exactly one of gitRef and buildId", "gitRef"
        )
    if req.idempotency_key is not None and not 1 <= len(req.idempotency_key) <= 128:
        raise UserInputError.one(
            ErrorCode.INVALID_ARGUMENT, "idempotency key must be 1-128 characters", "idempotencyKey"
        )
    if req.canary_weight is not None and not 1 <= req.canary_weight <= 99:
        raise UserInputError.one(
            ErrorCode.INVALID_WEIGHTS, "canary weight must be between 1 and 99", "canaryWeight"
        )
    if not 1 <= req.replicas <= MAX_REPLICAS:
        raise UserInputError.one(
            ErrorCode.INVALID_ARGUMENT, f"replicas must be 1..{MAX_REPLICAS}", "replicas"
        )


async def deploy(uow: UnitOfWork, req: DeployRequest) -> models.Deployment:
    _check(req)
    project = await uow.session.get(models.Project, req.project_id, with_for_update=True)
    if project is None:
        raise NotFound("project")
    await authorize(uow.session, uow.principal, project.team_id, Action.DEPLOY, what="project")
    if req.idempotency_key is not None:
        # The project row lock serialises concurrent deploys with the same key.
        existing = await uow.session.scalar(
            select(models.Deployment).where(
                models.Deployment.project_id == project.id,
                models.Deployment.idempotency_key == req.idempotency_key,
            )
        )
        if existing is not None:
            _audit(uow, existing, "deployment.deploy_replayed", {"key": req.idempotency_key})
            return existing
    env = await _environment_for(uow, project, req)
    build = await _build_for(uow, project, env, req)
    return await queue_deployment(uow, project, env, build, req)


async def queue_deployment(
    uow: UnitOfWork,
    project: models.Project,
    env: models.Environment,
    build: models.Build,
    req: DeployRequest,
) -> models.Deployment:
    """Create the deployment and enqueue its rollout (the caller authorized it and holds
    the project row lock; a push webhook is authorized by its signature)."""
    previews.extend(uow, env)
    last = await uow.session.scalar(
        select(func.coalesce(func.max(models.Deployment.number), 0)).where(
            models.Deployment.project_id == project.id
        )
    )
    p = uow.principal
    row = models.Deployment(
        id=uuid.uuid4(),
        team_id=project.team_id,
        project_id=project.id,
        environment_id=env.id,
        build_id=build.id,
        number=(last or 0) + 1,
        strategy=req.strategy,
        status=DeploymentStatus.QUEUED,
        traffic_weight=0,
        canary_weight=(req.canary_weight or DEFAULT_CANARY_WEIGHT)
        if req.strategy == Strategy.CANARY
        else None,
        replicas=req.replicas,
        idempotency_key=req.idempotency_key,
        created_by_id=p.user_id if p else None,
        attempt=0,
        last_event_seq=0,
    )
    uow.session.add(row)
    await uow.session.flush()
    deploy_events.record(
        uow,
        row,
        DeploymentEventKind.STATUS,
        f"queued: build #{build.number}, {req.strategy.value} to {env.name}",
        payload={"buildId": str(build.id), "strategy": req.strategy.value},
    )
    changes: dict[str, object] = {
        "environment": env.name,
        "strategy": req.strategy.value,
        "build": build.number,
    }
    _audit(uow, row, "deployment.deploy", changes)
    uow.enqueue(RUN_ROLLOUT_JOB, str(row.id), job_id=rollout_job_id(row.id))
    return row


async def _environment_for(
    uow: UnitOfWork, project: models.Project, req: DeployRequest
) -> models.Environment:
    """The named environment, else: the production branch goes to production, any other
    ref to its branch preview, a build to the environment it was built for."""
    if req.git_ref is not None:
        return await builds.environment_for(uow, project, req.environment, req.git_ref.strip())
    build = await uow.session.get(models.Build, req.build_id)
    if build is None or build.project_id != project.id:
        raise UserInputError.one(ErrorCode.BUILD_NOT_READY, "no such build here", "buildId")
    if req.environment is None:
        env = await uow.session.get(models.Environment, build.environment_id)
        assert env is not None  # environment_id is a NOT NULL foreign key
        if not previews.is_template(env):
            return env
    return await builds.environment_for(uow, project, req.environment, build.git_ref)


async def _build_for(
    uow: UnitOfWork, project: models.Project, env: models.Environment, req: DeployRequest
) -> models.Build:
    if req.git_ref is not None:
        return await builds.create_build(
            uow, project, env, ref=req.git_ref.strip(), trigger=BuildTrigger.MANUAL
        )
    build = await uow.session.get(models.Build, req.build_id)
    if build is None or build.project_id != project.id:
        raise UserInputError.one(ErrorCode.BUILD_NOT_READY, "no such build here", "buildId")
    if build.status not in (BuildStatus.SUCCEEDED, BuildStatus.QUEUED, BuildStatus.RUNNING):
        raise UserInputError.one(
            ErrorCode.BUILD_NOT_READY, f"build ended {build.status.value}", "buildId"
        )
    return build


async def _locked(uow: UnitOfWork, deployment_id: uuid.UUID) -> models.Deployment:
    row = await uow.session.get(models.Deployment, deployment_id)
    if row is None:
        raise NotFound("deployment")
    await authorize(uow.session, uow.principal, row.team_id, Action.DEPLOY, what="deployment")
    return row


def _by_id(rows: list[models.Deployment], deployment_id: uuid.UUID) -> models.Deployment:
    return next(r for r in rows if r.id == deployment_id)


async def cancel_deployment(uow: UnitOfWork, *, deployment_id: uuid.UUID) -> models.Deployment:
    """Stop a rollout in progress; traffic goes back to what served before it."""
    row = await _locked(uow, deployment_id)
    rows = await env_deployments(uow, row.environment_id)
    locked = await uow.session.get(
        models.Deployment, deployment_id, with_for_update=True, populate_existing=True
    )
    assert locked is not None
    row = locked
    if row.status.is_terminal:
        raise UserInputError.one(
            ErrorCode.DEPLOYMENT_FINISHED, f"deployment ended ({row.status.value})", "deploymentId"
        )
    if row.traffic_weight > 0:
        back = [r for r in rows if r.id == row.previous_id and r.upstreams]
        set_weights(uow, rows, {back[0].id: 100} if back else {}, step="cancel")
    end_rollout(uow, row, DeploymentStatus.CANCELED, "CANCELED", "canceled")
    _audit(uow, row, "deployment.cancel", None)
    return row


def end_rollout(
    uow: UnitOfWork, row: models.Deployment, status: DeploymentStatus, reason: str, message: str
) -> None:
    """End a rollout from outside its job: clearing worker_id fences the job out."""
    row.status, row.reason, row.message = status, reason, message
    row.traffic_weight, row.upstreams, row.worker_id = 0, None, None
    row.finished_at = datetime.now(UTC)
    row.cancel_requested_at = datetime.now(UTC)
    deploy_events.record(uow, row, DeploymentEventKind.STATUS, message, payload={"reason": reason})
    deployment_id = row.id
    uow.after_commit(lambda: _signal_stop(uow, deployment_id))


async def _signal_stop(uow: UnitOfWork, deployment_id: uuid.UUID) -> None:
    key = stop_signal_key(deployment_id)
    async with uow.deps.redis.pipeline(transaction=True) as pipe:
        pipe.rpush(key, b"1")
        pipe.expire(key, 3600)
        await pipe.execute()


async def promote_deployment(uow: UnitOfWork, *, deployment_id: uuid.UUID) -> models.Deployment:
    """Send all traffic to a canary waiting in VERIFYING; what served before is superseded."""
    row = await _locked(uow, deployment_id)
    rows = await env_deployments(uow, row.environment_id)
    row = _waiting_canary(rows, deployment_id)
    set_weights(uow, rows, {row.id: 100}, step="promote")
    for other in rows:
        if other.id != row.id and other.status == DeploymentStatus.ACTIVE:
            supersede(uow, other, uow.deps.settings.deploy_retention_seconds)
    row.status, row.finished_at = DeploymentStatus.ACTIVE, datetime.now(UTC)
    deploy_events.record(uow, row, DeploymentEventKind.STATUS, "promoted: serving 100%")
    _audit(uow, row, "deployment.promote", None)
    return row


async def set_traffic_split(
    uow: UnitOfWork, *, deployment_id: uuid.UUID, weight: int
) -> models.Deployment:
    """A waiting canary's share; the release it is compared with gets the rest."""
    row = await _locked(uow, deployment_id)
    if not 0 <= weight <= 100:
        raise UserInputError.one(ErrorCode.INVALID_WEIGHTS, "weight must be 0..100", "weight")
    rows = await env_deployments(uow, row.environment_id)
    row = _waiting_canary(rows, deployment_id)
    base = row.previous_id
    if base is None or base not in {r.id for r in rows} or not _by_id(rows, base).upstreams:
        raise UserInputError.one(
            ErrorCode.INVALID_STATE, "no earlier release to split traffic with", "deploymentId"
        )
    set_weights(uow, rows, {row.id: weight, base: 100 - weight}, step="split")
    _audit(uow, row, "deployment.set_traffic_split", {"weight": weight})
    return row


def _waiting_canary(rows: list[models.Deployment], deployment_id: uuid.UUID) -> models.Deployment:
    for r in rows:
        if r.id == deployment_id and r.status == DeploymentStatus.VERIFYING and r.worker_id is None:
            return r
    raise UserInputError.one(
        ErrorCode.INVALID_STATE, "only a canary waiting for promotion can do this", "deploymentId"
    )


async def rollback_deployment(
    uow: UnitOfWork, *, deployment_id: uuid.UUID
) -> tuple[models.Deployment, list[models.Deployment]]:
    """Serve a retained release again at once (no rebuild); returns it and what now serves."""
    target = await _locked(uow, deployment_id)
    rows = await env_deployments(uow, target.environment_id)
    ids = {r.id for r in rows}
    if target.id not in ids:
        raise _not_retained()
    target = _by_id(rows, target.id)
    if target.status not in RETAINED or not target.upstreams:
        raise _not_retained()
    set_weights(uow, rows, {target.id: 100}, step="rollback")
    for other in rows:
        if other.id == target.id:
            continue
        if other.status == DeploymentStatus.ACTIVE:
            supersede(uow, other, uow.deps.settings.deploy_retention_seconds)
        elif not other.status.is_terminal:
            end_rollout(uow, other, DeploymentStatus.ROLLED_BACK, "ROLLED_BACK", "rolled back")
    if target.status != DeploymentStatus.ACTIVE:
        target.status, target.retained_until = DeploymentStatus.ACTIVE, None
        deploy_events.record(
            uow, target, DeploymentEventKind.ROLLBACK, "rolled back to this release"
        )
    _audit(uow, target, "deployment.rollback", {"number": target.number})
    return target, [target]


def _not_retained() -> UserInputError:
    return UserInputError.one(
        ErrorCode.RELEASE_NOT_RETAINED,
        "that release is no longer running; deploy its build again",
        "deploymentId",
    )


def _audit(
    uow: UnitOfWork, row: models.Deployment, action: str, changes: dict[str, object] | None
) -> None:
    audit.record(
        uow,
        action=action,
        target_type="Deployment",
        target_id=row.id,
        team_id=row.team_id,
        changes=changes,
    )
