"""Teams, invitations, the role matrix of app/domain/policy.py, owners and leaving."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from app.deps import Deps
from app.domain.policy import ROLE_ACTIONS, Action
from db import models
from db.enums import TeamRole
from resolvers.ids import from_global_id
from tests.support.api import (
    ACCEPT,
    CREATE_API_KEY,
    CREATE_PROJECT,
    INVITE,
    Account,
    Api,
    Member,
    error_codes,
    unique,
    user_error_codes,
)

CREATE_TEAM = """
mutation($input: CreateTeamInput!) {
  createTeam(input: $input) { team { id name slug members { role user { id } } } userErrors { code field } }
}"""
UPDATE_TEAM = """
mutation($input: UpdateTeamInput!) {
  updateTeam(input: $input) { team { id name slug } userErrors { code field } }
}"""
DELETE_TEAM = """
mutation($id: ID!) { deleteTeam(input: {teamId: $id}) { deletedTeamId userErrors { code } } }"""
ROLE = """
mutation($m: ID!, $r: TeamRole!) {
  updateTeamMemberRole(input: {memberId: $m, role: $r}) { member { id role } userErrors { code field } }
}"""
REMOVE = """
mutation($m: ID!) {
  removeTeamMember(input: {memberId: $m}) { removedMemberId userErrors { code field } }
}"""
TEAM = "query($t: ID!) { team(id: $t) { id name members { id role user { id email } } } }"
UPDATE_PROJECT = """
mutation($input: UpdateProjectInput!) { updateProject(input: $input) { project { id } userErrors { code } } }"""
DELETE_PROJECT = """
mutation($id: ID!) { deleteProject(input: {projectId: $id}) { deletedProjectId userErrors { code } } }"""
UPSERT = """
mutation($e: ID!) {
  upsertEnvironmentVariables(input: {environmentId: $e, variables: [{key: "K", value: "v"}]}) {
    variables { key } userErrors { code }
  }
}"""
AUDIT = "query($t: ID!) { team(id: $t) { auditLog(first: 1) { nodes { id } } } }"
KEYS = "query($t: ID!) { team(id: $t) { apiKeys { id } } }"


def _email() -> str:
    return f"invitee-{uuid.uuid4().hex[:8]}@example.com"


# Creating and changing teams


async def test_create_team_makes_the_caller_owner(api: Api) -> None:
    acct = await api.sign_up("teams")
    slug = unique("team")
    p = await api.payload(CREATE_TEAM, {"input": {"name": "Acme", "slug": slug}}, token=acct.token)
    assert p["userErrors"] == []
    assert p["team"]["slug"] == slug
    assert p["team"]["members"] == [{"role": "OWNER", "user": {"id": acct.user_id}}]
    # The default slug comes from the name, with a suffix so it is free.
    p = await api.payload(CREATE_TEAM, {"input": {"name": "Acme Inc."}}, token=acct.token)
    assert p["team"]["slug"].startswith("acme-inc-")


async def test_create_team_validation(api: Api) -> None:
    acct = await api.sign_up("teams")
    taken = (await api.ok("{ viewer { teams { slug } } }", token=acct.token))["viewer"]["teams"][0]
    cases = [
        ({"name": ""}, "REQUIRED", ["name"]),
        ({"name": "x" * 101}, "TOO_LONG", ["name"]),
        ({"name": "ok", "slug": "Bad Slug"}, "INVALID_SLUG", ["slug"]),
        ({"name": "ok", "slug": "-dash"}, "INVALID_SLUG", ["slug"]),
        ({"name": "ok", "slug": taken["slug"]}, "SLUG_TAKEN", ["slug"]),
    ]
    for data, code, field in cases:
        p = await api.payload(CREATE_TEAM, {"input": data}, token=acct.token)
        assert p["userErrors"] == [{"code": code, "field": field}], data
        assert p["team"] is None
    teams = await api.ok("{ viewer { teams { id } } }", token=acct.token)
    assert len(teams["viewer"]["teams"]) == 1


async def test_update_and_delete_team(api: Api) -> None:
    acct = await api.sign_up("teams")
    other = await api.sign_up("other")
    other_slug = (await api.ok("{ viewer { teams { slug } } }", token=other.token))["viewer"][
        "teams"
    ][0]["slug"]
    slug = unique("renamed")
    p = await api.payload(
        UPDATE_TEAM,
        {"input": {"teamId": acct.team_id, "name": "Renamed", "slug": slug}},
        token=acct.token,
    )
    assert p["team"] == {"id": acct.team_id, "name": "Renamed", "slug": slug}
    p = await api.payload(
        UPDATE_TEAM, {"input": {"teamId": acct.team_id, "slug": other_slug}}, token=acct.token
    )
    assert p["userErrors"] == [{"code": "SLUG_TAKEN", "field": ["slug"]}]
    data = await api.ok(
        "query($s: String!) { teamBySlug(slug: $s) { id } }", {"s": slug}, token=acct.token
    )
    assert data["teamBySlug"]["id"] == acct.team_id

    p = await api.payload(DELETE_TEAM, {"id": acct.team_id}, token=acct.token)
    assert p == {"deletedTeamId": acct.team_id, "userErrors": []}
    assert await api.error(TEAM, {"t": acct.team_id}, token=acct.token) == "NOT_FOUND"


# Invitations


async def test_invitation_token_shown_once_and_accepted(api: Api) -> None:
    owner = await api.sign_up("owner")
    invitee = await api.sign_up("invitee")
    p = await api.payload(
        INVITE,
        {"input": {"teamId": owner.team_id, "email": invitee.email.upper(), "role": "DEVELOPER"}},
        token=owner.token,
    )
    token = p["token"]
    assert token.startswith("sti_")
    assert p["invitation"]["email"] == invitee.email
    assert p["invitation"]["role"] == "DEVELOPER"
    fields = await api.ok('{ __type(name: "TeamInvitation") { fields { name } } }')
    assert "token" not in {f["name"] for f in fields["__type"]["fields"]}

    p = await api.payload(ACCEPT, {"input": {"token": token}}, token=invitee.token)
    assert p["userErrors"] == []
    assert p["member"]["role"] == "DEVELOPER"
    assert p["member"]["user"]["id"] == invitee.user_id
    data = await api.ok(TEAM, {"t": owner.team_id}, token=invitee.token)
    assert {m["user"]["id"]: m["role"] for m in data["team"]["members"]} == {
        owner.user_id: "OWNER",
        invitee.user_id: "DEVELOPER",
    }
    # A used token does not work again, not even for the same person.
    p = await api.payload(ACCEPT, {"input": {"token": token}}, token=invitee.token)
    assert p["userErrors"] == [
        {"code": "INVALID_INVITATION", "message": "invitation is not valid", "field": ["token"]}
    ]


async def test_invitation_for_another_email_is_refused(api: Api) -> None:
    owner = await api.sign_up("owner")
    invitee = await api.sign_up("invitee")
    intruder = await api.sign_up("intruder")
    token = await api.invite(owner, owner.team_id, invitee.email, "ADMIN")
    p = await api.payload(ACCEPT, {"input": {"token": token}}, token=intruder.token)
    assert user_error_codes(p) == ["INVALID_INVITATION"]
    assert p["member"] is None
    assert await api.error(TEAM, {"t": owner.team_id}, token=intruder.token) == "NOT_FOUND"
    # The rightful invitee can still use it.
    p = await api.payload(ACCEPT, {"input": {"token": token}}, token=invitee.token)
    assert p["userErrors"] == []


async def test_expired_and_unknown_invitations(api: Api, deps: Deps) -> None:
    owner = await api.sign_up("owner")
    invitee = await api.sign_up("invitee")
    p = await api.payload(
        INVITE,
        {"input": {"teamId": owner.team_id, "email": invitee.email, "role": "VIEWER"}},
        token=owner.token,
    )
    async with deps.sessionmaker() as s, s.begin():
        await s.execute(
            update(models.TeamInvitation)
            .where(models.TeamInvitation.id == from_global_id(p["invitation"]["id"])[1])
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    expired = await api.payload(ACCEPT, {"input": {"token": p["token"]}}, token=invitee.token)
    assert user_error_codes(expired) == ["INVITATION_EXPIRED"]
    unknown = await api.payload(ACCEPT, {"input": {"token": "sti_nope"}}, token=invitee.token)
    assert user_error_codes(unknown) == ["INVALID_INVITATION"]
    assert await api.error(TEAM, {"t": owner.team_id}, token=invitee.token) == "NOT_FOUND"


async def test_invite_validation(api: Api) -> None:
    owner = await api.sign_up("owner")
    member = await api.join(owner, "VIEWER")
    for email, code in [
        ("nope", "INVALID_EMAIL"),
        (member.account.email, "ALREADY_MEMBER"),
        (owner.email, "ALREADY_MEMBER"),
    ]:
        p = await api.payload(
            INVITE,
            {"input": {"teamId": owner.team_id, "email": email, "role": "VIEWER"}},
            token=owner.token,
        )
        assert p["userErrors"][0]["code"] == code and p["userErrors"][0]["field"] == ["email"]
        assert p["token"] is None


# The role matrix


async def _matrix_ops(
    api: Api, owner: Account, member: Member
) -> list[tuple[str, Action, Callable[[], Awaitable[dict[str, Any]]]]]:
    """(name, action needed, call) for one operation per action, against the owner's team."""
    team = owner.team_id
    project = await api.create_project(owner.token, team)
    doomed = await api.create_project(owner.token, team)
    env = project["environments"][0]["id"]
    other = await api.join(owner, "DEVELOPER")
    tok = member.token

    def call(q: str, v: dict[str, Any]) -> Callable[[], Awaitable[dict[str, Any]]]:
        return lambda: api.gql(q, v, token=tok)

    return [
        ("read team", Action.READ, call(TEAM, {"t": team})),
        (
            "create project",
            Action.PROJECT_WRITE,
            call(CREATE_PROJECT, {"input": {"teamId": team, "name": unique("p")}}),
        ),
        (
            "update project",
            Action.PROJECT_WRITE,
            call(UPDATE_PROJECT, {"input": {"projectId": project["id"], "name": unique("n")}}),
        ),
        ("upsert variables", Action.VARIABLES_WRITE, call(UPSERT, {"e": env})),
        ("delete project", Action.PROJECT_DELETE, call(DELETE_PROJECT, {"id": doomed["id"]})),
        ("read audit log", Action.AUDIT_READ, call(AUDIT, {"t": team})),
        ("list api keys", Action.API_KEYS_MANAGE, call(KEYS, {"t": team})),
        (
            "create api key",
            Action.API_KEYS_MANAGE,
            call(CREATE_API_KEY, {"input": {"teamId": team, "name": "k", "scopes": ["READ"]}}),
        ),
        (
            "invite developer",
            Action.MEMBERS_MANAGE,
            call(INVITE, {"input": {"teamId": team, "email": _email(), "role": "DEVELOPER"}}),
        ),
        ("change a role", Action.MEMBERS_MANAGE, call(ROLE, {"m": other.member_id, "r": "VIEWER"})),
        (
            "invite owner",
            Action.OWNERS_MANAGE,
            call(INVITE, {"input": {"teamId": team, "email": _email(), "role": "OWNER"}}),
        ),
        (
            "rename team",
            Action.TEAM_UPDATE,
            call(UPDATE_TEAM, {"input": {"teamId": team, "name": unique("t")}}),
        ),
        ("remove a member", Action.MEMBERS_MANAGE, call(REMOVE, {"m": other.member_id})),
        # Last: it ends the team.
        ("delete team", Action.TEAM_DELETE, call(DELETE_TEAM, {"id": team})),
    ]


