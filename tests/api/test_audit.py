"""The audit log: one entry per mutation, written in its transaction, readable by admins."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import graphql
from sqlalchemy import select

from app.deps import Deps
from db import models
from db.enums import DeploymentStatus
from resolvers.ids import from_global_id
from resolvers.schema import build_schema
from tests.support.api import (
    ACCEPT,
    CREATE_API_KEY,
    CREATE_PROJECT,
    INVITE,
    SIGN_UP,
    UPSERT_VARIABLES,
    Account,
    Api,
    unique,
)

UA = "stratus-audit-test/1.0"


def _rid(global_id: str) -> uuid.UUID:
    return from_global_id(global_id)[1]


class Recorder:
    """Sends each mutation with its own X-Request-Id and remembers what it expects."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.calls: list[dict[str, Any]] = []

    async def run(
        self,
        field: str,
        query: str,
        variables: dict[str, Any],
        token: str | None,
        *,
        action: str,
        target_type: str,
        team: bool = True,
    ) -> dict[str, Any]:
        request_id = "req-" + uuid.uuid4().hex
        r = await self.api.post(
            query,
            variables,
            token=token,
            headers={"x-request-id": request_id, "user-agent": UA},
        )
        assert r.status_code == 200, r.text
        assert r.headers["x-request-id"] == request_id
        body = r.json()
        assert "errors" not in body, body
        payload: dict[str, Any] = body["data"][field]
        assert payload.get("userErrors", []) == [], payload
        self.calls.append(
            {
                "field": field,
                "request_id": request_id,
                "action": action,
                "target_type": target_type,
                "team": team,
            }
        )
        return payload


async def _entries_for(deps: Deps, request_id: str) -> list[models.AuditLogEntry]:
    async with deps.sessionmaker() as s:
        rows = await s.scalars(
            select(models.AuditLogEntry).where(models.AuditLogEntry.request_id == request_id)
        )
        return list(rows)


DEPLOY = """mutation($p: ID!, $b: ID!) { deploy(input: {projectId: $p, buildId: $b})
  { deployment { id } userErrors { code } } }"""


async def _deployment_mutations(
    rec: Recorder, deps: Deps, project_gid: str, build_gid: str, token: str
) -> None:
    """deploy and cancel as a client would; promote, split and rollback need a waiting canary
    and a retained release, put in place here without running the rollouts."""
    deploy: dict[str, Any] = dict(action="deployment.deploy", target_type="Deployment")
    first = (await rec.run("deploy", DEPLOY, {"p": project_gid, "b": build_gid}, token, **deploy))[
        "deployment"
    ]
    q = "mutation($d: ID!) { cancelDeployment(input: {deploymentId: $d}) { userErrors { code } } }"
    await rec.run(
        "cancelDeployment",
        q,
        {"d": first["id"]},
        token,
        action="deployment.cancel",
        target_type="Deployment",
    )
    old = (await api_ok(rec, DEPLOY, {"p": project_gid, "b": build_gid}, token))["deploy"][
        "deployment"
    ]
    canary = (await api_ok(rec, DEPLOY, {"p": project_gid, "b": build_gid}, token))["deploy"][
        "deployment"
    ]
    async with deps.sessionmaker() as s, s.begin():
        o = await s.get(models.Deployment, _rid(old["id"]))
        c = await s.get(models.Deployment, _rid(canary["id"]))
        assert o is not None and c is not None
        o.status, o.traffic_weight, o.upstreams = DeploymentStatus.ACTIVE, 90, ["127.0.0.1:1"]
        c.status, c.traffic_weight, c.upstreams = DeploymentStatus.VERIFYING, 10, ["127.0.0.1:2"]
        c.previous_id = o.id
    q = """mutation($d: ID!) { setTrafficSplit(input: {deploymentId: $d, weight: 50})
           { userErrors { code } } }"""
    await rec.run(
        "setTrafficSplit",
        q,
        {"d": canary["id"]},
        token,
        action="deployment.set_traffic_split",
        target_type="Deployment",
    )
    q = "mutation($d: ID!) { promoteDeployment(input: {deploymentId: $d}) { userErrors { code } } }"
    await rec.run(
        "promoteDeployment",
        q,
        {"d": canary["id"]},
        token,
        action="deployment.promote",
        target_type="Deployment",
    )
    q = "mutation($d: ID!) { rollbackDeployment(input: {deploymentId: $d}) { userErrors { code } } }"
    await rec.run(
        "rollbackDeployment",
        q,
        {"d": old["id"]},
        token,
        action="deployment.rollback",
        target_type="Deployment",
    )


