"""The project activity feed over websockets: builds and deployments of one project, in
order, resumable by cursor, invisible to other teams."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api
from tests.support.live_server import LiveServer
from tests.support.ws import SubscriptionError, messages, ws_session

ACTIVITY = """subscription($p: ID!, $a: String) { projectActivity(projectId: $p, after: $a) {
  cursor subject buildId deploymentId number status event message } }"""
DEPLOY = """mutation($i: DeployInput!) { deploy(input: $i) {
  deployment { id } userErrors { code } } }"""
CANCEL = """mutation($d: ID!) { cancelDeployment(input: {deploymentId: $d}) {
  deployment { status } userErrors { code } } }"""


async def _take(url: str, token: str, variables: dict[str, Any], n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with ws_session(url, token) as ws:
        async for payload in messages(ws, ACTIVITY, variables):
            out.append(payload["data"]["projectActivity"])
            if len(out) == n:
                break
    return out


async def test_project_activity_streams_builds_and_deployments(
    api: Api, live_server: LiveServer
) -> None:
    owner = await api.sign_up("activity")
    project = await api.create_project(
        owner.token, owner.team_id, gitUrl="https://example.com/r.git"
    )
    other = await api.create_project(owner.token, owner.team_id, gitUrl="https://example.com/o.git")
    # Activity of another project never shows up in this one's feed.
    await api.ok(DEPLOY, {"i": {"projectId": other["id"], "gitRef": "main"}}, token=owner.token)
    i = {"projectId": project["id"], "gitRef": "main", "strategy": "IMMEDIATE"}
    dep = (await api.ok(DEPLOY, {"i": i}, token=owner.token))["deploy"]["deployment"]["id"]
    await api.ok(CANCEL, {"d": dep}, token=owner.token)

    # From the start of the retained feed: the build queued, the deployment queued, canceled.
    seen = await _take(live_server.ws, owner.token, {"p": project["id"], "a": "0-0"}, 3)
    assert [(e["subject"], e["status"], e["event"]) for e in seen] == [
        ("BUILD", "QUEUED", None),
        ("DEPLOYMENT", "QUEUED", "STATUS"),
        ("DEPLOYMENT", "CANCELED", "STATUS"),
    ]
    assert seen[0]["buildId"] and seen[0]["deploymentId"] is None
    assert seen[1]["deploymentId"] == dep == seen[2]["deploymentId"]
    assert seen[1]["number"] == 1 and seen[2]["message"] == "canceled"

    # Resuming after the second entry starts at the third; then live entries follow.
    async with ws_session(live_server.ws, owner.token) as ws:
        stream = messages(ws, ACTIVITY, {"p": project["id"], "a": seen[1]["cursor"]})
        first = (await anext(stream))["data"]["projectActivity"]
        assert first["cursor"] == seen[2]["cursor"]
        again = await api.ok(DEPLOY, {"i": i}, token=owner.token)
        live = [(await anext(stream))["data"]["projectActivity"] for _ in range(2)]
        await stream.aclose()
    assert [e["subject"] for e in live] == ["BUILD", "DEPLOYMENT"]
    assert live[1]["deploymentId"] == again["deploy"]["deployment"]["id"]

    stranger = await api.sign_up("activity-stranger")
    for token, variables, code in (
        (stranger.token, {"p": project["id"]}, "NOT_FOUND"),
        (owner.token, {"p": project["id"], "a": "not-a-cursor"}, "BAD_USER_INPUT"),
    ):
        async with ws_session(live_server.ws, token) as ws:
            try:
                async for _ in messages(ws, ACTIVITY, variables):
                    raise AssertionError("an entry was sent")
            except SubscriptionError as err:
                assert err.codes == [code], err.errors
                if code == "BAD_USER_INPUT":
                    assert "INVALID_CURSOR" in str(err.errors)