@pytest.mark.parametrize("role", ["VIEWER", "DEVELOPER", "ADMIN", "OWNER"])
async def test_role_matrix(api: Api, role: str) -> None:
    owner = await api.sign_up("owner")
    member = await api.join(owner, role)
    allowed = ROLE_ACTIONS[TeamRole(role.lower())]
    results = {}
    for name, action, run in await _matrix_ops(api, owner, member):
        body = await run()
        if action in allowed:
            assert "errors" not in body, (role, name, body)
            [payload] = body["data"].values()
            assert not payload.get("userErrors"), (role, name, payload)
            results[name] = "allowed"
        else:
            assert error_codes(body) == ["FORBIDDEN"], (role, name, body)
            results[name] = "forbidden"
    expected_allowed = {
        "VIEWER": {"read team"},
        "DEVELOPER": {"read team", "create project", "update project", "upsert variables"},
    }
    if role in expected_allowed:
        assert {n for n, r in results.items() if r == "allowed"} == expected_allowed[role]
    if role == "ADMIN":
        assert {n for n, r in results.items() if r == "forbidden"} == {
            "invite owner",
            "delete team",
        }
    if role == "OWNER":
        assert set(results.values()) == {"allowed"}


# Owners


async def test_only_owners_grant_or_touch_the_owner_role(api: Api) -> None:
    owner = await api.sign_up("owner")
    admin = await api.join(owner, "ADMIN")
    dev = await api.join(owner, "DEVELOPER")
    owner_member = await _member_id(api, owner, owner.user_id)

    assert (
        await api.error(ROLE, {"m": dev.member_id, "r": "OWNER"}, token=admin.token) == "FORBIDDEN"
    )
    assert await api.error(ROLE, {"m": admin.member_id, "r": "OWNER"}, token=admin.token) == (
        "FORBIDDEN"
    )
    assert (
        await api.error(ROLE, {"m": owner_member, "r": "ADMIN"}, token=admin.token) == "FORBIDDEN"
    )
    assert await api.error(REMOVE, {"m": owner_member}, token=admin.token) == "FORBIDDEN"
    # Admins do manage other roles.
    p = await api.payload(ROLE, {"m": dev.member_id, "r": "VIEWER"}, token=admin.token)
    assert p["member"]["role"] == "VIEWER"

    p = await api.payload(ROLE, {"m": admin.member_id, "r": "OWNER"}, token=owner.token)
    assert p["member"]["role"] == "OWNER"
    # The new owner can now demote the first one.
    p = await api.payload(ROLE, {"m": owner_member, "r": "ADMIN"}, token=admin.token)
    assert p["member"]["role"] == "ADMIN"


