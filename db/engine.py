"""Async engine and session factory."""

from __future__ import annotations

import orjson
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def async_url(url: str) -> str:
    """Accept plain `postgresql://` URLs (what every tool prints) and use asyncpg."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """Up to 2 x pool_size connections, opened on demand and then kept.

    No "overflow": QueuePool closes overflow connections on check-in, so whenever more
    than pool_size sessions were open at once, sessions kept reconnecting (a PostgreSQL
    backend fork each); with 20 concurrent requests a session cost 1.9 ms of API CPU
    instead of 0.7 (docs/performance.md). The ceiling is the same as before.
    """
    return create_async_engine(
        async_url(url),
        pool_size=2 * pool_size,
        max_overflow=0,
        pool_pre_ping=True,
        # json/jsonb columns and aggregates (e.g. variable metadata) decode in C.
        json_deserializer=orjson.loads,
        # Statements are small and many; a server-side timeout keeps a bad
        # query from holding a pooled connection for ever.
        connect_args={"server_settings": {"statement_timeout": "15000"}},
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
