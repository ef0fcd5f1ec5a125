"""Test infrastructure: a real PostgreSQL database migrated with Alembic and a real Redis.

With DATABASE_URL / REDIS_URL set (CI here), those servers are used; otherwise the
embedded ones (`app.embedded`) are started under `.stratus/`, as `make up` does.
Each session gets a fresh database, created and migrated once and dropped at the end.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from app.deps import Deps
from app.main import create_app
from app.settings import Settings
from db.engine import async_url
from db.migrate import upgrade
from tests.support.api import Api
from tests.support.live_server import LiveServer
from tests.support.live_server import live_server as start_live_server

# STRATUS_TEST_REDIS_DB lets two suites run side by side (each flushes its own database).
REDIS_TEST_DB = int(os.environ.get("STRATUS_TEST_REDIS_DB", "13"))


def _base_urls() -> tuple[str, str]:
    db, rd = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not db or not rd:
        from app.embedded import start_postgres, start_redis

        state = Path(os.environ.get("STRATUS_STATE_DIR", ".stratus"))
        db = db or start_postgres(state)
        rd = rd or start_redis(state)
    return db, rd


def _plain(url: str) -> str:
    return async_url(url).replace("postgresql+asyncpg://", "postgresql://")


def _with_database(url: str, name: str) -> str:
    base, sep, query = url.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + (sep + query if sep else "")


def _with_redis_db(url: str, index: int) -> str:
    base, sep, query = url.partition("?")
    head, _, tail = base.rpartition("/")
    if tail.isdigit() and "//" in head:
        base = head
    return f"{base}/{index}" + (sep + query if sep else "")


@pytest.fixture(scope="session")
def test_settings() -> Any:
    db_url, redis_url = _base_urls()
    name = f"stratus_test_{uuid.uuid4().hex[:10]}"
    admin = _plain(_with_database(db_url, "postgres"))

    async def create() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    url = _with_database(async_url(db_url), name)
    upgrade(url)
    settings = Settings(
        database_url=url,
        redis_url=_with_redis_db(redis_url, REDIS_TEST_DB),
        env="test",
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        rate_limit_capacity=100_000,
        rate_limit_refill_per_second=10_000,
    )
    yield settings

    async def drop() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


@pytest.fixture(scope="session")
async def deps(test_settings: Settings) -> AsyncIterator[Deps]:
    r = Redis.from_url(test_settings.redis_url)
    await r.flushdb()
    await r.aclose()
    d = await Deps.open(test_settings)
    yield d
    await d.close()


@pytest.fixture(scope="session")
async def api(test_settings: Settings, deps: Deps) -> AsyncIterator[Api]:
    app = create_app(test_settings, deps=deps)
    app.state.deps = deps
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client)


@pytest.fixture(scope="session")
def live_server(test_settings: Settings, deps: Deps) -> Iterator[LiveServer]:
    # After `deps`: it flushes the test Redis database once, which must not happen
    # under a running server.
    with start_live_server(test_settings) as server:
        yield server


@pytest.fixture(scope="session")
async def live_api(live_server: LiveServer) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as client:
        yield Api(client)