async def test_last_owner_cannot_be_demoted_or_removed(api: Api) -> None:
    owner = await api.sign_up("owner")
    me = await _member_id(api, owner, owner.user_id)
    p = await api.payload(ROLE, {"m": me, "r": "ADMIN"}, token=owner.token)
    assert p["userErrors"] == [{"code": "LAST_OWNER", "field": ["role"]}]
    p = await api.payload(REMOVE, {"m": me}, token=owner.token)
    assert user_error_codes(p) == ["LAST_OWNER"]
    data = await api.ok(TEAM, {"t": owner.team_id}, token=owner.token)
    assert [m["role"] for m in data["team"]["members"]] == ["OWNER"]

    # With a second owner, one of them may step down, and then the other is the last.
    second = await api.join(owner, "OWNER")
    p = await api.payload(ROLE, {"m": me, "r": "DEVELOPER"}, token=owner.token)
    assert p["member"]["role"] == "DEVELOPER"
    p = await api.payload(REMOVE, {"m": second.member_id}, token=second.token)
    assert user_error_codes(p) == ["LAST_OWNER"]


@pytest.mark.parametrize("role", ["VIEWER", "DEVELOPER", "ADMIN", "OWNER"])
async def test_members_can_leave(api: Api, role: str) -> None:
    owner = await api.sign_up("owner")
    member = await api.join(owner, role)
    p = await api.payload(REMOVE, {"m": member.member_id}, token=member.token)
    assert p == {"removedMemberId": member.member_id, "userErrors": []}
    assert await api.error(TEAM, {"t": owner.team_id}, token=member.token) == "NOT_FOUND"
    data = await api.ok(TEAM, {"t": owner.team_id}, token=owner.token)
    assert [m["user"]["id"] for m in data["team"]["members"]] == [owner.user_id]


