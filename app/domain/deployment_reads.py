"""Reads of deployments for the API: one deployment, a project's page, what serves now.

Every read authorizes the caller (READ on the team) before returning rows.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.pagination import Page, keyset_page
from app.domain.policy import Action, authorize
from app.domain.principal import Principal
from app.domain.projects import get_project
from app.errors import NotFound
from db import models


async def get_deployment(
    session: AsyncSession, principal: Principal | None, *, deployment_id: uuid.UUID
) -> models.Deployment:
    row = await session.get(models.Deployment, deployment_id)
    if row is None:
        raise NotFound("deployment")
    await authorize(session, principal, row.team_id, Action.READ, what="deployment")
    return row


async def list_deployments(
    session: AsyncSession,
    principal: Principal | None,
    *,
    project_id: uuid.UUID,
    first: int,
    after: str | None,
    environment: str | None = None,
) -> Page[models.Deployment]:
    """Newest first; only those of the named environment when given (none if it is unknown)."""
    await get_project(session, principal, project_id=project_id)
    q = select(models.Deployment).where(models.Deployment.project_id == project_id)
    if environment is not None:
        q = q.join(
            models.Environment, models.Environment.id == models.Deployment.environment_id
        ).where(models.Environment.name == environment)
    return await keyset_page(
        session,
        q,
        models.Deployment.created_at,
        models.Deployment.id,
        first=first,
        after=after,
        newest_first=True,
    )


async def active_deployments(
    session: AsyncSession, principal: Principal | None, *, project_id: uuid.UUID, environment: str
) -> list[models.Deployment]:
    """Deployments the router sends traffic to (weight > 0), heaviest first."""
    await get_project(session, principal, project_id=project_id)
    rows = await session.scalars(
        select(models.Deployment)
        .join(models.Environment, models.Environment.id == models.Deployment.environment_id)
        .where(
            models.Deployment.project_id == project_id,
            models.Environment.name == environment,
            models.Deployment.traffic_weight > 0,
        )
        .order_by(models.Deployment.traffic_weight.desc(), models.Deployment.created_at)
    )
    return list(rows)


async def environment_refs(
    session: AsyncSession, environment_ids: set[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str]]:
    """(name, project slug) per environment, for deployment rows already authorized by the
    caller (one statement a page)."""
    if not environment_ids:
        return {}
    rows = await session.execute(
        select(models.Environment.id, models.Environment.name, models.Project.slug)
        .join(models.Project, models.Project.id == models.Environment.project_id)
        .where(models.Environment.id.in_(environment_ids))
    )
    return {i: (name, slug) for i, name, slug in rows}
