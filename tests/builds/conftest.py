"""Projects to build: an account, a project pointing at a real bare git repo, and a
per-test copy of the dependencies whose settings put builds, artifacts and the cache
under the test's own directory (and may shrink limits)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.deps import Deps
from app.domain import build_logs, build_runner
from app.domain.build_logs import LogLine
from app.ids import parse_id, to_global_id
from db import models
from db.enums import BuildStatus
from tests.support.api import Account, Api
from tests.support.build_apps import app_repo
from tests.support.git_repos import Files, GitRepo

TRIGGER = """mutation($i: TriggerBuildInput!) {
  triggerBuild(input: $i) { build { id } userErrors { code message field } } }"""
CANCEL = """mutation($b: ID!) {
  cancelBuild(input: {buildId: $b}) { build { id } userErrors { code message field } } }"""


@dataclass
class BuildProject:
    api: Api
    deps: Deps
    account: Account
    team_id: uuid.UUID
    project_gid: str
    project_id: uuid.UUID
    environments: dict[str, str]  # name -> global id
    repo: GitRepo

    async def trigger(self, ref: str | None = None) -> uuid.UUID:
        data = await self.api.ok(
            TRIGGER, {"i": {"projectId": self.project_gid, "ref": ref}}, token=self.account.token
        )
        return parse_id(data["triggerBuild"]["build"]["id"], "Build")

    async def run(self, build_id: uuid.UUID, worker_id: str = "test") -> BuildStatus | None:
        return await build_runner.run(self.deps, build_id, worker_id=worker_id)

    async def build_and_run(self) -> models.Build:
        build_id = await self.trigger()
        await self.run(build_id)
        return await self.get(build_id)

    async def get(self, build_id: uuid.UUID) -> models.Build:
        async with self.deps.sessionmaker() as s:
            build = await s.get(models.Build, build_id)
        assert build is not None
        return build

    async def cancel(self, build_id: uuid.UUID) -> None:
        build_gid = to_global_id("Build", build_id)
        await self.api.ok(CANCEL, {"b": build_gid}, token=self.account.token)

    async def logs(self, build_id: uuid.UUID) -> list[LogLine]:
        async with self.deps.sessionmaker() as s:
            return await build_logs.history(s, build_id, after=0, limit=10_000)

    async def texts(self, build_id: uuid.UUID) -> list[str]:
        return [ln.text for ln in await self.logs(build_id)]


MakeDeps = Callable[..., Deps]
MakeProject = Callable[..., Awaitable[BuildProject]]


@pytest.fixture
def make_deps(deps: Deps, tmp_path: Path) -> MakeDeps:
    """The session's connections with settings for this test (state under tmp_path)."""

    def make(**overrides: Any) -> Deps:
        settings = deps.settings.model_copy(
            update={
                "state_dir": tmp_path / "state",
                "build_heartbeat_seconds": 0.5,
                "build_lost_after_seconds": 3.0,
                **overrides,
            }
        )
        return dataclasses.replace(deps, settings=settings)

    return make


@pytest.fixture
def make_project(api: Api, make_deps: MakeDeps, tmp_path: Path) -> MakeProject:
    async def make(files: Files, *, deps: Deps | None = None, **fields: Any) -> BuildProject:
        repo = app_repo(tmp_path / "repos", files, name=uuid.uuid4().hex[:8])
        fields.setdefault("gitUrl", repo.url)
        account = await api.sign_up("builder")
        project = await api.create_project(account.token, account.team_id, **fields)
        return BuildProject(
            api=api,
            deps=deps or make_deps(),
            account=account,
            team_id=parse_id(account.team_id, "Team"),
            project_gid=project["id"],
            project_id=parse_id(project["id"], "Project"),
            environments={e["name"]: e["id"] for e in project["environments"]},
            repo=repo,
        )

    return make