async def test_accepting_twice_keeps_one_membership(api: Api) -> None:
    owner = await api.sign_up("owner")
    invitee = await api.sign_up("invitee")
    first = await api.invite(owner, owner.team_id, invitee.email, "VIEWER")
    second = await api.invite(owner, owner.team_id, invitee.email, "ADMIN")
    await api.ok(ACCEPT, {"input": {"token": first}}, token=invitee.token)
    p = await api.payload(ACCEPT, {"input": {"token": second}}, token=invitee.token)
    # The second, still-valid invitation cannot escalate an existing membership.
    assert p["member"] is None or p["member"]["role"] == "VIEWER"
    data = await api.ok(TEAM, {"t": owner.team_id}, token=owner.token)
    roles = [m["role"] for m in data["team"]["members"] if m["user"]["id"] == invitee.user_id]
    assert roles == ["VIEWER"]


async def _member_id(api: Api, owner: Account, user_id: str) -> str:
    data = await api.ok(TEAM, {"t": owner.team_id}, token=owner.token)
    [mid] = [m["id"] for m in data["team"]["members"] if m["user"]["id"] == user_id]
    return mid


async def test_anonymous_callers_cannot_probe_slugs(api: Api) -> None:
    acct = await api.sign_up("slugs")
    slug = (await api.ok("{ viewer { teams { slug } } }", token=acct.token))["viewer"]["teams"][0][
        "slug"
    ]
    q = "query($s: String!) { teamBySlug(slug: $s) { id } }"
    assert await api.error(q, {"s": slug}) == "UNAUTHENTICATED"
    assert await api.error(q, {"s": unique("no-such-team")}) == "UNAUTHENTICATED"
    stranger = await api.sign_up("stranger")
    assert await api.error(q, {"s": slug}, token=stranger.token) == "NOT_FOUND"
    assert await api.error(q, {"s": unique("no-such-team")}, token=stranger.token) == "NOT_FOUND"