async def api_ok(rec: Recorder, q: str, v: dict[str, Any], token: str) -> dict[str, Any]:
    return await rec.api.ok(q, v, token=token)


async def test_every_mutation_writes_one_entry_with_its_request(api: Api, deps: Deps) -> None:
    rec = Recorder(api)
    email = f"audit-{uuid.uuid4().hex[:8]}@example.com"
    secret_password = "pw-" + uuid.uuid4().hex
    signed = await rec.run(
        "signUp",
        SIGN_UP,
        {"input": {"email": email, "password": secret_password}},
        None,
        action="user.sign_up",
        target_type="User",
        team=False,
    )
    owner_token = signed["accessToken"]
    teams = await api.ok("{ viewer { teams { id } } }", token=owner_token)
    team = teams["viewer"]["teams"][0]["id"]
    q = "mutation($i: LogInInput!) { logIn(input: $i) { accessToken refreshToken userErrors { code } } }"
    logged = await rec.run(
        "logIn",
        q,
        {"i": {"email": email, "password": secret_password}},
        None,
        action="user.log_in",
        target_type="User",
        team=False,
    )
    q = "mutation($t: String!) { refreshSession(input: {refreshToken: $t}) { refreshToken userErrors { code } } }"
    refreshed = await rec.run(
        "refreshSession",
        q,
        {"t": logged["refreshToken"]},
        None,
        action="session.refresh",
        target_type="Session",
        team=False,
    )
    q = "mutation($t: String) { logOut(input: {refreshToken: $t}) { ok userErrors { code } } }"
    await rec.run(
        "logOut",
        q,
        {"t": refreshed["refreshToken"]},
        None,
        action="session.log_out",
        target_type="Session",
        team=False,
    )
    q = "mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id } userErrors { code } } }"
    extra = await rec.run(
        "createTeam",
        q,
        {"i": {"name": "Extra"}},
        owner_token,
        action="team.create",
        target_type="Team",
    )
    q = "mutation($i: UpdateTeamInput!) { updateTeam(input: $i) { team { id } userErrors { code } } }"
    await rec.run(
        "updateTeam",
        q,
        {"i": {"teamId": team, "name": "Renamed"}},
        owner_token,
        action="team.update",
        target_type="Team",
    )
    project = (
        await rec.run(
            "createProject",
            CREATE_PROJECT,
            {"input": {"teamId": team, "name": unique("p"), "buildCommand": "make"}},
            owner_token,
            action="project.create",
            target_type="Project",
        )
    )["project"]
    env = project["environments"][0]["id"]
    q = "mutation($i: UpdateProjectInput!) { updateProject(input: $i) { project { id } userErrors { code } } }"
    await rec.run(
        "updateProject",
        q,
        {"i": {"projectId": project["id"], "framework": "PYTHON"}},
        owner_token,
        action="project.update",
        target_type="Project",
    )
    value = "value-" + uuid.uuid4().hex
    await rec.run(
        "upsertEnvironmentVariables",
        UPSERT_VARIABLES,
        {"input": {"environmentId": env, "variables": [{"key": "SECRET", "value": value}]}},
        owner_token,
        action="variables.upsert",
        target_type="Environment",
    )
    q = """mutation($e: ID!) { deleteEnvironmentVariables(input: {environmentId: $e, keys: ["SECRET"]})
           { deletedKeys userErrors { code } } }"""
    await rec.run(
        "deleteEnvironmentVariables",
        q,
        {"e": env},
        owner_token,
        action="variables.delete",
        target_type="Environment",
    )
    key = await rec.run(
        "createApiKey",
        CREATE_API_KEY,
        {"input": {"teamId": team, "name": "ci", "scopes": ["READ"]}},
        owner_token,
        action="api_key.create",
        target_type="ApiKey",
    )
    q = "mutation($id: ID!) { revokeApiKey(input: {apiKeyId: $id}) { apiKey { id } userErrors { code } } }"
    await rec.run(
        "revokeApiKey",
        q,
        {"id": key["apiKey"]["id"]},
        owner_token,
        action="api_key.revoke",
        target_type="ApiKey",
    )
    invitee = await api.sign_up("invitee")
    invitation = await rec.run(
        "inviteTeamMember",
        INVITE,
        {"input": {"teamId": team, "email": invitee.email, "role": "VIEWER"}},
        owner_token,
        action="member.invite",
        target_type="TeamInvitation",
    )
    member = (
        await rec.run(
            "acceptTeamInvitation",
            ACCEPT,
            {"input": {"token": invitation["token"]}},
            invitee.token,
            action="member.join",
            target_type="TeamMember",
        )
    )["member"]
    q = """mutation($m: ID!) { updateTeamMemberRole(input: {memberId: $m, role: DEVELOPER})
           { member { id } userErrors { code } } }"""
    await rec.run(
        "updateTeamMemberRole",
        q,
        {"m": member["id"]},
        owner_token,
        action="member.role_change",
        target_type="TeamMember",
    )
    q = "mutation($m: ID!) { removeTeamMember(input: {memberId: $m}) { removedMemberId userErrors { code } } }"
    await rec.run(
        "removeTeamMember",
        q,
        {"m": member["id"]},
        owner_token,
        action="member.remove",
        target_type="TeamMember",
    )
    q = """mutation($p: ID!) { setProjectGitCredential(input: {projectId: $p, token: "ghp_s3cret"})
           { ok userErrors { code } } }"""
    await rec.run(
        "setProjectGitCredential",
        q,
        {"p": project["id"]},
        owner_token,
        action="project.git_credential_set",
        target_type="Project",
    )
    q = """mutation($p: ID!) { rotateProjectWebhookSecret(input: {projectId: $p})
           { secret webhookUrl userErrors { code } } }"""
    hook = await rec.run(
        "rotateProjectWebhookSecret",
        q,
        {"p": project["id"]},
        owner_token,
        action="project.webhook_secret_rotate",
        target_type="Project",
    )
    q = """mutation($p: ID!) { updateProject(input: {projectId: $p, gitUrl: "https://example.com/r.git"})
           { project { id } userErrors { code } } }"""
    await api.ok(q, {"p": project["id"]}, token=owner_token)
    q = """mutation($p: ID!) { triggerBuild(input: {projectId: $p, ref: "main"})
           { build { id } userErrors { code } } }"""
    build = (
        await rec.run(
            "triggerBuild",
            q,
            {"p": project["id"]},
            owner_token,
            action="build.trigger",
            target_type="Build",
        )
    )["build"]
    await _deployment_mutations(rec, deps, project["id"], build["id"], owner_token)
    q = "mutation($b: ID!) { cancelBuild(input: {buildId: $b}) { build { status } userErrors { code } } }"
    await rec.run(
        "cancelBuild",
        q,
        {"b": build["id"]},
        owner_token,
        action="build.cancel",
        target_type="Build",
    )
    q = "mutation($id: ID!) { deleteProject(input: {projectId: $id}) { deletedProjectId userErrors { code } } }"
    await rec.run(
        "deleteProject",
        q,
        {"id": project["id"]},
        owner_token,
        action="project.delete",
        target_type="Project",
    )
    owner_id = _rid(signed["user"]["id"])
    await _check_entries(
        deps,
        rec.calls,
        owner_id,
        _rid(invitee.user_id),
        [
            secret_password,
            value,
            key["secret"],
            invitation["token"],
            logged["refreshToken"],
            refreshed["refreshToken"],
            "ghp_s3cret",
            hook["secret"],
        ],
    )
    # Deleting a team deletes its log with it; the deletion itself is kept outside the team.
    q = "mutation($id: ID!) { deleteTeam(input: {teamId: $id}) { deletedTeamId userErrors { code } } }"
    await rec.run(
        "deleteTeam",
        q,
        {"id": extra["team"]["id"]},
        owner_token,
        action="team.delete",
        target_type="Team",
        team=False,
    )
    await _check_entries(deps, rec.calls[-1:], owner_id, owner_id, [])

    # Every mutation of the schema took part, so a new one must be added here.
    schema = graphql.build_schema(build_schema().as_str())
    assert schema.mutation_type is not None
    assert {c["field"] for c in rec.calls} == set(schema.mutation_type.fields)

    # Through the API, with the changed fields.
    log = await api.audit_log(owner_token, team, actions=["project.update", "variables.upsert"])
    by_action = {n["action"]: n for n in log["nodes"]}
    assert by_action["project.update"]["changes"] == {"framework": "python"}
    assert by_action["variables.upsert"]["changes"] == {"keys": ["SECRET"]}
    assert by_action["project.update"]["targetId"] == str(_rid(project["id"]))
    assert by_action["project.update"]["actorUserId"] == signed["user"]["id"]
    assert by_action["project.update"]["userAgent"] == UA
    update_call = next(c for c in rec.calls if c["field"] == "updateProject")
    assert by_action["project.update"]["requestId"] == update_call["request_id"]


