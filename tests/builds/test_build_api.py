"""Builds through the API: trigger (idempotent), cancel, read, logs, live subscriptions."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from app.domain import build_logs
from app.domain.build_logs import LogWriter
from app.ids import parse_id
from app.uow import transaction
from db import models
from db.enums import BuildStatus, LogStream
from tests.support.api import Api, user_error_codes
from tests.support.ws import SubscriptionError, messages, ws_session

TRIGGER = """mutation($i: TriggerBuildInput!) { triggerBuild(input: $i) {
  build { id number status gitRef trigger projectId } userErrors { code field } } }"""
CANCEL = """mutation($b: ID!) { cancelBuild(input: {buildId: $b}) {
  build { id status reason } userErrors { code } } }"""
LOGS_SUB = """subscription($b: ID!, $after: String) { buildLogs(buildId: $b, after: $after) {
  cursor lines { seq text stream step } } }"""
EVENTS_SUB = "subscription($b: ID!) { buildEvents(buildId: $b) { status step reason } }"


async def _project(api: Api, git_url: str | None = "https://git.example/app.git"):
    acct = await api.sign_up("builder")
    fields = {"gitUrl": git_url} if git_url else {}
    project = await api.create_project(acct.token, acct.team_id, name="app", **fields)
    return acct, project


async def _trigger(api: Api, token: str, **input) -> dict:
    data = await api.gql(TRIGGER, {"i": input}, token=token)
    return data["data"]["triggerBuild"]


async def test_trigger_is_idempotent_and_listed(api: Api) -> None:
    acct, project = await _project(api)
    key = uuid.uuid4().hex
    first = await _trigger(api, acct.token, projectId=project["id"], idempotencyKey=key)
    again = await _trigger(api, acct.token, projectId=project["id"], idempotencyKey=key)
    assert first["userErrors"] == [] and again["build"]["id"] == first["build"]["id"]
    build = first["build"]
    assert build["status"] == "QUEUED" and build["gitRef"] == "main"
    assert build["trigger"] == "MANUAL" and build["number"] == 1
    other = await _trigger(api, acct.token, projectId=project["id"], ref="feature/x")
    assert other["build"]["number"] == 2
    data = await api.ok(
        """query($p: ID!, $b: ID!) { project(id: $p) { builds(first: 10) { nodes { id } } }
           build(id: $b) { id projectId } node(id: $b) { ... on Build { number } } }""",
        {"p": project["id"], "b": build["id"]},
        token=acct.token,
    )
    assert [n["id"] for n in data["project"]["builds"]["nodes"]] == [
        other["build"]["id"],
        build["id"],
    ]  # newest first
    assert data["build"]["projectId"] == project["id"] and data["node"]["number"] == 1


async def test_trigger_input_errors(api: Api) -> None:
    acct, project = await _project(api, git_url=None)
    r = await _trigger(api, acct.token, projectId=project["id"])
    assert user_error_codes(r) == ["GIT_URL_MISSING"] and r["build"] is None
    acct, project = await _project(api)
    for ref in ("../etc", "a..b", "refs//x", "x" * 300):
        r = await _trigger(api, acct.token, projectId=project["id"], ref=ref)
        assert user_error_codes(r) == ["INVALID_REF"], ref
    r = await _trigger(api, acct.token, projectId=project["id"], environment="staging")
    assert user_error_codes(r) == ["UNKNOWN_ENVIRONMENT"]


async def test_cancel_queued_build(api: Api, deps) -> None:
    acct, project = await _project(api)
    build = (await _trigger(api, acct.token, projectId=project["id"]))["build"]
    row_id = parse_id(build["id"], "Build")
    async with deps.sessionmaker() as s:
        status = (await s.get(models.Build, row_id)).status
    if status != BuildStatus.QUEUED:
        pytest.skip("a worker from another test picked the build up")  # pragma: no cover
    data = await api.ok(CANCEL, {"b": build["id"]}, token=acct.token)
    assert data["cancelBuild"]["build"]["status"] == "CANCELED"
    again = (await api.gql(CANCEL, {"b": build["id"]}, token=acct.token))["data"]["cancelBuild"]
    assert user_error_codes(again) == ["BUILD_FINISHED"]


async def test_viewer_cannot_trigger_or_cancel(api: Api) -> None:
    acct, project = await _project(api)
    viewer = await api.join(acct, "VIEWER")
    body = await api.gql(TRIGGER, {"i": {"projectId": project["id"]}}, token=viewer.token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def _write(deps, build_id: uuid.UUID, start: int, count: int, step="build") -> None:
    async with deps.sessionmaker() as s:
        last = (await s.get(models.Build, build_id)).last_log_seq
    async with LogWriter(deps.sessionmaker, deps.events, build_id, last_seq=last) as w:
        for i in range(start, start + count):
            await w.write(LogStream.STDOUT if i % 3 else LogStream.STDERR, step, f"line {i}")


async def _end(deps, build_id: uuid.UUID, status=BuildStatus.SUCCEEDED) -> None:
    async with transaction(deps, None) as uow:
        (await uow.session.get(models.Build, build_id)).status = status
    await build_logs.publish_end(deps.events, build_id, status)


async def _running_build(api: Api, deps) -> tuple[str, str, uuid.UUID]:
    acct, project = await _project(api)
    build = (await _trigger(api, acct.token, projectId=project["id"]))["build"]
    row_id = parse_id(build["id"], "Build")
    async with transaction(deps, None) as uow:
        (await uow.session.get(models.Build, row_id)).status = BuildStatus.RUNNING
    return acct.token, build["id"], row_id


async def test_logs_history_pages_and_filters(api: Api, deps) -> None:
    token, build_id, row_id = await _running_build(api, deps)
    await _write(deps, row_id, 0, 10)
    q = """query($b: ID!, $after: String, $f: BuildLogFilter) { build(id: $b) {
      logs(first: 4, after: $after, filter: $f) { lines { seq text stream }
      pageInfo { hasNextPage endCursor } } } }"""
    page = (await api.ok(q, {"b": build_id}, token=token))["build"]["logs"]
    assert [ln["seq"] for ln in page["lines"]] == [1, 2, 3, 4]
    assert page["pageInfo"] == {"hasNextPage": True, "endCursor": "4"}
    page = (await api.ok(q, {"b": build_id, "after": "8"}, token=token))["build"]["logs"]
    assert [ln["seq"] for ln in page["lines"]] == [9, 10] and not page["pageInfo"]["hasNextPage"]
    f = {"streams": ["STDERR"]}
    page = (await api.ok(q, {"b": build_id, "f": f}, token=token))["build"]["logs"]
    assert {ln["stream"] for ln in page["lines"]} == {"STDERR"}
    body = await api.gql(q, {"b": build_id, "after": "x"}, token=token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def _follow(url: str, token: str, build_id: str, after: str | None, stop_after: int = 0):
    """(seqs received, last cursor, completed?) — disconnects after `stop_after` lines."""
    seqs: list[int] = []
    cursor = after
    async with ws_session(url, token) as ws:
        async for payload in messages(ws, LOGS_SUB, {"b": build_id, "after": after}):
            batch = payload["data"]["buildLogs"]
            seqs += [ln["seq"] for ln in batch["lines"]]
            cursor = batch["cursor"]
            if stop_after and len(seqs) >= stop_after:
                return seqs, cursor, False
    return seqs, cursor, True


@pytest.mark.slow
async def test_resume_over_websocket_gets_every_line_exactly_once(api, deps, live_server):
    token, build_id, row_id = await _running_build(api, deps)
    await _write(deps, row_id, 0, 300)
    # A dashboard reads part of the log, then its connection drops mid-build.
    first, cursor, done = await _follow(live_server.ws, token, build_id, None, stop_after=100)
    assert not done and first == list(range(1, len(first) + 1))
    writer = asyncio.create_task(_write(deps, row_id, 300, 500))
    second_task = asyncio.create_task(_follow(live_server.ws, token, build_id, cursor))
    await writer
    await asyncio.sleep(0.3)
    await _end(deps, row_id)
    second, _, done = await asyncio.wait_for(second_task, 30)
    assert done
    assert first + second == list(range(1, 801))  # no gap, no duplicate, in order
    # One that subscribes after the end replays and completes.
    late, _, done = await _follow(live_server.ws, token, build_id, "790")
    assert done and late == list(range(791, 801))


@pytest.mark.slow
async def test_build_events_and_other_teams(api, deps, live_server):
    token, build_id, row_id = await _running_build(api, deps)
    stranger = await api.sign_up("stranger")
    for query in (LOGS_SUB, EVENTS_SUB):
        async with ws_session(live_server.ws, stranger.token) as ws:
            with pytest.raises(SubscriptionError) as err:
                async for _ in messages(ws, query, {"b": build_id, "after": None}):
                    pass
            assert err.value.codes == ["NOT_FOUND"]
    statuses = []
    async with ws_session(live_server.ws, token) as ws:
        stream = messages(ws, EVENTS_SUB, {"b": build_id})
        first = await stream.__anext__()
        statuses.append(first["data"]["buildEvents"]["status"])
        await api.ok(CANCEL, {"b": build_id}, token=token)  # running: asks the worker
        async with transaction(deps, None) as uow:
            build = await uow.session.get(models.Build, row_id)
            build.status, build.reason = BuildStatus.CANCELED, "CANCELED"
            from app.domain import builds

            uow.publish(builds.events_stream(row_id), builds.status_event(build))
        async for payload in stream:
            statuses.append(payload["data"]["buildEvents"]["status"])
    assert statuses[0] == "RUNNING" and statuses[-1] == "CANCELED"
    assert await deps.redis.get(f"stratus:build:{row_id}:cancel") == b"1"
