"""`node(id:)` / `nodes(ids:)`: fetch any object by its global id, with the same
authorization as the object's own query (another team's object is not found)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import (
    accounts,
    api_keys,
    audit,
    builds,
    deployment_reads,
    projects,
    teams,
    variables,
)
from app.domain.principal import Principal
from app.errors import NotFound
from resolvers.audit import AuditLogEntry
from resolvers.builds import Build
from resolvers.common import Node
from resolvers.context import Info
from resolvers.deployments import with_environment
from resolvers.environments import Environment, EnvironmentVariable
from resolvers.identity import ApiKey
from resolvers.ids import from_global_id
from resolvers.projects import Project
from resolvers.teams import Team, TeamInvitation, TeamMember
from resolvers.users import User

Fetch = Callable[[AsyncSession, Principal | None, uuid.UUID], Awaitable[Node]]


async def _team(s: AsyncSession, p: Principal | None, i: uuid.UUID) -> Node:
    return Team.from_row(await teams.get_team(s, p, team_id=i))


async def _project(s: AsyncSession, p: Principal | None, i: uuid.UUID) -> Node:
    return Project.from_row(await projects.get_project(s, p, project_id=i))


async def _environment(s: AsyncSession, p: Principal | None, i: uuid.UUID) -> Node:
    env = await projects.get_environment(s, p, environment_id=i)
    project = await projects.get_project(s, p, project_id=env.project_id)
    return Environment.from_row(env, project.slug)


async def _variable(s: AsyncSession, p: Principal | None, i: uuid.UUID) -> Node:
    return EnvironmentVariable.from_row(await variables.get_variable(s, p, variable_id=i))


async def _member(s: AsyncSession, p: Principal | None, i: uuid.UUID) -> Node:
    return TeamMember.from_row(await teams.get_member(s, p, member_id=i))


async def _invitation(s: AsyncSession, p: Principal | None, i: uuid.UUID) -> Node:
    return TeamInvitation.from_row(await teams.get_invitation(s, p, invitation_id=i))


async def _api_key(s: AsyncSession, p: Principal | None, i: uuid.UUID) -> Node:
    return ApiKey.from_row(await api_keys.get_api_key(s, p, api_key_id=i))


async def _audit(s: AsyncSession, p: Principal | None, i: uuid.UUID) -> Node:
    return AuditLogEntry.from_row(await audit.get_entry(s, p, entry_id=i))


async def _user(s: AsyncSession, p: Principal | None, i: uuid.UUID) -> Node:
    return User.from_row(await accounts.get_visible_user(s, p, user_id=i))


async def _build(s: AsyncSession, p: Principal | None, i: uuid.UUID) -> Node:
    return Build.from_row(await builds.get_build(s, p, build_id=i))


async def _deployment(s: AsyncSession, p: Principal | None, i: uuid.UUID) -> Node:
    row = await deployment_reads.get_deployment(s, p, deployment_id=i)
    envs = await deployment_reads.environment_refs(s, {row.environment_id})
    return with_environment(row, envs)


FETCHERS: dict[str, Fetch] = {
    "Build": _build,
    "Deployment": _deployment,
    "Team": _team,
    "Project": _project,
    "Environment": _environment,
    "EnvironmentVariable": _variable,
    "TeamMember": _member,
    "TeamInvitation": _invitation,
    "ApiKey": _api_key,
    "AuditLogEntry": _audit,
    "User": _user,
}


async def fetch_node(info: Info, global_id: str) -> Node:
    type_name, row_id = from_global_id(global_id)
    fetch = FETCHERS.get(type_name)
    if fetch is None:
        raise NotFound("object")
    async with info.context.session() as s:
        return await fetch(s, await info.context.principal(), row_id)


async def fetch_node_or_none(info: Info, global_id: str) -> Node | None:
    try:
        return await fetch_node(info, global_id)
    except NotFound:
        return None
