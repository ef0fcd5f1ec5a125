"""Data for bench/logs_fanout.py: an account and project through the API, then one
RUNNING build per measured point (a fresh log starting at seq 1)."""

from __future__ import annotations

import base64
import secrets
import socket
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from app.domain.build_logs import LogWriter
from app.events import EventBus
from app.ids import parse_id
from db import models
from db.engine import make_engine, make_sessionmaker
from db.enums import BuildStatus, BuildTrigger, LogStream

SIGN_UP = """mutation($i: SignUpInput!) { signUp(input: $i) { accessToken userErrors { code } } }"""
TEAMS = "{ viewer { teams { id } } }"
PROJECT = """mutation($i: CreateProjectInput!) { createProject(input: $i) {
  project { id environments { id } } userErrors { code } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def secrets_env() -> dict[str, str]:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    return {
        "STRATUS_JWT_SECRET": "bench-" + secrets.token_urlsafe(32),
        "STRATUS_DIGEST_KEY": "bench-" + secrets.token_urlsafe(32),
        "STRATUS_SECRET_KEYS": f"bench1:{key}",
    }


@dataclass
class Target:
    db_url: str
    redis_url: str
    env: dict[str, str]
    token: str
    team_id: uuid.UUID
    project_id: uuid.UUID
    environment_id: uuid.UUID
    builds: int = 0


async def _gql(client: httpx.AsyncClient, query: str, variables: Any, token: str = "") -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    body = (
        await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    ).json()
    assert "errors" not in body, body
    return body["data"]


async def sign_up_project(url: str, db_url: str, redis_url: str, env: dict[str, str]) -> Target:
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        signed = await _gql(
            c, SIGN_UP, {"i": {"email": email, "password": "bench-password-1", "name": "bench"}}
        )
        token = signed["signUp"]["accessToken"]
        team = (await _gql(c, TEAMS, {}, token))["viewer"]["teams"][0]["id"]
        fields = {"teamId": team, "name": "logs", "gitUrl": "https://git.example/logs.git"}
        project = (await _gql(c, PROJECT, {"i": fields}, token))["createProject"]["project"]
    return Target(
        db_url=db_url,
        redis_url=redis_url,
        env=env,
        token=token,
        team_id=parse_id(team, "Team"),
        project_id=parse_id(project["id"], "Project"),
        environment_id=parse_id(project["environments"][0]["id"], "Environment"),
    )


async def new_build(t: Target) -> tuple[str, uuid.UUID]:
    """A RUNNING build with an empty log: (global id, row id)."""
    from app.ids import to_global_id

    t.builds += 1
    build_id = uuid.uuid4()
    engine = make_engine(t.db_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            s.add(
                models.Build(
                    id=build_id, team_id=t.team_id, project_id=t.project_id,
                    environment_id=t.environment_id, number=t.builds, git_ref="main",
                    trigger=BuildTrigger.MANUAL, status=BuildStatus.RUNNING, steps=[],
                    attempt=1, last_log_seq=0,
                )
            )  # fmt: skip
    finally:
        await engine.dispose()
    return to_global_id("Build", build_id), build_id


async def write_lines(t: Target, build_id: uuid.UUID, count: int) -> None:
    engine = make_engine(t.db_url, pool_size=1)
    events = EventBus(t.redis_url)
    try:
        async with LogWriter(make_sessionmaker(engine), events, build_id, last_seq=0) as w:
            for i in range(count):
                await w.write(LogStream.STDOUT, "build", f"warm-up {i}")
    finally:
        await events.close()
        await engine.dispose()
