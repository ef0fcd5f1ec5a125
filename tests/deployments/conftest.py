"""A project with releasable builds, a local runtime and a real router on a free port.

Builds are SUCCEEDED rows pointing at artifacts put with the real FilesystemArtifactStore
(the build runner has its own tests); the rollout runs in-process with a LocalRuntime, and
requests reach the releases through `app.runtime.router` with the project's Host header.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.deps import Deps
from app.domain import deploy_events, rollout
from app.domain.deploy_events import DeployEvent
from app.ids import parse_id, to_global_id
from app.runtime.build.artifacts import FilesystemArtifactStore
from app.runtime.local import LocalRuntime
from app.runtime.router.context import RouterConfig
from app.runtime.router.keys import RouterKeys
from app.runtime.router.server import Router
from app.runtime.router.table import Backend, RouteTable
from db import models
from db.enums import DeploymentStatus
from tests.deployments.apps import APP_PY, command
from tests.support.api import Account, Api
from tests.support.build_apps import STATIC_SITE, app_repo
from tests.support.build_rows import succeeded_build

DEPLOY = """mutation($i: DeployInput!) { deploy(input: $i) {
  deployment { id status strategy trafficWeight } userErrors { code message field } } }"""
ACTIVE = """query($p: ID!) { node(id: $p) { ... on Project {
  activeDeployments(environment: "production") { id trafficWeight status } } } }"""


@dataclass
class Stage:
    api: Api
    deps: Deps
    runtime: LocalRuntime
    router_port: int
    account: Account
    project_gid: str
    project_id: uuid.UUID
    host: str
    keys: RouterKeys
    tasks: list[asyncio.Task[Any]] = dataclasses.field(default_factory=list)

    async def build(self, version: str, **flags: bool) -> str:
        """A SUCCEEDED build whose artifact is the test app started as `version`."""
        build_id = await succeeded_build(
            self.deps,
            self.project_id,
            files={"app.py": APP_PY},
            start_command=command(version, **flags),
        )
        return to_global_id("Build", build_id)

    async def deploy(self, build_gid: str, strategy: str, **extra: Any) -> uuid.UUID:
        data = await self.api.ok(
            DEPLOY,
            {
                "i": {
                    "projectId": self.project_gid,
                    "buildId": build_gid,
                    "strategy": strategy,
                    **extra,
                }
            },
            token=self.account.token,
        )
        return parse_id(data["deploy"]["deployment"]["id"], "Deployment")

    def start_rollout(self, deployment_id: uuid.UUID) -> asyncio.Task[DeploymentStatus | None]:
        task = asyncio.create_task(
            rollout.run(self.deps, self.runtime, deployment_id, worker_id="test-worker")
        )
        self.tasks.append(task)
        return task

    async def roll_out(self, build_gid: str, strategy: str, **extra: Any) -> uuid.UUID:
        dep = await self.deploy(build_gid, strategy, **extra)
        await asyncio.wait_for(self.start_rollout(dep), 60)
        return dep

    async def get(self, deployment_id: uuid.UUID) -> models.Deployment:
        async with self.deps.sessionmaker() as s:
            row = await s.get(models.Deployment, deployment_id)
        assert row is not None
        return row

    async def events(self, deployment_id: uuid.UUID) -> list[DeployEvent]:
        async with self.deps.sessionmaker() as s:
            return await deploy_events.history(s, deployment_id, after=0)

    async def active(self) -> dict[str, int]:
        data = await self.api.ok(ACTIVE, {"p": self.project_gid}, token=self.account.token)
        rows = data["node"]["activeDeployments"]
        return {str(parse_id(r["id"], "Deployment")): r["trafficWeight"] for r in rows}

    async def routed(self) -> dict[str, int]:
        """What the router's table says (deployments with weight > 0)."""
        backends: list[Backend] = await RouteTable(self.keys).get(self.deps.redis, self.host) or []
        return {b.deployment_id: b.weight for b in backends if b.weight > 0}

    async def hits(self, n: int) -> Counter[str]:
        """Bodies of n requests through the router (the app answers its version)."""
        out: Counter[str] = Counter()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.router_port}") as c:
            for _ in range(n):
                r = await c.get("/", headers={"Host": self.host})
                out[f"{r.status_code}:{r.text}"] += 1
        return out

    async def wait_served(self, body: str, timeout: float = 5.0) -> None:
        """Until every one of 10 requests answers `body` (the router reloads on a change)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            got = await self.hits(10)
            if got == Counter({f"200:{body}": 10}):
                return
            assert loop.time() < end, got
            await asyncio.sleep(0.1)


@pytest.fixture
async def stage(
    deps: Deps, api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Stage]:
    prefix = f"test:router:{uuid.uuid4().hex[:8]}"
    # The API process (rollback, promote, split) writes routes under the same prefix.
    monkeypatch.setattr(deps.settings, "router_key_prefix", prefix)
    settings = deps.settings.model_copy(
        update={
            "state_dir": tmp_path / "state",
            "router_key_prefix": prefix,
            "deploy_health_interval_seconds": 0.1,
            "deploy_health_retries": 50,
            "deploy_steps": [20, 100],
            "deploy_observe_seconds": 1.0,
            "deploy_min_requests": 5,
            "deploy_heartbeat_seconds": 0.5,
            "deploy_drain_seconds": 0.5,
        }
    )
    d = dataclasses.replace(deps, settings=settings)
    runtime = LocalRuntime(settings.state_dir, FilesystemArtifactStore(settings.artifacts_dir))
    keys = RouterKeys(prefix)
    config = RouterConfig(
        port=0, admin_port=None, keys=keys, reload_interval=0.5, drain_timeout=0.5
    )
    router = Router(config, deps.redis)
    await router.start()
    account = await api.sign_up("deployer")
    # A real repository, for deploys that build a git ref first.
    repo = app_repo(tmp_path / "repos", STATIC_SITE, name="site")
    project = await api.create_project(
        account.token, account.team_id, gitUrl=repo.url, healthCheckPath="/healthz"
    )
    st = Stage(
        api=api,
        deps=d,
        runtime=runtime,
        router_port=router.port,
        account=account,
        project_gid=project["id"],
        project_id=parse_id(project["id"], "Project"),
        host=f"{project['slug']}-production.localhost",
        keys=keys,
    )
    try:
        yield st
    finally:
        for task in st.tasks:
            task.cancel()
        await asyncio.gather(*st.tasks, return_exceptions=True)
        await router.stop()
        await st.runtime.aclose()  # the test may have replaced it (a worker restart)
