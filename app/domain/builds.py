"""Builds as the API sees them: trigger (idempotent), cancel, read, and status events.

The work itself is done by `app/domain/build_runner.py` in an arq job.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import activity, audit, previews
from app.domain.build_logs import publish_end
from app.domain.pagination import Page, keyset_page
from app.domain.policy import Action, authorize
from app.domain.principal import Principal
from app.errors import ErrorCode, NotFound, UserInputError
from app.uow import UnitOfWork
from db import models
from db.enums import BuildStatus, BuildTrigger

RUN_BUILD_JOB = "run_build"
REF_RE = re.compile(r"^(?!.*\.\.)(?!/)(?!.*//)[\w./@+-]{1,255}(?<!/)(?<!\.lock)$")


def build_job_id(build_id: uuid.UUID) -> str:
    return f"build:{build_id}"


def events_stream(build_id: uuid.UUID) -> str:
    return f"stratus:build:{build_id}:events"


def cancel_key(build_id: uuid.UUID) -> str:
    return f"stratus:build:{build_id}:cancel"


def status_event(build: models.Build) -> dict[str, Any]:
    return {
        "status": build.status.value,
        "step": build.current_step.value if build.current_step else None,
        "reason": build.reason,
        "message": build.message,
        "at": datetime.now(UTC).isoformat(),
    }


def publish_status(uow: UnitOfWork, build: models.Build) -> None:
    """After commit: the build's own status stream and its project's activity feed."""
    event = status_event(build)
    uow.publish(events_stream(build.id), event)
    uow.publish(activity.project_stream(build.project_id), activity.build_entry(build, event["at"]))


async def environment_for(
    uow: UnitOfWork, project: models.Project, name: str | None, ref: str
) -> models.Environment:
    if name is None:
        # Pushes and builds of the production branch go to production, others to preview.
        name = "production" if ref == project.production_branch else "preview"
    env = await uow.session.scalar(
        select(models.Environment).where(
            models.Environment.project_id == project.id, models.Environment.name == name
        )
    )
    if env is None:
        raise UserInputError.one(
            ErrorCode.UNKNOWN_ENVIRONMENT, f"project has no environment {name!r}", "environment"
        )
    if previews.is_template(env):
        # "preview" stands for the branch's own preview environment.
        if not REF_RE.match(ref):
            raise UserInputError.one(
                ErrorCode.INVALID_REF, "not a valid branch, tag or commit", "ref"
            )
        if ref == project.production_branch:
            raise UserInputError.one(
                ErrorCode.INVALID_ARGUMENT,
                "a preview needs a branch other than the production branch",
                "environment",
            )
        return await previews.branch_environment(uow, project, env, ref)
    return env


async def trigger_build(
    uow: UnitOfWork,
    *,
    project_id: uuid.UUID,
    ref: str | None,
    environment: str | None,
    idempotency_key: str | None,
) -> models.Build:
    project = await uow.session.get(models.Project, project_id, with_for_update=True)
    if project is None:
        raise NotFound("project")
    await authorize(uow.session, uow.principal, project.team_id, Action.DEPLOY, what="project")
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 128:
            raise UserInputError.one(
                ErrorCode.INVALID_ARGUMENT,
                "idempotency key must be 1-128 characters",
                "idempotencyKey",
            )
        # The project row lock above serialises concurrent triggers with the same key.
        existing = await uow.session.scalar(
            select(models.Build).where(
                models.Build.project_id == project.id,
                models.Build.idempotency_key == idempotency_key,
            )
        )
        if existing is not None:
            audit.record(
                uow,
                action="build.trigger_replayed",
                target_type="Build",
                target_id=existing.id,
                team_id=project.team_id,
                changes={"idempotencyKey": idempotency_key},
            )
            return existing
    ref = (ref or project.production_branch).strip()
    env = await environment_for(uow, project, environment, ref)
    return await create_build(
        uow, project, env, ref=ref, trigger=BuildTrigger.MANUAL, idempotency_key=idempotency_key
    )


async def create_build(
    uow: UnitOfWork,
    project: models.Project,
    env: models.Environment,
    *,
    ref: str,
    trigger: BuildTrigger,
    idempotency_key: str | None = None,
    audit_changes: dict[str, Any] | None = None,
) -> models.Build:
    """Queue a build of an already authorized project (the caller holds its row lock)."""
    if not REF_RE.match(ref):
        raise UserInputError.one(ErrorCode.INVALID_REF, "not a valid branch, tag or commit", "ref")
    if not project.git_url:
        raise UserInputError.one(
            ErrorCode.GIT_URL_MISSING, "set the project's git URL before building", "projectId"
        )
    last = await uow.session.scalar(
        select(func.coalesce(func.max(models.Build.number), 0)).where(
            models.Build.project_id == project.id
        )
    )
    p = uow.principal
    build = models.Build(
        id=uuid.uuid4(),
        team_id=project.team_id,
        project_id=project.id,
        environment_id=env.id,
        number=(last or 0) + 1,
        git_ref=ref,
        trigger=trigger,
        status=BuildStatus.QUEUED,
        steps=[],
        idempotency_key=idempotency_key,
        created_by_id=p.user_id if p else None,
        attempt=0,
        last_log_seq=0,
    )
    uow.session.add(build)
    audit.record(
        uow,
        action="build.trigger",
        target_type="Build",
        target_id=build.id,
        team_id=project.team_id,
        changes={
            "ref": ref,
            "environment": env.name,
            "trigger": trigger.value,
            **(audit_changes or {}),
        },
    )
    publish_status(uow, build)
    uow.enqueue(RUN_BUILD_JOB, str(build.id), job_id=build_job_id(build.id))
    return build


async def cancel_build(uow: UnitOfWork, *, build_id: uuid.UUID) -> models.Build:
    build = await uow.session.get(models.Build, build_id, with_for_update=True)
    if build is None:
        raise NotFound("build")
    await authorize(uow.session, uow.principal, build.team_id, Action.DEPLOY, what="build")
    if build.status.is_terminal:
        raise UserInputError.one(
            ErrorCode.BUILD_FINISHED, f"build already ended ({build.status.value})", "buildId"
        )
    now = datetime.now(UTC)
    build.cancel_requested_at = now
    if build.status == BuildStatus.QUEUED:
        build.status, build.reason, build.finished_at = BuildStatus.CANCELED, "CANCELED", now
        build.message = "canceled before it started"
        uow.after_commit(lambda: publish_end(uow.deps.events, build_id, BuildStatus.CANCELED))
    else:
        # The running job polls this key and stops its step within two seconds.
        uow.after_commit(lambda: _signal_cancel(uow, build_id))
    publish_status(uow, build)
    audit.record(
        uow, action="build.cancel", target_type="Build", target_id=build.id, team_id=build.team_id
    )
    return build


async def _signal_cancel(uow: UnitOfWork, build_id: uuid.UUID) -> None:
    await uow.deps.redis.set(cancel_key(build_id), b"1", ex=86_400)


async def builds_of(session: AsyncSession, build_ids: Sequence[uuid.UUID]) -> list[models.Build]:
    """Batch read for loaders; callers have already authorized what points at the builds."""
    rows = await session.scalars(select(models.Build).where(models.Build.id.in_(build_ids)))
    return list(rows.all())


async def get_build(
    session: AsyncSession, principal: Principal | None, *, build_id: uuid.UUID
) -> models.Build:
    build = await session.get(models.Build, build_id)
    if build is None:
        raise NotFound("build")
    await authorize(session, principal, build.team_id, Action.READ, what="build")
    return build


async def list_builds(
    session: AsyncSession,
    principal: Principal | None,
    *,
    project_id: uuid.UUID,
    first: int,
    after: str | None,
) -> Page[models.Build]:
    project = await session.get(models.Project, project_id)
    if project is None:
        raise NotFound("project")
    await authorize(session, principal, project.team_id, Action.READ, what="project")
    q = select(models.Build).where(models.Build.project_id == project_id)
    return await keyset_page(
        session,
        q,
        models.Build.created_at,
        models.Build.id,
        first=first,
        after=after,
        newest_first=True,
    )
