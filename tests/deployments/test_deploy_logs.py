"""deploymentLogs: a released app's stdout reaches the subscription over websockets (real
processes, real router, the API in its own process), resumes after a cursor with exactly the
missed lines, completes once the release stopped, and is NOT_FOUND for another team."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from app.domain import deploy_logs
from app.domain.deploy_logs import DeployLogSink
from app.ids import to_global_id
from app.runtime.build.artifacts import FilesystemArtifactStore
from app.runtime.local import LocalRuntime
from db import models
from db.enums import DeploymentStatus
from tests.deployments.apps import APP_PY
from tests.deployments.conftest import Stage
from tests.support.live_server import LiveServer
from tests.support.ws import SubscriptionError, messages, ws_session

LOGS = """subscription($d: ID!, $a: String) { deploymentLogs(deploymentId: $d, after: $a) {
  cursor lines { seq stream replica text } } }"""
HISTORY = """query($d: ID!, $a: String) { deployment(id: $d) { logs(first: 2, after: $a) {
  lines { seq text } pageInfo { hasNextPage endCursor } } } }"""

# The test app, printing one stdout line per request it answers.
LOG_APP = APP_PY.replace(
    "    def log_message(self, fmt, *a):\n        pass\n",
    "    def log_message(self, fmt, *a):\n        print('hit ' + self.path, flush=True)\n",
)
assert LOG_APP != APP_PY


@pytest.fixture
async def logged(stage: Stage, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stage]:
    """The stage with the worker's wiring: the runtime's output goes to a DeployLogSink."""
    # Stage.build releases the app of its module (pytest's own import of the conftest).
    monkeypatch.setitem(type(stage).build.__globals__, "APP_PY", LOG_APP)
    sink = DeployLogSink(stage.deps.sessionmaker, stage.deps.events)
    await stage.runtime.aclose()  # unused: replaced before anything started
    settings = stage.deps.settings
    stage.runtime = LocalRuntime(
        settings.state_dir, FilesystemArtifactStore(settings.artifacts_dir), on_output=sink
    )
    try:
        yield stage
    finally:
        await sink.aclose()


async def _request(stage: Stage, *paths: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stage.router_port}") as c:
        for path in paths:
            r = await c.get(path, headers={"Host": stage.host})
            assert r.status_code == 200, r.text


async def _read_until(
    server: LiveServer, token: str, dep: str, after: str | None, last_text: str
) -> tuple[list[dict[str, Any]], str]:
    """Lines until one reads `last_text`, then close the subscription; and the last cursor."""
    lines: list[dict[str, Any]] = []
    cursor = after or ""
    async with ws_session(server.ws, token) as ws:
        async for p in messages(ws, LOGS, {"d": dep, "a": after}):
            batch = p["data"]["deploymentLogs"]
            lines += batch["lines"]
            cursor = batch["cursor"]
            if any(ln["text"] == last_text for ln in batch["lines"]):
                break
    return lines, cursor


def _hits(lines: list[dict[str, Any]], prefix: str) -> list[str]:
    return [ln["text"] for ln in lines if ln["text"].startswith(f"hit {prefix}")]


async def test_logs_live_resume_history_completion_and_isolation(
    logged: Stage, live_server: LiveServer
) -> None:
    stage = logged
    token = stage.account.token
    dep_id = await stage.roll_out(await stage.build("v1"), "IMMEDIATE")
    assert (await stage.get(dep_id)).status == DeploymentStatus.ACTIVE
    dep = to_global_id("Deployment", dep_id)
    await stage.wait_served("v1")

    # Live: requests made while subscribed show up, numbered 1..n without a gap.
    async def first_read() -> tuple[list[dict[str, Any]], str]:
        return await _read_until(live_server, token, dep, None, "hit /a/5")

    reading = asyncio.create_task(first_read())
    await asyncio.sleep(0.3)
    await _request(stage, *(f"/a/{i}" for i in range(1, 6)))
    seen, cursor = await asyncio.wait_for(reading, 30)
    assert [ln["seq"] for ln in seen] == list(range(1, len(seen) + 1))
    assert _hits(seen, "/a/") == [f"hit /a/{i}" for i in range(1, 6)]
    assert {ln["stream"] for ln in seen} <= {"STDOUT", "STDERR", "SYSTEM"}
    assert cursor == str(seen[-1]["seq"])

    # Missed while disconnected: resuming after the cursor gets exactly those lines.
    await _request(stage, "/b/1", "/b/2", "/b/3")
    rest, cursor2 = await _read_until(live_server, token, dep, cursor, "hit /b/3")
    assert [ln["seq"] for ln in rest] == list(range(int(cursor) + 1, int(cursor2) + 1))
    assert _hits(rest, "/b/") == ["hit /b/1", "hit /b/2", "hit /b/3"]
    assert not _hits(rest, "/a/")

    # History, paged by the same cursor.
    page = await stage.api.ok(HISTORY, {"d": dep, "a": cursor}, token=token)
    logs = page["deployment"]["logs"]
    assert [ln["seq"] for ln in logs["lines"]] == [int(cursor) + 1, int(cursor) + 2]
    assert logs["pageInfo"] == {"hasNextPage": True, "endCursor": str(int(cursor) + 2)}

    # Another team: NOT_FOUND, for the subscription and the history.
    stranger = await stage.api.sign_up("log-stranger")
    assert await stage.api.error(HISTORY, {"d": dep}, token=stranger.token) == "NOT_FOUND"
    async with ws_session(live_server.ws, stranger.token) as ws:
        with pytest.raises(SubscriptionError) as err:
            async for _ in messages(ws, LOGS, {"d": dep}):
                pass
    assert err.value.codes == ["NOT_FOUND"]

    # While it serves the subscription stays open; once the deployment ended and its release
    # is stopped (what reconcile_deployments does when retention ends), it completes.
    async def until_complete() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        async with ws_session(live_server.ws, token) as ws:
            async for p in messages(ws, LOGS, {"d": dep, "a": cursor2}, timeout=30):
                out += p["data"]["deploymentLogs"]["lines"]
        return out

    tail = asyncio.create_task(until_complete())
    await asyncio.sleep(1.0)
    assert not tail.done()
    await _request(stage, "/c/1")
    row = await stage.get(dep_id)
    assert row.release_id is not None
    await stage.runtime.stop_release(row.release_id, drain_seconds=0.5)
    async with stage.deps.sessionmaker() as s, s.begin():
        await s.execute(
            update(models.Deployment)
            .where(models.Deployment.id == dep_id)
            .values(status=DeploymentStatus.SUPERSEDED, upstreams=None, traffic_weight=0)
        )
    last = await asyncio.wait_for(tail, 30)
    assert _hits(last, "/c/") == ["hit /c/1"]
    assert [ln["seq"] for ln in last] == list(range(int(cursor2) + 1, int(cursor2) + 1 + len(last)))

    # After the end: a full replay, then completion at once; the same as the stored history.
    async with ws_session(live_server.ws, token) as ws:
        everything = [
            ln
            async for p in messages(ws, LOGS, {"d": dep})
            for ln in p["data"]["deploymentLogs"]["lines"]
        ]
    async with stage.deps.sessionmaker() as s:
        stored = await deploy_logs.history(s, dep_id, after=0, limit=10_000)
    assert [ln["seq"] for ln in everything] == [ln.seq for ln in stored]
    assert [ln["seq"] for ln in everything] == list(range(1, len(stored) + 1))
    ours = [t for t in _hits(everything, "/") if t[4:7] in ("/a/", "/b/", "/c/")]
    assert ours == [
        *(f"hit /a/{i}" for i in range(1, 6)),
        "hit /b/1",
        "hit /b/2",
        "hit /b/3",
        "hit /c/1",
    ]


async def test_unknown_deployment_is_not_found(logged: Stage, live_server: LiveServer) -> None:
    dep = to_global_id("Deployment", uuid.uuid4())
    async with ws_session(live_server.ws, logged.account.token) as ws:
        with pytest.raises(SubscriptionError) as err:
            async for _ in messages(ws, LOGS, {"d": dep}):
                pass
    assert err.value.codes == ["NOT_FOUND"]
