"""Team API keys: created with scopes and an optional expiry, shown once, stored hashed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import audit, validation
from app.domain.policy import Action, authorize
from app.domain.principal import Principal, require_user_session
from app.errors import ErrorCode, NotFound, UserInputError
from app.security import tokens
from app.uow import UnitOfWork
from db import models
from db.enums import ApiKeyScope

MAX_KEYS_PER_TEAM = 100


@dataclass(frozen=True, slots=True)
class NewApiKey:
    api_key: models.ApiKey
    secret: str


async def create_api_key(
    uow: UnitOfWork,
    *,
    team_id: uuid.UUID,
    name: str,
    scopes: list[ApiKeyScope],
    expires_at: datetime | None,
) -> NewApiKey:
    # Team first, so another team's id is NOT_FOUND whatever the credential.
    await authorize(uow.session, uow.principal, team_id, Action.API_KEYS_MANAGE, what="team")
    # A key cannot mint keys: only a signed-in person can.
    p = require_user_session(uow.principal)
    name = validation.name(name)
    if not scopes:
        raise UserInputError.one(ErrorCode.REQUIRED, "at least one scope is required", "scopes")
    if expires_at is not None:
        expires_at = validation.utc(expires_at)
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise UserInputError.one(
            ErrorCode.INVALID_EXPIRY, "expiry must be in the future", "expiresAt"
        )
    active = await uow.session.scalars(
        select(models.ApiKey.id).where(
            models.ApiKey.team_id == team_id, models.ApiKey.revoked_at.is_(None)
        )
    )
    if len(active.all()) >= MAX_KEYS_PER_TEAM:
        raise UserInputError.one(
            ErrorCode.LIMIT_REACHED, f"at most {MAX_KEYS_PER_TEAM} active keys"
        )
    secret, prefix, hashed = tokens.new_api_key()
    key = models.ApiKey(
        id=uuid.uuid4(),
        team_id=team_id,
        created_by_id=p.user_id,
        name=name,
        prefix=prefix,
        secret_hash=hashed,
        scopes=sorted({s.value for s in scopes}),
        expires_at=expires_at,
    )
    uow.session.add(key)
    audit.record(
        uow,
        action="api_key.create",
        target_type="ApiKey",
        target_id=key.id,
        team_id=team_id,
        changes={
            "name": name,
            "scopes": key.scopes,
            "expiresAt": expires_at.isoformat() if expires_at else None,
        },
    )
    return NewApiKey(key, secret)


async def revoke_api_key(uow: UnitOfWork, *, api_key_id: uuid.UUID) -> models.ApiKey:
    key = await uow.session.get(models.ApiKey, api_key_id, with_for_update=True)
    if key is None:
        raise NotFound("API key")
    await authorize(uow.session, uow.principal, key.team_id, Action.API_KEYS_MANAGE, what="API key")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
    audit.record(
        uow, action="api_key.revoke", target_type="ApiKey", target_id=key.id, team_id=key.team_id
    )
    return key


async def list_api_keys(
    session: AsyncSession, principal: Principal | None, *, team_id: uuid.UUID
) -> list[models.ApiKey]:
    await authorize(session, principal, team_id, Action.API_KEYS_MANAGE, what="team")
    rows = await session.scalars(
        select(models.ApiKey)
        .where(models.ApiKey.team_id == team_id)
        .order_by(models.ApiKey.created_at.desc(), models.ApiKey.id)
    )
    return list(rows.all())


async def get_api_key(
    session: AsyncSession, principal: Principal | None, *, api_key_id: uuid.UUID
) -> models.ApiKey:
    key = await session.get(models.ApiKey, api_key_id)
    if key is None:
        raise NotFound("API key")
    await authorize(session, principal, key.team_id, Action.API_KEYS_MANAGE, what="API key")
    return key
