"""Turn a bearer credential (access token or API key) into a Principal.

Used identically by HTTP (`Authorization: Bearer ...`) and websockets (the
`connection_init` payload), so both transports accept exactly the same credentials.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain.accounts import revoked_session_key
from app.domain.principal import Principal
from app.errors import Unauthenticated
from app.security import tokens
from app.settings import Settings
from db import models
from db.enums import ApiKeyScope

# lastUsedAt is written at most once a minute per key and process: exact enough to
# spot unused keys, without a write on every request.
LAST_USED_RESOLUTION = 60.0
_last_used_written: dict[uuid.UUID, float] = {}


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("Authorization header must be 'Bearer <token>'")
    return value.strip()


async def authenticate(
    credential: str | None,
    *,
    settings: Settings,
    redis: Redis,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> Principal | None:
    if not credential:
        return None
    if credential.startswith(tokens.API_KEY_PREFIX):
        return await _api_key(credential, sessionmaker)
    try:
        claims = tokens.decode_access_token(credential, secret=settings.jwt_secret)
    except tokens.TokenInvalid as exc:
        raise Unauthenticated(exc.reason) from None
    if await redis.exists(revoked_session_key(claims.session_id)):
        raise Unauthenticated("session has been revoked")
    return Principal(user_id=claims.user_id, session_id=claims.session_id)


async def _api_key(credential: str, sessionmaker: async_sessionmaker[AsyncSession]) -> Principal:
    prefix = tokens.split_api_key(credential)
    if prefix is None:
        raise Unauthenticated("API key is malformed")
    async with sessionmaker() as session:
        key = await session.scalar(select(models.ApiKey).where(models.ApiKey.prefix == prefix))
        if key is None or not tokens.same_digest(key.secret_hash, tokens.digest(credential)):
            raise Unauthenticated("API key is invalid")
        now = datetime.now(UTC)
        if key.revoked_at is not None:
            raise Unauthenticated("API key has been revoked")
        if key.expires_at is not None and key.expires_at <= now:
            raise Unauthenticated("API key has expired")
        if time.monotonic() - _last_used_written.get(key.id, -1e9) > LAST_USED_RESOLUTION:
            _last_used_written[key.id] = time.monotonic()
            await session.execute(
                update(models.ApiKey).where(models.ApiKey.id == key.id).values(last_used_at=now)
            )
            await session.commit()
        return Principal(
            user_id=key.created_by_id,
            api_key_id=key.id,
            api_key_team_id=key.team_id,
            scopes=frozenset(ApiKeyScope(s) for s in key.scopes),
        )