async def _check_entries(
    deps: Deps,
    calls: list[dict[str, Any]],
    owner_id: uuid.UUID,
    invitee_id: uuid.UUID,
    secrets: list[str],
) -> None:
    for call in calls:
        rows = await _entries_for(deps, call["request_id"])
        assert len(rows) == 1 + (call["field"] == "signUp"), (call, rows)  # + personal team
        entry = next(r for r in rows if r.action == call["action"])
        assert entry.target_type == call["target_type"], call
        assert (entry.ip, entry.user_agent) == ("127.0.0.1", UA)
        assert (entry.team_id is not None) == call["team"], call
        expected_actor = invitee_id if call["field"] == "acceptTeamInvitation" else owner_id
        assert entry.actor_user_id == expected_actor, call
        text = json.dumps(entry.changes)
        for secret in secrets:
            assert secret not in text, (call, entry.changes)


async def test_failed_mutations_write_nothing(api: Api, deps: Deps) -> None:
    owner = await api.sign_up("audit")
    viewer = await api.join(owner, "VIEWER")
    failing = [
        (
            CREATE_PROJECT,
            {"input": {"teamId": owner.team_id, "name": "x", "slug": "Bad!"}},
            owner.token,
        ),
        (CREATE_PROJECT, {"input": {"teamId": owner.team_id, "name": "x"}}, viewer.token),
        (SIGN_UP, {"input": {"email": owner.email, "password": "whatever-long"}}, None),
        (
            INVITE,
            {"input": {"teamId": owner.team_id, "email": owner.email, "role": "VIEWER"}},
            owner.token,
        ),
    ]
    for query, variables, token in failing:
        request_id = "fail-" + uuid.uuid4().hex
        r = await api.post(query, variables, token=token, headers={"x-request-id": request_id})
        assert r.status_code == 200
        body = r.json()
        failed = "errors" in body or any(v["userErrors"] for v in body["data"].values())
        assert failed, body
        assert await _entries_for(deps, request_id) == []