async def test_nodes_nulls_forbidden_items_one_by_one(api: Api) -> None:
    owner = await api.sign_up("owner")
    viewer = await api.join(owner, "VIEWER")
    _, key = await api.create_api_key(owner.token, owner.team_id, ["READ"])
    body = await api.gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        {"ids": [owner.team_id, key["id"], viewer.member_id]},
        token=viewer.token,
    )
    assert body["data"]["nodes"] == [{"id": owner.team_id}, None, {"id": viewer.member_id}]
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["nodes", 1], "FORBIDDEN")
    ]


async def test_two_owners_demoting_each_other_at_once(api: Api) -> None:
    """One wins, the other is refused cleanly (no deadlock, no internal error), and the
    team keeps an owner."""
    for _ in range(4):
        owner = await api.sign_up("owner")
        second = await api.join(owner, "OWNER")
        me = await _member_id(api, owner, owner.user_id)
        results = await asyncio.gather(
            api.gql(ROLE, {"m": second.member_id, "r": "ADMIN"}, token=owner.token),
            api.gql(ROLE, {"m": me, "r": "ADMIN"}, token=second.token),
        )
        outcomes = sorted(error_codes(b)[0] if "errors" in b else "ok" for b in results)
        assert outcomes == ["FORBIDDEN", "ok"], results
        data = await api.ok(TEAM, {"t": owner.team_id}, token=owner.token)
        assert sorted(m["role"] for m in data["team"]["members"]) == ["ADMIN", "OWNER"]
