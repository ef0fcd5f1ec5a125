"""Branch previews: each non-production branch gets its own environment, URL and expiry.

The project's "preview" environment is the template: it holds the variables every preview
sees and is never deployed to itself. A build or deployment of another branch goes to that
branch's preview environment (created on first use, named `preview-<branch>`), which
inherits the template's variables (its own override them). Each deploy to a preview pushes
its expiry `preview_retention_seconds` ahead; the worker's cleanup job (`expire_previews`)
then ends its deployments, removes its route and stops its releases. Deleting the branch
expires the preview at once; a later push to the branch brings it back.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.deps import Deps
from app.domain import deploy_events
from app.domain.rollout_traffic import env_deployments, set_weights
from app.uow import UnitOfWork, transaction
from db import models
from db.enums import DeploymentEventKind, DeploymentStatus, EnvironmentKind

log = logging.getLogger(__name__)

TEMPLATE = "preview"
PREFIX = "preview-"
NAME_MAX = 48  # environments.name
EXPIRED = "PREVIEW_EXPIRED"
_NOT_NAME = re.compile(r"[^a-z0-9]+")


def is_template(env: models.Environment) -> bool:
    return env.kind == EnvironmentKind.PREVIEW and env.branch is None


def preview_name(branch: str) -> str:
    """`feature/Login` -> `preview-feature-login`; long names keep a prefix plus a hash."""
    slug = _NOT_NAME.sub("-", branch.lower()).strip("-") or "branch"
    name = PREFIX + slug
    return name if len(name) <= NAME_MAX else _with_digest(name, branch)


def _with_digest(name: str, branch: str) -> str:
    """`name` cut to fit NAME_MAX with 8 hex digits of the branch's hash: distinct per branch."""
    digest = hashlib.sha256(branch.encode()).hexdigest()[:8]
    return f"{name[: NAME_MAX - len(digest) - 1].rstrip('-')}-{digest}"


async def branch_environment(
    uow: UnitOfWork, project: models.Project, template: models.Environment, branch: str
) -> models.Environment:
    """The branch's preview environment, created on first use (the caller holds the project
    row lock, which serialises concurrent first pushes of one branch). A deploy revives an
    expired one (`extend`); a build alone does not."""
    env = await uow.session.scalar(
        select(models.Environment).where(
            models.Environment.project_id == project.id, models.Environment.branch == branch
        )
    )
    if env is None:
        name = preview_name(branch)
        taken = await uow.session.scalar(
            select(models.Environment.id).where(
                models.Environment.project_id == project.id, models.Environment.name == name
            )
        )
        if taken is not None:  # two branches with the same slug ("a/b" and "a-b")
            name = _with_digest(name, branch)
        env = models.Environment(
            id=uuid.uuid4(),
            project_id=project.id,
            team_id=project.team_id,
            name=name,
            kind=EnvironmentKind.PREVIEW,
            branch=branch,
            template_id=template.id,
        )
        uow.session.add(env)
        await uow.session.flush()
    return env


def extend(uow: UnitOfWork, env: models.Environment) -> None:
    """A deploy to a preview keeps it alive for another retention period."""
    if env.branch is not None:
        env.expires_at = datetime.now(UTC) + timedelta(
            seconds=uow.deps.settings.preview_retention_seconds
        )
        env.expired_at = None


async def expire_branch(uow: UnitOfWork, project: models.Project, branch: str) -> bool:
    """The branch was deleted: its preview expires now (the cleanup job ends it)."""
    env = await uow.session.scalar(
        select(models.Environment).where(
            models.Environment.project_id == project.id,
            models.Environment.branch == branch,
            models.Environment.expired_at.is_(None),
        )
    )
    if env is None:
        return False
    env.expires_at = datetime.now(UTC)
    return True


async def expire_previews(deps: Deps, *, limit: int = 100) -> list[str]:
    """End the previews past their expiry; returns the release ids to stop.

    One transaction per environment, with its rows locked like any traffic change, so a
    rollout in progress there is fenced out (its worker_id is cleared) rather than raced.
    """
    async with deps.sessionmaker() as s:
        due = (
            await s.scalars(
                select(models.Environment.id)
                .where(
                    models.Environment.branch.is_not(None),
                    models.Environment.expired_at.is_(None),
                    models.Environment.expires_at < datetime.now(UTC),
                )
                .order_by(models.Environment.expires_at)
                .limit(limit)
            )
        ).all()
    releases: list[str] = []
    for env_id in due:
        try:
            releases += await _expire_one(deps, env_id)
        except Exception:
            log.exception("expiring preview environment %s failed", env_id)
    return releases


async def _expire_one(deps: Deps, env_id: uuid.UUID) -> list[str]:
    async with transaction(deps, None) as uow:
        rows = await env_deployments(uow, env_id)
        env = await uow.session.get(models.Environment, env_id, populate_existing=True)
        if env is None or env.expired_at is not None or env.expires_at is None:
            return []
        if env.expires_at >= datetime.now(UTC):  # a deploy extended it meanwhile
            return []
        # Deployments still queued or building hold no row lock here: end them too.
        pending = await uow.session.scalars(
            select(models.Deployment)
            .where(
                models.Deployment.environment_id == env_id,
                models.Deployment.status.in_(
                    [s for s in DeploymentStatus if s.in_rollout or s == DeploymentStatus.QUEUED]
                ),
            )
            .with_for_update()
        )
        held = {r.id: r for r in rows} | {r.id: r for r in pending}
        if rows:
            set_weights(uow, rows, {}, step="expired")
        releases = [r.release_id for r in held.values() if r.release_id and r.upstreams]
        now = datetime.now(UTC)
        for row in held.values():
            if row.status == DeploymentStatus.ACTIVE:
                row.status, row.reason = DeploymentStatus.SUPERSEDED, EXPIRED
            elif not row.status.is_terminal:
                row.status, row.reason = DeploymentStatus.CANCELED, EXPIRED
                row.message, row.finished_at = "preview expired", now
            row.upstreams, row.retained_until, row.worker_id = None, None, None
            deploy_events.record(
                uow,
                row,
                DeploymentEventKind.STATUS,
                "preview expired: stopped and no longer routed",
                payload={"reason": EXPIRED, "environment": env.name},
            )
        env.expired_at = now
    return releases