async def test_api_key_actor_is_recorded(api: Api) -> None:
    owner = await api.sign_up("audit")
    secret, key = await api.create_api_key(owner.token, owner.team_id, ["READ", "WRITE"])
    await api.create_project(secret, owner.team_id)
    log = await api.audit_log(owner.token, owner.team_id, actions=["project.create"])
    [entry] = log["nodes"]
    assert entry["actorApiKeyId"] == key["id"]
    assert entry["actorUserId"] == owner.user_id


async def _busy_team(api: Api) -> tuple[Account, Account, list[str]]:
    """A team with entries by two actors: (owner, admin, project ids)."""
    owner = await api.sign_up("audit")
    admin = await api.join(owner, "ADMIN")
    ids = []
    for _ in range(3):
        ids.append((await api.create_project(owner.token, owner.team_id))["id"])
    for _ in range(2):
        ids.append((await api.create_project(admin.token, owner.team_id))["id"])
    return owner, admin.account, ids


async def test_pagination(api: Api) -> None:
    owner, _, _ = await _busy_team(api)
    everything = await api.audit_log(owner.token, owner.team_id)
    assert not everything["pageInfo"]["hasNextPage"]
    total = everything["nodes"]
    assert len(total) >= 8  # team.create, invite, join, 5 x project.create
    stamps = [n["createdAt"] for n in total]
    assert stamps == sorted(stamps, reverse=True)

    seen: list[dict[str, Any]] = []
    after = None
    pages = 0
    while True:
        page = await api.audit_log(owner.token, owner.team_id, first=3, after=after)
        pages += 1
        seen.extend(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert len(page["nodes"]) == 3
        after = page["pageInfo"]["endCursor"]
    assert [n["id"] for n in seen] == [n["id"] for n in total]
    assert pages == -(-len(total) // 3)
    empty = await api.audit_log(owner.token, owner.team_id, first=0)
    assert empty["nodes"] == [] and empty["pageInfo"]["hasNextPage"]


async def test_filters(api: Api) -> None:
    owner, admin, projects = await _busy_team(api)
    log = await api.audit_log(owner.token, owner.team_id, actions=["project.create"])
    assert len(log["nodes"]) == 5
    log = await api.audit_log(
        owner.token, owner.team_id, actions=["project.create"], actorUserId=admin.user_id
    )
    assert len(log["nodes"]) == 2
    assert {n["actorUserId"] for n in log["nodes"]} == {admin.user_id}
    target = str(_rid(projects[0]))
    log = await api.audit_log(owner.token, owner.team_id, targetType="Project", targetId=target)
    assert [(n["action"], n["targetId"]) for n in log["nodes"]] == [("project.create", target)]
    log = await api.audit_log(owner.token, owner.team_id, actions=["team.create", "member.join"])
    assert sorted(n["action"] for n in log["nodes"]) == ["member.join", "team.create"]

    everything = (await api.audit_log(owner.token, owner.team_id))["nodes"]
    middle = everything[len(everything) // 2]["createdAt"]
    newer = (await api.audit_log(owner.token, owner.team_id, since=middle))["nodes"]
    older = (await api.audit_log(owner.token, owner.team_id, until=middle))["nodes"]
    assert [n["id"] for n in newer + older] == [n["id"] for n in everything]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await api.audit_log(owner.token, owner.team_id, since=future))["nodes"] == []
    # A naive timestamp is read as UTC.
    naive = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert (await api.audit_log(owner.token, owner.team_id, since=naive))["nodes"] == []
    assert (await api.audit_log(owner.token, owner.team_id, until=naive))["nodes"] == everything


async def test_bad_cursor_and_page_size(api: Api) -> None:
    owner = await api.sign_up("audit")
    from tests.support.api import AUDIT_LOG

    for variables in ({"first": 101}, {"first": -1}, {"first": 5, "after": "garbage"}):
        body = await api.gql(AUDIT_LOG, {"team": owner.team_id, **variables}, token=owner.token)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body


async def test_viewers_and_developers_cannot_read_it(api: Api) -> None:
    owner = await api.sign_up("audit")
    for role in ("VIEWER", "DEVELOPER"):
        member = await api.join(owner, role)
        from tests.support.api import AUDIT_LOG

        body = await api.gql(AUDIT_LOG, {"team": owner.team_id, "first": 10}, token=member.token)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], role
    secret, _ = await api.create_api_key(owner.token, owner.team_id, ["WRITE"])
    body = await api.gql(
        "query($t: ID!) { team(id: $t) { auditLog { nodes { id } } } }",
        {"t": owner.team_id},
        token=secret,
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
