"""Projects and their environments."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import audit, validation, variables
from app.domain.pagination import Page, keyset_page
from app.domain.policy import Action, authorize
from app.domain.principal import Principal
from app.errors import ErrorCode, NotFound, UserInputError
from app.uow import UnitOfWork
from db import models
from db.enums import EnvironmentKind, Framework

MAX_PROJECTS_PER_TEAM = 500
GIT_URL_RE = re.compile(r"^(https://|http://|ssh://|file://|git@[\w.-]+:)\S+$")
DEFAULT_ENVIRONMENTS = (
    ("production", EnvironmentKind.PRODUCTION),
    ("preview", EnvironmentKind.PREVIEW),
    ("development", EnvironmentKind.DEVELOPMENT),
)


@dataclass(frozen=True, slots=True)
class ProjectSettings:
    """Fields a client may set; None means "leave as is" on update."""

    name: str | None = None
    slug: str | None = None
    git_url: str | None = None
    production_branch: str | None = None
    root_directory: str | None = None
    framework: Framework | None = None
    install_command: str | None = None
    build_command: str | None = None
    start_command: str | None = None
    output_directory: str | None = None
    health_check_path: str | None = None
    auto_deploy: bool | None = None


def _clean(s: ProjectSettings) -> dict[str, object]:
    out: dict[str, object] = {}
    for f in fields(s):
        value = getattr(s, f.name)
        if value is not None:
            out[f.name] = value
    if "name" in out:
        out["name"] = validation.name(str(out["name"]))
    if "slug" in out:
        out["slug"] = validation.slug(str(out["slug"]))
    git_url = out.get("git_url")
    if git_url and not GIT_URL_RE.match(str(git_url)):
        raise UserInputError.one(
            ErrorCode.INVALID_GIT_URL,
            "git URL must be https://, ssh://, file:// or git@host:path",
            "gitUrl",
        )
    branch = out.get("production_branch")
    if branch is not None and not re.fullmatch(r"[\w./-]{1,255}", str(branch)):
        raise UserInputError.one(
            ErrorCode.INVALID_BRANCH, "branch name is not valid", "productionBranch"
        )
    for key in ("root_directory", "output_directory"):
        path = out.get(key)
        if path and (str(path).startswith("/") or ".." in str(path).split("/")):
            raise UserInputError.one(
                ErrorCode.INVALID_PATH, "path must be relative, without '..'", _camel(key)
            )
    hc = out.get("health_check_path")
    if hc is not None and not str(hc).startswith("/"):
        raise UserInputError.one(
            ErrorCode.INVALID_PATH, "health-check path must start with '/'", "healthCheckPath"
        )
    for key in ("install_command", "build_command", "start_command"):
        if key in out and len(str(out[key])) > 2048:
            raise UserInputError.one(
                ErrorCode.TOO_LONG, "command is longer than 2048 characters", _camel(key)
            )
    return out


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


async def _flush_slug(uow: UnitOfWork) -> None:
    try:
        async with uow.session.begin_nested():
            await uow.session.flush()
    except IntegrityError:
        raise UserInputError.one(
            ErrorCode.SLUG_TAKEN, "a project with this slug exists in the team", "slug"
        ) from None


async def create_project(
    uow: UnitOfWork, *, team_id: uuid.UUID, settings: ProjectSettings
) -> models.Project:
    await authorize(uow.session, uow.principal, team_id, Action.PROJECT_WRITE, what="team")
    values = _clean(settings)
    if "name" not in values:
        raise UserInputError.one(ErrorCode.REQUIRED, "name is required", "name")
    values.setdefault("slug", validation.slugify(str(values["name"])))
    values.setdefault("framework", Framework.AUTO)
    count = len(
        (
            await uow.session.scalars(
                select(models.Project.id).where(models.Project.team_id == team_id)
            )
        ).all()
    )
    if count >= MAX_PROJECTS_PER_TEAM:
        raise UserInputError.one(
            ErrorCode.LIMIT_REACHED, f"at most {MAX_PROJECTS_PER_TEAM} projects"
        )
    project = models.Project(id=uuid.uuid4(), team_id=team_id, **values)
    uow.session.add(project)
    await _flush_slug(uow)
    for name, kind in DEFAULT_ENVIRONMENTS:
        uow.session.add(
            models.Environment(
                id=uuid.uuid4(), project_id=project.id, team_id=team_id, name=name, kind=kind
            )
        )
    audit.record(
        uow,
        action="project.create",
        target_type="Project",
        target_id=project.id,
        team_id=team_id,
        changes={k: str(v) for k, v in values.items()},
    )
    return project


async def update_project(
    uow: UnitOfWork, *, project_id: uuid.UUID, settings: ProjectSettings
) -> models.Project:
    project = await uow.session.get(models.Project, project_id, with_for_update=True)
    if project is None:
        raise NotFound("project")
    await authorize(
        uow.session, uow.principal, project.team_id, Action.PROJECT_WRITE, what="project"
    )
    values = _clean(settings)
    for key, value in values.items():
        setattr(project, key, value)
    await _flush_slug(uow)
    audit.record(
        uow,
        action="project.update",
        target_type="Project",
        target_id=project.id,
        team_id=project.team_id,
        changes={k: str(v) for k, v in values.items()},
    )
    return project


async def delete_project(uow: UnitOfWork, *, project_id: uuid.UUID) -> uuid.UUID:
    project = await uow.session.get(models.Project, project_id)
    if project is None:
        raise NotFound("project")
    await authorize(
        uow.session, uow.principal, project.team_id, Action.PROJECT_DELETE, what="project"
    )
    audit.record(
        uow,
        action="project.delete",
        target_type="Project",
        target_id=project.id,
        team_id=project.team_id,
        changes={"slug": project.slug},
    )
    await uow.session.delete(project)
    return project_id


async def get_project(
    session: AsyncSession, principal: Principal | None, *, project_id: uuid.UUID
) -> models.Project:
    project = await session.get(models.Project, project_id)
    if project is None:
        raise NotFound("project")
    await authorize(session, principal, project.team_id, Action.READ, what="project")
    return project


async def list_projects(
    session: AsyncSession,
    principal: Principal | None,
    *,
    team_id: uuid.UUID,
    first: int,
    after: str | None,
) -> Page[models.Project]:
    await authorize(session, principal, team_id, Action.READ, what="team")
    q = select(models.Project).where(models.Project.team_id == team_id)
    return await keyset_page(
        session, q, models.Project.created_at, models.Project.id, first=first, after=after
    )


async def environments_of(
    session: AsyncSession, project_ids: Sequence[uuid.UUID]
) -> list[models.Environment]:
    """Batch read for loaders; callers have already authorized the projects."""
    rows = await session.scalars(
        select(models.Environment)
        .where(models.Environment.project_id.in_(project_ids))
        .order_by(models.Environment.created_at, models.Environment.name)
    )
    return list(rows.all())


async def environments_with_variables_of(
    session: AsyncSession, project_ids: Sequence[uuid.UUID]
) -> list[tuple[models.Environment, list[variables.VariableMetadata]]]:
    """environments_of with each one's variable metadata, in one statement."""
    e = models.Environment
    rows = await session.execute(
        select(e, variables.metadata_json(e.id))
        .where(e.project_id.in_(project_ids))
        .order_by(e.created_at, e.name)
    )
    return [(env, [variables.VariableMetadata.from_json(v) for v in items]) for env, items in rows]


async def get_environment(
    session: AsyncSession, principal: Principal | None, *, environment_id: uuid.UUID
) -> models.Environment:
    env = await session.get(models.Environment, environment_id)
    if env is None:
        raise NotFound("environment")
    await authorize(session, principal, env.team_id, Action.READ, what="environment")
    return env
