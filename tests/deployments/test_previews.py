"""Branch previews: a push to a non-production branch builds and serves its own URL; previews
inherit the "preview" variables, expire after their retention and are cleaned up by the job."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, update

from app.domain import build_runner, previews, variables
from app.ids import to_global_id
from db import models
from db.enums import DeploymentStatus
from jobs.previews import expire_previews
from tests.deployments.apps import APP_PY, command
from tests.deployments.conftest import Stage
from tests.support.api import user_error_codes
from tests.support.build_apps import STATIC_SITE, app_repo
from tests.support.build_rows import succeeded_build

ROTATE = """mutation($p: ID!) { rotateProjectWebhookSecret(input: {projectId: $p}) {
  secret userErrors { code } } }"""
ENVIRONMENTS = """query($p: ID!) { node(id: $p) { ... on Project {
  environments { name kind branch url expiresAt expiredAt } } } }"""
DEPLOY = """mutation($i: DeployInput!) { deploy(input: $i) {
  deployment { id environment url status } userErrors { code message field } } }"""


def _signed(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "x-github-event": "push",
        "x-github-delivery": delivery,
        "x-hub-signature-256": f"sha256={sig}",
        "content-type": "application/json",
    }


async def _push(stage: Stage, secret: str, branch: str, sha: str) -> dict[str, Any]:
    body = json.dumps({"ref": f"refs/heads/{branch}", "after": sha}).encode()
    r = await stage.api.client.post(
        f"/webhooks/git/{stage.project_gid}",
        content=body,
        headers=_signed(secret, body, str(uuid.uuid4())),
    )
    assert r.status_code == 202, r.text
    result: dict[str, Any] = r.json()
    return result


async def _environments(stage: Stage) -> dict[str, dict[str, Any]]:
    data = await stage.api.ok(ENVIRONMENTS, {"p": stage.project_gid}, token=stage.account.token)
    return {e["name"]: e for e in data["node"]["environments"]}


async def _get(stage: Stage, host: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stage.router_port}") as c:
        return await c.get("/", headers={"Host": host})


async def _served(stage: Stage, host: str, status: int) -> httpx.Response:
    """The first response with `status` (the router follows its table within moments)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + 5
    while True:
        r = await _get(stage, host)
        if r.status_code == status:
            return r
        assert loop.time() < end, (r.status_code, r.text)
        await asyncio.sleep(0.1)


async def _greeting_build(stage: Stage, env_id: uuid.UUID, branch: str) -> str:
    """A SUCCEEDED build of `branch` whose app answers its GREETING variable."""
    build_id = await succeeded_build(
        stage.deps,
        stage.project_id,
        files={"app.py": APP_PY},
        start_command=command(branch, say_env="GREETING"),
        environment=env_id,
        git_ref=branch,
    )
    return to_global_id("Build", build_id)


async def _env_id(stage: Stage, name: str) -> uuid.UUID:
    async with stage.deps.sessionmaker() as s:
        env_id = await s.scalar(
            select(models.Environment.id).where(
                models.Environment.project_id == stage.project_id,
                models.Environment.name == name,
            )
        )
    assert env_id is not None
    return env_id


async def test_push_to_a_branch_serves_its_own_preview_url(stage: Stage, tmp_path: Path) -> None:
    repo = app_repo(tmp_path / "own", STATIC_SITE)
    sha = repo.commit(
        {"index.html": "<h1>login preview</h1>\n"}, "login page", branch="feature/Login"
    )
    async with stage.deps.sessionmaker() as s, s.begin():
        await s.execute(
            update(models.Project)
            .where(models.Project.id == stage.project_id)
            .values(git_url=repo.url, health_check_path="/")
        )
    data = await stage.api.ok(ROTATE, {"p": stage.project_gid}, token=stage.account.token)
    secret = data["rotateProjectWebhookSecret"]["secret"]

    pushed = await _push(stage, secret, "feature/Login", sha)
    assert pushed["environment"] == "preview-feature-login"
    slug = stage.host.removesuffix("-production.localhost")
    host = f"{slug}-preview-feature-login.localhost"
    assert pushed["url"] == f"http://{host}:{stage.deps.settings.router_port}"

    dep = uuid.UUID(pushed["deploymentId"])
    rollout = stage.start_rollout(dep)
    await build_runner.run(stage.deps, uuid.UUID(pushed["buildId"]), worker_id="test-builder")
    assert await asyncio.wait_for(rollout, 60) == DeploymentStatus.ACTIVE
    r = await _served(stage, host, 200)
    assert "login preview" in r.text
    # Production is untouched: nothing was deployed there.
    assert (await _get(stage, stage.host)).status_code == 404

    env = (await _environments(stage))["preview-feature-login"]
    assert env["kind"] == "PREVIEW" and env["branch"] == "feature/Login"
    assert env["url"] == pushed["url"] and env["expiredAt"] is None
    expires = datetime.fromisoformat(env["expiresAt"])
    retention = timedelta(seconds=stage.deps.settings.preview_retention_seconds)
    assert abs(expires - (datetime.now(UTC) + retention)) < timedelta(minutes=1)

    # A second push to the branch reuses its environment.
    again = await _push(stage, secret, "feature/Login", sha)
    assert again["environment"] == "preview-feature-login"
    assert len([n for n in await _environments(stage) if n.startswith("preview-")]) == 1


