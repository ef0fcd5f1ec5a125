"""Sign-up, log-in, refresh-token rotation with reuse detection, and log-out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import audit, teams, validation
from app.domain.principal import Principal, require_principal
from app.errors import ErrorCode, NotFound, Unauthenticated, UserInputError
from app.request_context import current_request
from app.security import passwords, tokens
from app.uow import CommitThenRaise, UnitOfWork
from db import models


@dataclass(frozen=True, slots=True)
class Tokens:
    user: models.User
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime


def revoked_session_key(session_id: uuid.UUID) -> str:
    return f"stratus:revoked-session:{session_id}"


def _check_password(password: str) -> None:
    if not passwords.MIN_PASSWORD_LENGTH <= len(password) <= passwords.MAX_PASSWORD_LENGTH:
        raise UserInputError.one(
            ErrorCode.WEAK_PASSWORD,
            f"password must be {passwords.MIN_PASSWORD_LENGTH}-"
            f"{passwords.MAX_PASSWORD_LENGTH} characters",
            "password",
        )


async def create_user(
    uow: UnitOfWork, *, email: str, password: str, name: str = "", is_admin: bool = False
) -> models.User:
    email = validation.email(email)
    _check_password(password)
    display = validation.name(name, max_len=200) if name.strip() else email.split("@")[0]
    s = uow.deps.settings
    user = models.User(
        id=uuid.uuid4(),
        email=email,
        name=display,
        is_admin=is_admin,
        password_hash=await passwords.hash_password(
            password, time_cost=s.argon2_time_cost, memory_kib=s.argon2_memory_kib
        ),
    )
    uow.session.add(user)
    try:
        async with uow.session.begin_nested():
            await uow.session.flush()
    except IntegrityError:
        raise UserInputError.one(
            ErrorCode.EMAIL_TAKEN, "an account with this email already exists", "email"
        ) from None
    audit.record(
        uow,
        action="user.sign_up",
        target_type="User",
        target_id=user.id,
        team_id=None,
        actor_user_id=user.id,
        changes={"email": email},
    )
    # Every account starts with a personal team, as on Vercel and Railway.
    await teams.create_team_for(uow, user, name=f"{display}'s team")
    return user


async def sign_up(uow: UnitOfWork, *, email: str, password: str, name: str) -> Tokens:
    user = await create_user(uow, email=email, password=password, name=name)
    return await _issue(uow, user, family_id=uuid.uuid4())


async def log_in(uow: UnitOfWork, *, email: str, password: str) -> Tokens:
    s = uow.deps.settings
    user = await uow.session.scalar(
        select(models.User).where(models.User.email == email.strip().lower())
    )
    # Verify against a dummy hash when the user is unknown: same time either way.
    ok = await passwords.verify_password(
        user.password_hash if user else passwords.DUMMY_HASH,
        password,
        time_cost=s.argon2_time_cost,
        memory_kib=s.argon2_memory_kib,
    )
    if user is None or not ok:
        raise UserInputError.one(ErrorCode.INVALID_CREDENTIALS, "email or password is incorrect")
    audit.record(
        uow,
        action="user.log_in",
        target_type="User",
        target_id=user.id,
        team_id=None,
        actor_user_id=user.id,
    )
    return await _issue(uow, user, family_id=uuid.uuid4())


async def refresh(uow: UnitOfWork, *, refresh_token: str) -> Tokens:
    now = datetime.now(UTC)
    row = await uow.session.scalar(
        select(models.RefreshToken)
        .where(models.RefreshToken.token_hash == tokens.digest(refresh_token))
        .with_for_update()
    )
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("refresh token is invalid or revoked")
    if row.rotated_at is not None:
        # Reuse of a rotated token means it leaked: revoke the whole family, keep
        # that revocation (commit), then fail.
        await _revoke_family(uow, row.family_id, now)
        audit.record(
            uow,
            action="session.reuse_detected",
            target_type="Session",
            target_id=row.family_id,
            team_id=None,
            actor_user_id=row.user_id,
        )
        raise CommitThenRaise(
            Unauthenticated("refresh token was already used; the session has been revoked")
        )
    if row.expires_at <= now:
        raise Unauthenticated("refresh token expired")
    row.rotated_at = now
    user = await uow.session.get(models.User, row.user_id)
    if user is None:
        raise Unauthenticated("refresh token is invalid or revoked")
    audit.record(
        uow,
        action="session.refresh",
        target_type="Session",
        target_id=row.family_id,
        team_id=None,
        actor_user_id=user.id,
    )
    return await _issue(uow, user, family_id=row.family_id)


async def log_out(uow: UnitOfWork, *, refresh_token: str | None) -> None:
    """Revoke the session of the given refresh token, or of the calling access token."""
    family_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    if refresh_token:
        row = await uow.session.scalar(
            select(models.RefreshToken).where(
                models.RefreshToken.token_hash == tokens.digest(refresh_token)
            )
        )
        if row is None:
            raise UserInputError.one(
                ErrorCode.INVALID_TOKEN, "refresh token is not valid", "refreshToken"
            )
        family_id, user_id = row.family_id, row.user_id
    else:
        p = require_principal(uow.principal)
        if p.session_id is None:
            raise UserInputError.one(
                ErrorCode.NO_SESSION, "API keys have no session; revoke the key"
            )
        family_id, user_id = p.session_id, p.user_id
    await _revoke_family(uow, family_id, datetime.now(UTC))
    audit.record(
        uow,
        action="session.log_out",
        target_type="Session",
        target_id=family_id,
        team_id=None,
        actor_user_id=user_id,
    )


async def _revoke_family(uow: UnitOfWork, family_id: uuid.UUID, now: datetime) -> None:
    await uow.session.execute(
        update(models.RefreshToken)
        .where(models.RefreshToken.family_id == family_id, models.RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    # Access tokens of this session die at once, not when they expire.
    ttl = uow.deps.settings.access_token_ttl_seconds
    await uow.deps.redis.set(revoked_session_key(family_id), b"1", ex=ttl + 5)


async def _issue(uow: UnitOfWork, user: models.User, *, family_id: uuid.UUID) -> Tokens:
    s = uow.deps.settings
    now = datetime.now(UTC)
    meta = current_request.get()
    raw = tokens.new_opaque(tokens.REFRESH_PREFIX)
    expires = now + timedelta(seconds=s.refresh_token_ttl_seconds)
    uow.session.add(
        models.RefreshToken(
            id=uuid.uuid4(),
            user_id=user.id,
            family_id=family_id,
            token_hash=tokens.digest(raw),
            created_at=now,
            expires_at=expires,
            user_agent=meta.user_agent[:400],
            ip=meta.ip,
        )
    )
    access, access_exp = tokens.issue_access_token(
        user.id, family_id, secret=s.jwt_secret, ttl_seconds=s.access_token_ttl_seconds
    )
    return Tokens(user, access, access_exp, raw, expires)


async def get_user(session: AsyncSession, principal: Principal | None) -> models.User:
    p = require_principal(principal)
    user = await session.get(models.User, p.user_id)
    if user is None:
        raise NotFound("user")
    return user


async def get_visible_user(
    session: AsyncSession, principal: Principal | None, *, user_id: uuid.UUID
) -> models.User:
    """The user, if it is the caller or shares a team with the caller."""
    p = require_principal(principal)
    if user_id != p.user_id:
        mine = select(models.TeamMember.team_id).where(models.TeamMember.user_id == p.user_id)
        if p.api_key_team_id is not None:
            mine = mine.where(models.TeamMember.team_id == p.api_key_team_id)
        shared = await session.scalar(
            select(models.TeamMember.id)
            .where(models.TeamMember.user_id == user_id, models.TeamMember.team_id.in_(mine))
            .limit(1)
        )
        if shared is None:
            raise NotFound("user")
    user = await session.get(models.User, user_id)
    if user is None:
        raise NotFound("user")
    return user
