"""Teams, membership, roles and invitations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import audit, validation
from app.domain.policy import Action, allowed_actions, authorize
from app.domain.principal import Principal, require_principal, require_user_session
from app.errors import ErrorCode, Forbidden, NotFound, UserInputError
from app.security import tokens
from app.uow import UnitOfWork
from db import models
from db.enums import TeamRole

INVITATION_TTL = timedelta(days=7)
MAX_TEAMS_PER_USER = 100


async def create_team_for(
    uow: UnitOfWork, user: models.User, *, name: str, slug: str | None = None
) -> models.Team:
    name = validation.name(name)
    team = models.Team(
        id=uuid.uuid4(),
        name=name,
        slug=validation.slug(slug) if slug else validation.slugify(name, suffix=True),
    )
    uow.session.add(team)
    try:
        async with uow.session.begin_nested():
            await uow.session.flush()
    except IntegrityError:
        raise UserInputError.one(
            ErrorCode.SLUG_TAKEN, "a team with this slug exists", "slug"
        ) from None
    uow.session.add(models.TeamMember(team_id=team.id, user_id=user.id, role=TeamRole.OWNER))
    audit.record(
        uow,
        action="team.create",
        target_type="Team",
        target_id=team.id,
        team_id=team.id,
        actor_user_id=user.id,
        changes={"name": name, "slug": team.slug},
    )
    return team


async def create_team(uow: UnitOfWork, *, name: str, slug: str | None) -> models.Team:
    p = require_user_session(uow.principal)
    count = await uow.session.scalar(
        select(func.count())
        .select_from(models.TeamMember)
        .where(models.TeamMember.user_id == p.user_id)
    )
    if (count or 0) >= MAX_TEAMS_PER_USER:
        raise UserInputError.one(
            ErrorCode.LIMIT_REACHED, f"at most {MAX_TEAMS_PER_USER} teams per user"
        )
    user = await uow.session.get(models.User, p.user_id)
    if user is None:
        raise NotFound("user")
    return await create_team_for(uow, user, name=name, slug=slug)


async def get_team(
    session: AsyncSession, principal: Principal | None, *, team_id: uuid.UUID
) -> models.Team:
    await authorize(session, principal, team_id, Action.READ, what="team")
    team = await session.get(models.Team, team_id)
    if team is None:
        raise NotFound("team")
    return team


async def get_team_by_slug(
    session: AsyncSession, principal: Principal | None, *, slug: str
) -> models.Team:
    # Credentials first: slugs are guessable, and an anonymous caller must not learn
    # which ones exist from NOT_FOUND vs UNAUTHENTICATED.
    require_principal(principal)
    team = await session.scalar(select(models.Team).where(models.Team.slug == slug))
    if team is None:
        raise NotFound("team")
    await authorize(session, principal, team.id, Action.READ, what="team")
    return team


async def list_viewer_teams(
    session: AsyncSession, principal: Principal | None
) -> list[models.Team]:
    p = require_principal(principal)
    q = (
        select(models.Team)
        .join(models.TeamMember, models.TeamMember.team_id == models.Team.id)
        .where(models.TeamMember.user_id == p.user_id)
        .order_by(models.Team.created_at, models.Team.id)
    )
    if p.api_key_team_id is not None:
        q = q.where(models.Team.id == p.api_key_team_id)
    return list((await session.scalars(q)).all())


async def update_team(
    uow: UnitOfWork, *, team_id: uuid.UUID, name: str | None, slug: str | None
) -> models.Team:
    await authorize(uow.session, uow.principal, team_id, Action.TEAM_UPDATE, what="team")
    team = await uow.session.get(models.Team, team_id, with_for_update=True)
    if team is None:
        raise NotFound("team")
    changes: dict[str, object] = {}
    if name is not None:
        team.name = changes["name"] = validation.name(name)
    if slug is not None:
        team.slug = changes["slug"] = validation.slug(slug)
    try:
        async with uow.session.begin_nested():
            await uow.session.flush()
    except IntegrityError:
        raise UserInputError.one(
            ErrorCode.SLUG_TAKEN, "a team with this slug exists", "slug"
        ) from None
    audit.record(
        uow,
        action="team.update",
        target_type="Team",
        target_id=team.id,
        team_id=team.id,
        changes=changes,
    )
    return team


async def delete_team(uow: UnitOfWork, *, team_id: uuid.UUID) -> uuid.UUID:
    await authorize(uow.session, uow.principal, team_id, Action.TEAM_DELETE, what="team")
    team = await uow.session.get(models.Team, team_id)
    if team is None:
        raise NotFound("team")
    # The entry outlives nothing (cascade); it is written for the actor's own log stream.
    audit.record(
        uow,
        action="team.delete",
        target_type="Team",
        target_id=team.id,
        team_id=None,
        changes={"name": team.name, "slug": team.slug},
    )
    await uow.session.delete(team)
    return team_id


async def list_members(
    session: AsyncSession, principal: Principal | None, *, team_id: uuid.UUID
) -> list[models.TeamMember]:
    await authorize(session, principal, team_id, Action.READ, what="team")
    rows = await session.scalars(
        select(models.TeamMember)
        .where(models.TeamMember.team_id == team_id)
        .order_by(models.TeamMember.created_at, models.TeamMember.id)
    )
    return list(rows.all())


@dataclass(frozen=True, slots=True)
class NewInvitation:
    invitation: models.TeamInvitation
    token: str


async def invite_member(
    uow: UnitOfWork, *, team_id: uuid.UUID, email: str, role: TeamRole
) -> NewInvitation:
    my_role = await authorize(
        uow.session, uow.principal, team_id, Action.MEMBERS_MANAGE, what="team"
    )
    _check_can_grant(uow.principal, my_role, role)
    email = validation.email(email)
    existing = await uow.session.scalar(
        select(models.TeamMember.id)
        .join(models.User, models.User.id == models.TeamMember.user_id)
        .where(models.TeamMember.team_id == team_id, models.User.email == email)
    )
    if existing is not None:
        raise UserInputError.one(
            ErrorCode.ALREADY_MEMBER, "this person is already a member", "email"
        )
    token = tokens.new_opaque(tokens.INVITATION_PREFIX)
    p = require_principal(uow.principal)
    inv = models.TeamInvitation(
        id=uuid.uuid4(),
        team_id=team_id,
        email=email,
        role=role,
        token_hash=tokens.digest(token),
        invited_by_id=p.user_id,
        expires_at=datetime.now(UTC) + INVITATION_TTL,
    )
    uow.session.add(inv)
    audit.record(
        uow,
        action="member.invite",
        target_type="TeamInvitation",
        target_id=inv.id,
        team_id=team_id,
        changes={"email": email, "role": role.value},
    )
    return NewInvitation(inv, token)


async def accept_invitation(uow: UnitOfWork, *, token: str) -> models.TeamMember:
    p = require_user_session(uow.principal)
    inv = await uow.session.scalar(
        select(models.TeamInvitation)
        .where(models.TeamInvitation.token_hash == tokens.digest(token))
        .with_for_update()
    )
    now = datetime.now(UTC)
    if inv is None or inv.revoked_at is not None or inv.accepted_at is not None:
        raise UserInputError.one(ErrorCode.INVALID_INVITATION, "invitation is not valid", "token")
    if inv.expires_at <= now:
        raise UserInputError.one(ErrorCode.INVITATION_EXPIRED, "invitation has expired", "token")
    user = await uow.session.get(models.User, p.user_id)
    if user is None or user.email != inv.email:
        raise UserInputError.one(
            ErrorCode.INVALID_INVITATION, "invitation was sent to another email", "token"
        )
    inv.accepted_at = now
    member = await uow.session.scalar(
        select(models.TeamMember).where(
            models.TeamMember.team_id == inv.team_id, models.TeamMember.user_id == user.id
        )
    )
    if member is None:
        member = models.TeamMember(
            id=uuid.uuid4(), team_id=inv.team_id, user_id=user.id, role=inv.role
        )
        uow.session.add(member)
    audit.record(
        uow,
        action="member.join",
        target_type="TeamMember",
        target_id=member.id,
        team_id=inv.team_id,
        changes={"role": inv.role.value},
    )
    return member


def _check_can_grant(principal: Principal | None, my_role: TeamRole, role: TeamRole) -> None:
    # Through the policy, not the bare role: no API-key scope includes owners.manage.
    p = require_principal(principal)
    if role == TeamRole.OWNER and Action.OWNERS_MANAGE not in allowed_actions(p, my_role):
        raise Forbidden("only owners can grant or change the owner role")


async def _member(uow: UnitOfWork, member_id: uuid.UUID) -> models.TeamMember:
    member = await uow.session.get(models.TeamMember, member_id)
    if member is None:
        raise NotFound("team member")
    # Membership changes of one team take the team row first, then the member: two
    # owners demoting each other at once then queue instead of deadlocking on each
    # other's member row. NO KEY UPDATE leaves inserts that reference the team alone.
    await uow.session.execute(
        select(models.Team.id)
        .where(models.Team.id == member.team_id)
        .with_for_update(key_share=True)
    )
    member = await uow.session.get(
        models.TeamMember, member_id, with_for_update=True, populate_existing=True
    )
    if member is None:
        raise NotFound("team member")
    return member


async def _owner_count(uow: UnitOfWork, team_id: uuid.UUID) -> int:
    # Lock the owners so two concurrent demotions cannot both pass the check.
    rows = await uow.session.scalars(
        select(models.TeamMember.id)
        .where(models.TeamMember.team_id == team_id, models.TeamMember.role == TeamRole.OWNER)
        .with_for_update()
    )
    return len(rows.all())


async def change_role(
    uow: UnitOfWork, *, member_id: uuid.UUID, role: TeamRole
) -> models.TeamMember:
    member = await _member(uow, member_id)
    my_role = await authorize(
        uow.session, uow.principal, member.team_id, Action.MEMBERS_MANAGE, what="team member"
    )
    if TeamRole.OWNER in (role, member.role):
        _check_can_grant(uow.principal, my_role, TeamRole.OWNER)
    if member.role == TeamRole.OWNER and role != TeamRole.OWNER:
        if await _owner_count(uow, member.team_id) <= 1:
            raise UserInputError.one(
                ErrorCode.LAST_OWNER, "a team needs at least one owner", "role"
            )
    old = member.role
    member.role = role
    audit.record(
        uow,
        action="member.role_change",
        target_type="TeamMember",
        target_id=member.id,
        team_id=member.team_id,
        changes={"from": old.value, "to": role.value},
    )
    return member


async def remove_member(uow: UnitOfWork, *, member_id: uuid.UUID) -> uuid.UUID:
    member = await _member(uow, member_id)
    p = require_principal(uow.principal)
    # Anyone may leave; removing others needs members.manage.
    action = Action.READ if member.user_id == p.user_id else Action.MEMBERS_MANAGE
    my_role = await authorize(uow.session, p, member.team_id, action, what="team member")
    if member.role == TeamRole.OWNER:
        if member.user_id != p.user_id:
            _check_can_grant(p, my_role, TeamRole.OWNER)
        if await _owner_count(uow, member.team_id) <= 1:
            raise UserInputError.one(ErrorCode.LAST_OWNER, "the last owner cannot be removed")
    audit.record(
        uow,
        action="member.remove",
        target_type="TeamMember",
        target_id=member.id,
        team_id=member.team_id,
        changes={"userId": str(member.user_id)},
    )
    await uow.session.delete(member)
    return member_id


async def members_of(
    session: AsyncSession, team_ids: Sequence[uuid.UUID]
) -> list[models.TeamMember]:
    """Batch read for loaders; callers have already authorized the teams."""
    rows = await session.scalars(
        select(models.TeamMember)
        .where(models.TeamMember.team_id.in_(team_ids))
        .order_by(models.TeamMember.created_at, models.TeamMember.id)
    )
    return list(rows.all())


async def users_of(session: AsyncSession, user_ids: Sequence[uuid.UUID]) -> list[models.User]:
    """Batch read of members' users for loaders; callers have already authorized the teams."""
    rows = await session.scalars(select(models.User).where(models.User.id.in_(user_ids)))
    return list(rows.all())


async def members_with_users_of(
    session: AsyncSession, team_ids: Sequence[uuid.UUID]
) -> list[tuple[models.TeamMember, models.User]]:
    """members_of with each member's user, in one statement; callers have authorized the teams."""
    rows = await session.execute(
        select(models.TeamMember, models.User)
        .join(models.User, models.User.id == models.TeamMember.user_id)
        .where(models.TeamMember.team_id.in_(team_ids))
        .order_by(models.TeamMember.created_at, models.TeamMember.id)
    )
    return [(member, user) for member, user in rows]


async def get_member(
    session: AsyncSession, principal: Principal | None, *, member_id: uuid.UUID
) -> models.TeamMember:
    member = await session.get(models.TeamMember, member_id)
    if member is None:
        raise NotFound("team member")
    await authorize(session, principal, member.team_id, Action.READ, what="team member")
    return member


async def get_invitation(
    session: AsyncSession, principal: Principal | None, *, invitation_id: uuid.UUID
) -> models.TeamInvitation:
    inv = await session.get(models.TeamInvitation, invitation_id)
    if inv is None:
        raise NotFound("team invitation")
    await authorize(session, principal, inv.team_id, Action.MEMBERS_MANAGE, what="team invitation")
    return inv
