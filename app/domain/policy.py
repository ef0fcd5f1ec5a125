"""The one place that decides what a principal may do in a team.

An object in a team the principal is not a member of is reported as not found,
never as forbidden, so team membership cannot be probed.
"""

from __future__ import annotations

import enum
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.principal import Principal, require_principal
from app.errors import Forbidden, NotFound
from db import models
from db.enums import ApiKeyScope, TeamRole


class Action(enum.StrEnum):
    READ = "read"  # team, projects, environments, variable metadata, members
    AUDIT_READ = "audit.read"
    PROJECT_WRITE = "project.write"
    PROJECT_DELETE = "project.delete"
    VARIABLES_WRITE = "variables.write"
    DEPLOY = "deploy"
    TEAM_UPDATE = "team.update"
    TEAM_DELETE = "team.delete"
    MEMBERS_MANAGE = "members.manage"
    OWNERS_MANAGE = "owners.manage"
    API_KEYS_MANAGE = "api_keys.manage"


_VIEWER = frozenset({Action.READ})
_DEVELOPER = _VIEWER | {Action.PROJECT_WRITE, Action.VARIABLES_WRITE, Action.DEPLOY}
_ADMIN = _DEVELOPER | {
    Action.AUDIT_READ,
    Action.PROJECT_DELETE,
    Action.TEAM_UPDATE,
    Action.MEMBERS_MANAGE,
    Action.API_KEYS_MANAGE,
}
_OWNER = _ADMIN | {Action.TEAM_DELETE, Action.OWNERS_MANAGE}

ROLE_ACTIONS: dict[TeamRole, frozenset[Action]] = {
    TeamRole.VIEWER: _VIEWER,
    TeamRole.DEVELOPER: _DEVELOPER,
    TeamRole.ADMIN: _ADMIN,
    TeamRole.OWNER: _OWNER,
}

# An API key can do what its creator's role allows AND what its scopes allow.
SCOPE_ACTIONS: dict[ApiKeyScope, frozenset[Action]] = {
    ApiKeyScope.READ: frozenset({Action.READ, Action.AUDIT_READ}),
    ApiKeyScope.WRITE: frozenset(
        {Action.PROJECT_WRITE, Action.PROJECT_DELETE, Action.VARIABLES_WRITE}
    ),
    ApiKeyScope.DEPLOY: frozenset({Action.DEPLOY}),
    ApiKeyScope.ADMIN: frozenset(
        {Action.TEAM_UPDATE, Action.MEMBERS_MANAGE, Action.API_KEYS_MANAGE}
    ),
}


def allowed_actions(principal: Principal, role: TeamRole) -> frozenset[Action]:
    actions = ROLE_ACTIONS[role]
    if principal.scopes is not None:
        scoped: set[Action] = set()
        for scope in principal.scopes:
            scoped |= SCOPE_ACTIONS[scope]
        actions = actions & frozenset(scoped)
    return actions


async def team_role(
    session: AsyncSession, principal: Principal, team_id: uuid.UUID
) -> TeamRole | None:
    if principal.api_key_team_id is not None and principal.api_key_team_id != team_id:
        return None
    if team_id not in principal.roles:
        principal.roles[team_id] = await session.scalar(
            select(models.TeamMember.role).where(
                models.TeamMember.team_id == team_id,
                models.TeamMember.user_id == principal.user_id,
            )
        )
    return principal.roles[team_id]


async def authorize(
    session: AsyncSession,
    principal: Principal | None,
    team_id: uuid.UUID,
    action: Action,
    *,
    what: str = "object",
) -> TeamRole:
    """Return the principal's role, or raise NotFound (not a member) / Forbidden."""
    p = require_principal(principal)
    role = await team_role(session, p, team_id)
    if role is None:
        raise NotFound(what)
    if action not in allowed_actions(p, role):
        raise Forbidden(f"your role or key does not allow {action.value!s}")
    return role
