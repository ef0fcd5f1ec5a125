"""The deployment API without rollouts: input checks, idempotency, reads, tenant isolation,
and the deploymentEvents subscription over websockets (replay, resume, completion)."""

from __future__ import annotations

import uuid
from typing import Any

from app.ids import to_global_id
from tests.support.api import Api, user_error_codes
from tests.support.live_server import LiveServer
from tests.support.ws import SubscriptionError, messages, ws_session

DEPLOY = """mutation($i: DeployInput!) { deploy(input: $i) {
  deployment { id number status strategy environment trafficWeight }
  userErrors { code message field } } }"""
CANCEL = """mutation($d: ID!) { cancelDeployment(input: {deploymentId: $d}) {
  deployment { status reason } userErrors { code message field } } }"""
EVENTS = """subscription($d: ID!, $a: String) { deploymentEvents(deploymentId: $d, after: $a) {
  seq kind status message } }"""
LIST = """query($p: ID!) { project(id: $p) { deployments(first: 10) { nodes { id number } } } }"""


async def _project(api: Api) -> tuple[Any, dict[str, Any]]:
    owner = await api.sign_up("deploy-api")
    project = await api.create_project(
        owner.token, owner.team_id, gitUrl="https://example.com/r.git"
    )
    return owner, project


async def test_input_checks_and_idempotency(api: Api) -> None:
    owner, project = await _project(api)
    build = to_global_id("Build", uuid.uuid4())
    both = {"projectId": project["id"], "gitRef": "main", "buildId": build}
    bad = await api.payload(DEPLOY, {"i": both}, token=owner.token)
    assert user_error_codes(bad) == ["INVALID_ARGUMENT"]
    canary = {"projectId": project["id"], "gitRef": "main", "strategy": "CANARY"}
    bad = await api.payload(DEPLOY, {"i": {**canary, "canaryWeight": 0}}, token=owner.token)
    assert user_error_codes(bad) == ["INVALID_WEIGHTS"]
    env = {"projectId": project["id"], "gitRef": "main", "environment": "nope"}
    bad = await api.payload(DEPLOY, {"i": env}, token=owner.token)
    assert user_error_codes(bad) == ["UNKNOWN_ENVIRONMENT"]

    keyed = {"projectId": project["id"], "gitRef": "main", "idempotencyKey": "k-1"}
    first = (await api.ok(DEPLOY, {"i": keyed}, token=owner.token))["deploy"]["deployment"]
    again = (await api.ok(DEPLOY, {"i": keyed}, token=owner.token))["deploy"]["deployment"]
    assert first["id"] == again["id"] and first["number"] == 1
    assert first["status"] == "QUEUED" and first["strategy"] == "BLUE_GREEN"
    assert first["environment"] == "production" and first["trafficWeight"] == 0
    listed = await api.ok(LIST, {"p": project["id"]}, token=owner.token)
    assert [n["id"] for n in listed["project"]["deployments"]["nodes"]] == [first["id"]]
    # Filtered by environment, each with the build it releases (one batched read).
    by_env = """query($p: ID!, $e: String) { project(id: $p) {
      deployments(first: 10, environment: $e) { nodes { id build { gitRef status } } } } }"""
    prod = await api.ok(by_env, {"p": project["id"], "e": "production"}, token=owner.token)
    assert prod["project"]["deployments"]["nodes"] == [
        {"id": first["id"], "build": {"gitRef": "main", "status": "QUEUED"}}
    ]
    for env in ("development", "no-such-environment"):
        other = await api.ok(by_env, {"p": project["id"], "e": env}, token=owner.token)
        assert other["project"]["deployments"]["nodes"] == []

    canceled = await api.ok(CANCEL, {"d": first["id"]}, token=owner.token)
    assert canceled["cancelDeployment"]["deployment"] == {
        "status": "CANCELED",
        "reason": "CANCELED",
    }
    again = await api.payload(CANCEL, {"d": first["id"]}, token=owner.token)
    assert user_error_codes(again) == ["DEPLOYMENT_FINISHED"]


async def test_events_replay_resume_and_isolation(api: Api, live_server: LiveServer) -> None:
    owner, project = await _project(api)
    i = {"projectId": project["id"], "gitRef": "main"}
    dep = (await api.ok(DEPLOY, {"i": i}, token=owner.token))["deploy"]["deployment"]["id"]
    await api.ok(CANCEL, {"d": dep}, token=owner.token)

    async with ws_session(live_server.ws, owner.token) as ws:
        seen = [p["data"]["deploymentEvents"] async for p in messages(ws, EVENTS, {"d": dep})]
    assert [e["seq"] for e in seen] == [1, 2]
    assert seen[-1]["status"] == "CANCELED" and seen[-1]["kind"] == "STATUS"
    async with ws_session(live_server.ws, owner.token) as ws:
        rest = [p async for p in messages(ws, EVENTS, {"d": dep, "a": "1"})]
    assert [p["data"]["deploymentEvents"]["seq"] for p in rest] == [2]

    stranger = await api.sign_up("stranger")
    q = "query($d: ID!) { deployment(id: $d) { id } }"
    assert await api.error(q, {"d": dep}, token=stranger.token) == "NOT_FOUND"
    async with ws_session(live_server.ws, stranger.token) as ws:
        try:
            async for _ in messages(ws, EVENTS, {"d": dep}):
                raise AssertionError("a stranger got an event")
        except SubscriptionError as err:
            assert err.codes == ["NOT_FOUND"]
