"""The embedded PostgreSQL and Redis really start, are shared, survive their starter, persist."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.embedded import ensure_services, start_postgres, start_redis, stop_services
from app.settings import Settings

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
START_IN_CHILD = """
import json, sys
from pathlib import Path
from app.embedded import start_postgres, start_redis
state = Path(sys.argv[1])
print(json.dumps([start_postgres(state), start_redis(state)]))
"""


def postgres_pid(state: Path) -> int:
    return int((state / "postgres" / "postmaster.pid").read_text().split()[0])


def redis_pid(state: Path) -> int:
    return int((state / "redis.pid").read_text())


def accepts_connections(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=2):
            return True
    except OSError:
        return False


@contextmanager
def scratch_state() -> Iterator[Path]:
    # Not under pytest's tmp_path: as root the server runs as another user that needs the
    # search bit on every parent, and other pytest sessions reset /tmp/pytest-of-root to 0700
    # (and prune old numbered dirs) whenever they start.
    root = Path(tempfile.mkdtemp(prefix="stratus-embedded-"))
    try:
        yield root / "state"
    finally:
        stop_services(root / "state")
        shutil.rmtree(root)


@pytest.fixture(scope="module")
def services() -> Iterator[tuple[Path, str, str]]:
    with scratch_state() as state:
        yield state, start_postgres(state), start_redis(state)


async def test_postgres_answers_plain_asyncpg_and_sqlalchemy(
    services: tuple[Path, str, str],
) -> None:
    _, pg_url, _ = services
    assert pg_url.startswith("postgresql+asyncpg://")
    assert urlsplit(pg_url).hostname == "127.0.0.1"
    conn = await asyncpg.connect(pg_url.replace("+asyncpg", ""))
    try:
        assert await conn.fetchval("SELECT 1") == 1
        assert await conn.fetchval("SELECT current_database()") == "stratus"
    finally:
        await conn.close()
    engine = create_async_engine(pg_url)
    try:
        async with engine.connect() as sa_conn:
            assert await sa_conn.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()


async def test_redis_answers_ping_set_get(services: tuple[Path, str, str]) -> None:
    _, _, redis_url = services
    assert urlsplit(redis_url).hostname == "127.0.0.1"
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert await client.ping()
        await client.set("stratus:test", "hello")
        assert await client.get("stratus:test") == b"hello"
    finally:
        await client.aclose()


def test_starting_again_reuses_the_running_servers(services: tuple[Path, str, str]) -> None:
    state, pg_url, redis_url = services
    pg_pid, r_pid = postgres_pid(state), redis_pid(state)
    assert start_postgres(state) == pg_url
    assert start_redis(state) == redis_url
    assert (postgres_pid(state), redis_pid(state)) == (pg_pid, r_pid)


def test_ensure_services_fills_only_empty_urls(services: tuple[Path, str, str]) -> None:
    state, pg_url, _ = services
    given = "redis://redis.example:6379/3"
    settings = Settings().model_copy(
        update={"database_url": "", "redis_url": given, "state_dir": state}
    )
    filled = ensure_services(settings)
    assert (filled.database_url, filled.redis_url) == (pg_url, given)
    assert settings.database_url == ""  # a copy, not the caller's object


async def test_data_persists_across_stop_and_start(services: tuple[Path, str, str]) -> None:
    state, pg_url, redis_url = services
    conn = await asyncpg.connect(pg_url.replace("+asyncpg", ""))
    try:
        await conn.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('pg')")
    finally:
        await conn.close()
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.set("stratus:kept", "redis")
    finally:
        await client.aclose()

    stop_services(state)
    assert not (state / "postgres" / "postmaster.pid").exists()
    assert not (state / "redis.pid").exists()
    assert not accepts_connections(pg_url) and not accepts_connections(redis_url)
    stop_services(state)  # stopping what is already stopped is a no-op

    pg_url, redis_url = start_postgres(state), start_redis(state)
    conn = await asyncpg.connect(pg_url.replace("+asyncpg", ""))
    try:
        assert await conn.fetchval("SELECT v FROM kept") == "pg"
    finally:
        await conn.close()
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert await client.get("stratus:kept") == b"redis"
    finally:
        await client.aclose()


def test_concurrent_starters_share_one_server_that_outlives_them() -> None:
    with scratch_state() as state:
        assert_concurrent_starters_share_one_server(state)


def assert_concurrent_starters_share_one_server(state: Path) -> None:
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", START_IN_CHILD, str(state)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [starter.communicate(timeout=120) for starter in starters]
    for starter, (_, err) in zip(starters, outputs, strict=True):
        assert starter.returncode == 0, err
    first, second = (json.loads(out) for out, _ in outputs)
    assert first == second  # the lock let one start them, the other reused them
    pg_pid, r_pid = postgres_pid(state), redis_pid(state)
    # Both starters have exited; the servers must still be there for this process.
    assert [start_postgres(state), start_redis(state)] == first
    assert (postgres_pid(state), redis_pid(state)) == (pg_pid, r_pid)
