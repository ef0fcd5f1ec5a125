"""A fresh `stratus_bench` database, migrated and filled with bulk COPY in a few seconds.

The data is deterministic (fixed random seed): teams with members, projects with the three
default environments, and variables. Values are sealed once and the blob reused: reads never
open them, so only the row count and the width of the metadata matter.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from app.domain.variables import value_digest
from app.secrets.local import LocalSecretBox
from app.settings import parse_secret_keys
from db.migrate import upgrade

BASE_TIME = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
ROLES = ("owner", "admin", "developer", "developer", "viewer")
FRAMEWORKS = ("auto", "node", "python", "static", "procfile")
ENVIRONMENTS = (
    ("production", "production"),
    ("preview", "preview"),
    ("development", "development"),
)
VARIABLE_KEYS = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "SENTRY_DSN",
    "STRIPE_API_KEY",
    "S3_BUCKET",
    "LOG_LEVEL",
    "NODE_ENV",
    "FEATURE_FLAGS",
    "SMTP_PASSWORD",
)
# Any non-empty text: nobody signs in with a password during the benchmark.
PASSWORD_HASH = "$argon2id$v=19$m=1024,t=1,p=1$YmVuY2g$not-a-real-hash"


@dataclass(frozen=True)
class Shape:
    teams: int = 50
    projects: int = 20
    variables: int = 2
    members: int = 5

    @property
    def environments(self) -> int:
        return len(ENVIRONMENTS)

    def page_objects(self, first: int) -> int:
        """Objects in the dashboard response for a page of `first` projects."""
        per_project = 1 + self.environments * (1 + self.variables)
        return 1 + 2 * self.members + min(first, self.projects) * per_project


@dataclass(frozen=True)
class Seeded:
    team_slug: str
    member_user_id: uuid.UUID
    rows: dict[str, int]


def with_database(url: str, name: str) -> str:
    base, sep, query = url.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + (sep + query if sep else "")


async def recreate_database(server_url: str, name: str) -> str:
    """Drop and create `name` on the server of `server_url`; return the new database's URL."""
    conn = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = with_database(server_url, name)
    # Alembic runs its own event loop (asyncpg through SQLAlchemy): keep it off ours.
    await asyncio.to_thread(upgrade, url)
    return url


class _Ids:
    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def __call__(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)


def _at(hours: float, micro: int) -> datetime:
    # Non-zero microseconds everywhere, so Python's isoformat always prints six digits.
    return BASE_TIME + timedelta(hours=hours, microseconds=1 + micro % 999_998)


@dataclass
class _Tables:
    users: list[tuple[object, ...]]
    teams: list[tuple[object, ...]]
    team_members: list[tuple[object, ...]]
    projects: list[tuple[object, ...]]
    environments: list[tuple[object, ...]]
    environment_variables: list[tuple[object, ...]]


def _rows(shape: Shape, sealed: tuple[str, bytes], digest_key: str) -> _Tables:
    new_id = _Ids(20250106)
    t = _Tables([], [], [], [], [], [])
    key_id, blob = sealed
    for ti in range(shape.teams):
        team_id, ts = new_id(), _at(ti, ti * 7919)
        t.teams.append((team_id, f"Team {ti:03d}", f"bench-team-{ti:03d}", ts, ts))
        for mi in range(shape.members):
            user_id, mts = new_id(), _at(ti, ti * 7919 + mi + 1)
            email = f"member{mi}.team{ti:03d}@bench.example.com"
            t.users.append(
                (user_id, email, f"Member {mi} of team {ti}", PASSWORD_HASH, False, mts, mts)
            )
            t.team_members.append((new_id(), team_id, user_id, ROLES[mi % len(ROLES)], mts, mts))
        for pi in range(shape.projects):
            project_id, pts = new_id(), _at(ti + (pi + 1) / 100, pi * 104_729)
            t.projects.append(_project(project_id, team_id, ti, pi, pts))
            for ei, (name, kind) in enumerate(ENVIRONMENTS):
                env_id, ets = new_id(), pts + timedelta(microseconds=ei + 1)
                t.environments.append((env_id, project_id, team_id, name, kind, ets, ets))
                for vi in range(shape.variables):
                    key = VARIABLE_KEYS[vi % len(VARIABLE_KEYS)] + ("" if vi < 10 else f"_{vi}")
                    digest = value_digest(digest_key, f"{env_id}:{key}")
                    row = (new_id(), env_id, team_id, key, blob, key_id, digest, ets, ets)
                    t.environment_variables.append(row)
    return t


def _project(
    project_id: uuid.UUID, team_id: uuid.UUID, ti: int, pi: int, ts: datetime
) -> tuple[object, ...]:
    framework = FRAMEWORKS[pi % len(FRAMEWORKS)]
    slug = f"app-{pi:02d}"
    return (
        project_id,
        team_id,
        f"App {pi:02d} of team {ti}",
        slug,
        f"https://git.example.com/team-{ti:03d}/{slug}.git",
        "main",
        "",
        framework,
        "npm ci" if framework == "node" else None,
        "npm run build" if framework == "node" else None,
        None,
        "dist" if framework == "static" else None,
        "/healthz",
        ts,
        ts,
    )


COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("id", "email", "name", "password_hash", "is_admin", "created_at", "updated_at"),
    "teams": ("id", "name", "slug", "created_at", "updated_at"),
    "team_members": ("id", "team_id", "user_id", "role", "created_at", "updated_at"),
    "projects": (
        "id",
        "team_id",
        "name",
        "slug",
        "git_url",
        "production_branch",
        "root_directory",
        "framework",
        "install_command",
        "build_command",
        "start_command",
        "output_directory",
        "health_check_path",
        "created_at",
        "updated_at",
    ),
    "environments": ("id", "project_id", "team_id", "name", "kind", "created_at", "updated_at"),
    "environment_variables": (
        "id",
        "environment_id",
        "team_id",
        "key",
        "ciphertext",
        "key_id",
        "digest",
        "created_at",
        "updated_at",
    ),
}


def _in_order(tables: _Tables) -> Iterator[tuple[str, list[tuple[object, ...]]]]:
    for name in COLUMNS:  # parents before children (foreign keys)
        yield name, getattr(tables, name)


async def seed(url: str, shape: Shape, *, secret_keys: str, digest_key: str) -> Seeded:
    box = LocalSecretBox(parse_secret_keys(secret_keys))
    sealed = await box.seal(b"postgres://app:secret@db.internal/app", context="bench")
    tables = _rows(shape, (sealed.key_id, sealed.ciphertext), digest_key)
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            for name, rows in _in_order(tables):
                await conn.copy_records_to_table(name, records=rows, columns=COLUMNS[name])
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    team_id = tables.teams[0][0]
    owner = next(m for m in tables.team_members if m[1] == team_id)
    return Seeded(
        team_slug=str(tables.teams[0][2]),
        member_user_id=owner[2],  # type: ignore[arg-type]
        rows={name: len(rows) for name, rows in _in_order(tables)},
    )