async def test_previews_inherit_preview_variables_and_expire(stage: Stage) -> None:
    token = stage.account.token
    envs = await _environments(stage)
    # The template never serves: no URL to show (its branch previews have their own).
    assert envs["preview"]["branch"] is None and envs["preview"]["url"] is None
    await stage.api.upsert_variables(
        token, to_global_id("Environment", await _env_id(stage, "preview")), {"GREETING": "hi"}
    )
    # A branch deploy without an environment goes to the branch's preview.
    data = await stage.api.ok(
        DEPLOY,
        {"i": {"projectId": stage.project_gid, "gitRef": "fix-typo", "strategy": "IMMEDIATE"}},
        token=token,
    )
    assert data["deploy"]["deployment"]["environment"] == "preview-fix-typo"
    # "preview" for the production branch makes no sense: a clear error.
    payload = await stage.api.payload(
        DEPLOY,
        {"i": {"projectId": stage.project_gid, "gitRef": "main", "environment": "preview"}},
        token=token,
    )
    assert user_error_codes(payload) == ["INVALID_ARGUMENT"]

    env_id = await _env_id(stage, "preview-fix-typo")
    dep = await stage.roll_out(await _greeting_build(stage, env_id, "fix-typo"), "IMMEDIATE")
    assert (await stage.get(dep)).status == DeploymentStatus.ACTIVE
    slug = stage.host.removesuffix("-production.localhost")
    host = f"{slug}-preview-fix-typo.localhost"
    r = await _served(stage, host, 200)
    assert r.text == "hi"  # the template's variable

    # Its own variable overrides the template's (seen by the next release).
    await stage.api.upsert_variables(token, to_global_id("Environment", env_id), {"GREETING": "yo"})
    async with stage.deps.sessionmaker() as s:
        plain = await variables.decrypt_environment(s, stage.deps.secrets, env_id)
    assert plain == {"GREETING": "yo"}

    # Not yet due: the cleanup job leaves it alone.
    ctx = {"deps": stage.deps, "runtime": stage.runtime}
    assert await expire_previews(ctx) == 0
    release = (await stage.get(dep)).release_id
    async with stage.deps.sessionmaker() as s, s.begin():
        await s.execute(
            update(models.Environment)
            .where(models.Environment.id == env_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await expire_previews(ctx) == 1
    row = await stage.get(dep)
    assert row.status == DeploymentStatus.SUPERSEDED and row.reason == previews.EXPIRED
    assert row.upstreams is None and row.traffic_weight == 0
    assert release not in {s.release_id for s in await stage.runtime.list_releases()}
    await _served(stage, host, 404)
    env = (await _environments(stage))["preview-fix-typo"]
    assert env["expiredAt"] is not None
    assert await expire_previews(ctx) == 0  # idempotent

    # Deploying the branch again brings the preview back.
    await stage.roll_out(await _greeting_build(stage, env_id, "fix-typo"), "IMMEDIATE")
    assert (await _environments(stage))["preview-fix-typo"]["expiredAt"] is None
    r = await _served(stage, host, 200)
    assert r.text == "yo"


async def test_deleting_the_branch_expires_its_preview(stage: Stage) -> None:
    data = await stage.api.ok(ROTATE, {"p": stage.project_gid}, token=stage.account.token)
    secret = data["rotateProjectWebhookSecret"]["secret"]
    env_id = await _env_id(stage, "preview")
    pushed = await _push(stage, secret, "spike", "c" * 40)
    preview_id = await _env_id(stage, pushed["environment"])
    dep = uuid.UUID(pushed["deploymentId"])
    assert preview_id != env_id

    deleted = await _push(stage, secret, "spike", "0" * 40)
    assert deleted == {"ok": True, "branchDeleted": "spike", "previewExpired": True}
    await expire_previews({"deps": stage.deps, "runtime": stage.runtime})
    row = await stage.get(dep)
    # Its build never ran: the queued deployment ends instead of waiting for it.
    assert row.status == DeploymentStatus.CANCELED and row.reason == previews.EXPIRED
    assert (await _environments(stage))[pushed["environment"]]["expiredAt"] is not None
    # A branch with no preview: nothing to expire.
    nothing = await _push(stage, secret, "never-pushed", "0" * 40)
    assert nothing["previewExpired"] is False


def test_preview_names_are_dns_labels() -> None:
    assert previews.preview_name("feature/Login") == "preview-feature-login"
    assert previews.preview_name("///") == "preview-branch"
    long = previews.preview_name("x" * 200)
    assert len(long) == previews.NAME_MAX and long.startswith("preview-xxx")
    assert long != previews.preview_name("x" * 199)
