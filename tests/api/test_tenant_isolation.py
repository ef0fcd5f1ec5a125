"""Tenant isolation over EVERY query and mutation field, enumerated from the schema itself.

For each root field, a call is built whose ID arguments (also inside input objects) name
team A's objects, with every other required argument filled with a valid value made from
its type. Then:

- a member of team B (a user, and an API key of team B) gets NOT_FOUND (or null from
  `nodes`), never a trace of team A in the response, and team A's rows stay unchanged;
- a VIEWER of team A gets FORBIDDEN from every mutation that targets team A, and nothing
  is written (leaving the team, i.e. removing one's own membership, is tested explicitly).

A field added later is covered without editing this file, as long as its ID arguments use
the names in ID_ARGS. A field this file cannot map fails with a message saying how to
extend the mapping.
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import graphql
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
)
from sqlalchemy import func, select

from app.deps import Deps
from db import models
from resolvers.ids import from_global_id
from resolvers.schema import build_schema
from tests.support.api import INVITE, Account, Api, Member, error_codes, unique

SCHEMA: GraphQLSchema = graphql.build_schema(build_schema().as_str())
NODE_TYPES = sorted(
    t.name
    for t in SCHEMA.type_map.values()
    if isinstance(t, GraphQLObjectType) and any(i.name == "Node" for i in t.interfaces)
)

# An ID argument (or ID field of an input object) -> the type of team A's object it names.
ID_ARGS: dict[str, str] = {
    "teamId": "Team",
    "projectId": "Project",
    "environmentId": "Environment",
    "variableId": "EnvironmentVariable",
    "memberId": "TeamMember",
    "apiKeyId": "ApiKey",
    "invitationId": "TeamInvitation",
    "userId": "User",
    "actorUserId": "User",
    "buildId": "Build",
    "deploymentId": "Deployment",
}
# `id` / `ids` arguments: the type the root field fetches; "*" = every Node type.
ID_FIELDS: dict[str, str] = {
    "team": "Team",
    "project": "Project",
    "build": "Build",
    "deployment": "Deployment",
    "node": "*",
    "nodes": "*",
}
# Non-ID arguments that name team A's objects: (field, argument) -> attribute of TeamA.
REFERENCE_ARGS: dict[tuple[str, str], str] = {("teamBySlug", "slug"): "team_slug"}
# Root fields without any argument that names an existing object, and why they cannot
# reach another team's data.
NO_TARGET: dict[str, str] = {
    "viewer": "returns the caller's own user and teams only",
    "signUp": "creates a new account; names no existing object",
    "logIn": "names an account by email + password; wrong ones get INVALID_CREDENTIALS",
    "refreshSession": "names a session by its secret refresh token (a capability), not an id",
    "logOut": "ends the caller's session, or the one whose secret refresh token is given",
    "createTeam": "creates a new team owned by the caller",
    "acceptTeamInvitation": "the secret invitation token is the capability; a token for "
    "another email is refused (tests/api/test_teams.py)",
}
# Subscriptions are not called here; each must be listed with where it is covered.
SUBSCRIPTIONS: dict[str, str] = {
    "viewerEvents": "names no object: events of the viewer's own teams, authorized per "
    "event (tests/api/test_subscriptions.py)",
    "buildLogs": "another team's build is NOT_FOUND (tests/builds/test_build_api.py)",
    "buildEvents": "another team's build is NOT_FOUND (tests/builds/test_build_api.py)",
    "deploymentEvents": "another team's deployment is NOT_FOUND "
    "(tests/deployments/test_deployment_api.py)",
    "deploymentLogs": "another team's deployment is NOT_FOUND "
    "(tests/deployments/test_deploy_logs.py)",
    "projectActivity": "another team's project is NOT_FOUND (tests/deployments/test_activity.py)",
}
HOW_TO_EXTEND = (
    "Extend the mapping in tests/api/test_tenant_isolation.py: add the argument name to "
    "ID_ARGS (name -> type of team A's object), or `id`/`ids` of a new root field to "
    "ID_FIELDS, or a non-ID reference to REFERENCE_ARGS, or (only if the field names no "
    "existing object) the field to NO_TARGET with the reason; and give the TeamA fixture an "
    "object of any new type."
)


# Team A


@dataclass
class TeamA:
    owner: Account
    viewer: Member
    team_slug: str
    objects: dict[str, str]  # Node type -> global id of one of team A's objects
    # Strings that must never appear in a response to another team.
    fingerprints: set[str] = field(default_factory=set)

    @property
    def team_id(self) -> str:
        return self.objects["Team"]


MEMBERS = "query($t: ID!) { team(id: $t) { members { id user { id email } } } }"
AUDIT_IDS = "query($t: ID!) { team(id: $t) { auditLog(first: 100) { nodes { id } } } }"


async def _team_a(api: Api) -> TeamA:
    owner = await api.sign_up("tenant-a")
    name, slug = unique("Team A"), unique("team-a")
    await api.ok(
        "mutation($i: UpdateTeamInput!) { updateTeam(input: $i) { userErrors { code } } }",
        {"i": {"teamId": owner.team_id, "name": name, "slug": slug}},
        token=owner.token,
    )
    viewer = await api.join(owner, "VIEWER")
    project = await api.create_project(
        owner.token, owner.team_id, name=unique("Secret Project"), gitUrl="https://a.example/x"
    )
    env = project["environments"][0]
    key, value = f"TENANT_A_{uuid.uuid4().hex[:8].upper()}", f"value-{uuid.uuid4().hex}"
    [variable] = await api.upsert_variables(owner.token, env["id"], {key: value})
    _, api_key = await api.create_api_key(owner.token, owner.team_id, ["READ"])
    invited = f"invited-{uuid.uuid4().hex[:8]}@example.com"
    inv = await api.ok(
        INVITE,
        {"input": {"teamId": owner.team_id, "email": invited, "role": "DEVELOPER"}},
        token=owner.token,
    )
    build = await api.ok(
        """mutation($p: ID!) { triggerBuild(input: {projectId: $p})
           { build { id } userErrors { code } } }""",
        {"p": project["id"]},
        token=owner.token,
    )
    deployment = await api.ok(
        """mutation($p: ID!) { deploy(input: {projectId: $p, gitRef: "main"})
           { deployment { id } userErrors { code } } }""",
        {"p": project["id"]},
        token=owner.token,
    )
    members = (await api.ok(MEMBERS, {"t": owner.team_id}, token=owner.token))["team"]["members"]
    [owner_member] = [m["id"] for m in members if m["user"]["id"] == owner.user_id]
    entry = (await api.ok(AUDIT_IDS, {"t": owner.team_id}, token=owner.token))["team"]["auditLog"][
        "nodes"
    ][0]["id"]
    objects = {
        "Team": owner.team_id,
        "Project": project["id"],
        "Environment": env["id"],
        "EnvironmentVariable": variable["id"],
        "TeamMember": owner_member,
        "ApiKey": api_key["id"],
        "AuditLogEntry": entry,
        "User": owner.user_id,
        "TeamInvitation": inv["inviteTeamMember"]["invitation"]["id"],
        "Build": build["triggerBuild"]["build"]["id"],
        "Deployment": deployment["deploy"]["deployment"]["id"],
    }
    missing = set(NODE_TYPES) - set(objects)
    assert not missing, f"TeamA has no object of type(s) {sorted(missing)}. {HOW_TO_EXTEND}"
    prints = {
        name,
        slug,
        project["name"],
        project["slug"],
        key,
        value,
        invited,
        owner.email,
        viewer.account.email,
        api_key["prefix"],
        viewer.member_id,
        viewer.account.user_id,
    }
    for gid in objects.values():
        prints |= {gid, str(from_global_id(gid)[1])}
    return TeamA(owner, viewer, slug, objects, prints)


async def _snapshot(deps: Deps, team: TeamA) -> dict[str, Any]:
    """Every row of team A (and its people), plus its audit-log size."""
    team_id = from_global_id(team.team_id)[1]
    users = [from_global_id(team.owner.user_id)[1], from_global_id(team.viewer.account.user_id)[1]]
    out: dict[str, Any] = {}
    async with deps.sessionmaker() as s:
        for model in (
            models.Team,
            models.TeamMember,
            models.TeamInvitation,
            models.Project,
            models.Environment,
            models.EnvironmentVariable,
            models.ApiKey,
        ):
            col = model.id if model is models.Team else model.team_id
            rows = (await s.scalars(select(model).where(col == team_id).order_by(model.id))).all()
            out[model.__tablename__] = [
                {c.key: getattr(r, c.key) for c in model.__table__.columns} for r in rows
            ]
        user_rows = (await s.scalars(select(models.User).where(models.User.id.in_(users)))).all()
        out["users"] = sorted((u.id, u.email, u.name, u.password_hash) for u in user_rows)
        out["audit"] = await s.scalar(
            select(func.count())
            .select_from(models.AuditLogEntry)
            .where(models.AuditLogEntry.team_id == team_id)
        )
    return out


# Building a call from the schema


@dataclass
class Call:
    field: str
    operation: str  # "query" | "mutation"
    document: str
    variables: dict[str, Any]
    label: str


def _named(t: Any) -> Any:
    while isinstance(t, (GraphQLNonNull, GraphQLList)):
        t = t.of_type
    return t


def _is_id(t: Any) -> bool:
    return isinstance(_named(t), GraphQLScalarType) and _named(t).name == "ID"


def _target(root: str, name: str) -> str:
    if name in ("id", "ids") and root in ID_FIELDS:
        return ID_FIELDS[root]
    if name in ID_ARGS:
        return ID_ARGS[name]
    pytest.fail(f"{root}: cannot map ID argument {name!r} to an object of team A. {HOW_TO_EXTEND}")


def _id_slots(
    root: str, t: Any, name: str, seen: frozenset[str] = frozenset()
) -> list[tuple[str, str, bool]]:
    """(name, target type, is a list) of every ID argument / input field under an argument."""
    if _is_id(t):
        is_list = isinstance(t.of_type if isinstance(t, GraphQLNonNull) else t, GraphQLList)
        return [(name, _target(root, name), is_list)]
    named = _named(t)
    if isinstance(named, GraphQLInputObjectType) and named.name not in seen:
        return [
            slot
            for fname, f in named.fields.items()
            for slot in _id_slots(root, f.type, fname, seen | {named.name})
        ]
    return []


def _string_for(name: str) -> str:
    lowered = name.lower()
    if "email" in lowered:
        return f"probe-{uuid.uuid4().hex[:6]}@example.com"
    if "url" in lowered:
        return "https://example.com/probe.git"
    if "path" in lowered:
        return "/probe"
    if lowered == "key" or lowered.endswith("key"):
        return "PROBE_KEY"
    return "probe"


def _value(root: str, t: GraphQLInputType, name: str, ids: dict[str, Any], required: bool) -> Any:
    """A valid value for `t`; ID slots come from `ids`. Undefined = leave the argument out."""
    if isinstance(t, GraphQLNonNull):
        return _value(root, t.of_type, name, ids, True)
    if not required and not _id_slots(root, t, name):
        return graphql.Undefined
    if isinstance(t, GraphQLList):
        if _is_id(t) and isinstance(ids.get(name), list):
            return ids[name]
        return [_value(root, t.of_type, name, ids, True)]
    if _is_id(t):
        return ids[name]
    if isinstance(t, GraphQLEnumType):
        return next(iter(t.values))
    if isinstance(t, GraphQLInputObjectType):
        out = {}
        for fname, f in t.fields.items():
            v = _value(
                root,
                f.type,
                fname,
                ids,
                isinstance(f.type, GraphQLNonNull) and f.default_value is graphql.Undefined,
            )
            if v is not graphql.Undefined:
                out[fname] = v
        return out
    assert isinstance(t, GraphQLScalarType)
    scalars: dict[str, Any] = {
        "String": _string_for(name),
        "Int": 1,
        "Float": 1.0,
        "Boolean": True,
        "DateTime": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "JSON": {},
    }
    if t.name not in scalars:
        pytest.fail(f"{root}: no value generator for scalar {t.name}; add one to _value()")
    return scalars[t.name]


def _selection(
    t: GraphQLOutputType, depth: int = 0, alias: str = "", conflicts: frozenset[str] = frozenset()
) -> str:
    """Every field without required arguments, to depth 3, so any leak would show.

    Fields inside type conditions get a per-type alias: same-named fields of different
    types (ApiKey.expiresAt: DateTime vs TeamInvitation.expiresAt: DateTime!) cannot merge.
    """
    named = _named(t)
    if isinstance(named, (GraphQLScalarType, GraphQLEnumType)):
        return ""
    if depth >= 3:
        return "{ __typename }"
    parts = ["__typename"]
    if isinstance(named, (GraphQLObjectType, GraphQLInterfaceType)):
        for fname, f in named.fields.items():
            if any(
                isinstance(a.type, GraphQLNonNull) and a.default_value is graphql.Undefined
                for a in f.args.values()
            ):
                continue
            name = f"{alias}{fname}: {fname}" if fname in conflicts else fname
            parts.append(f"{name} {_selection(f.type, depth + 1)}".strip())
    if isinstance(named, (GraphQLInterfaceType, GraphQLUnionType)):
        impls = SCHEMA.get_possible_types(named)
        types: dict[str, set[str]] = {}
        for impl in impls:
            for fname, f in impl.fields.items():
                types.setdefault(fname, set()).add(str(f.type))
        clash = frozenset(n for n, ts in types.items() if len(ts) > 1)
        for impl in impls:
            inner = _selection(impl, depth + 1, impl.name + "_", clash)
            parts.append(f"... on {impl.name} {inner}")
    return "{ " + " ".join(parts) + " }"


def _assignments(root: str, f: GraphQLField, team: TeamA) -> list[dict[str, Any]]:
    """One ids-assignment per call to make (node(id:) gets one per Node type).

    `memberId` names the owner's membership: for a viewer of team A that is someone
    else's membership (removing one's own is leaving, tested on its own).
    """
    choices: list[list[tuple[str, Any]]] = []
    for aname, arg in f.args.items():
        for slot in _id_slots(root, arg.type, aname):
            name, target, is_list = slot
            if target == "*":
                if is_list:
                    choices.append([(name, [team.objects[t] for t in NODE_TYPES])])
                else:
                    choices.append([(name, team.objects[t]) for t in NODE_TYPES])
            else:
                value = team.objects[target]
                choices.append([(name, [value] if is_list else value)])
    return [dict(combo) for combo in itertools.product(*choices)] or [{}]


def _calls(team: TeamA) -> list[Call]:
    calls = []
    for operation, root_type in (("query", SCHEMA.query_type), ("mutation", SCHEMA.mutation_type)):
        assert root_type is not None
        for fname, f in root_type.fields.items():
            has_ids = any(_id_slots(fname, a.type, aname) for aname, a in f.args.items())
            refs = {a for (fld, a) in REFERENCE_ARGS if fld == fname}
            if fname in NO_TARGET:
                assert not has_ids and not refs, (
                    f"{fname} is in NO_TARGET but has arguments naming objects; remove it there."
                )
                continue
            if not has_ids and not refs:
                pytest.fail(
                    f"{operation} field {fname!r} has no argument this test can map "
                    f"to team A. {HOW_TO_EXTEND}"
                )
            for ids in _assignments(fname, f, team):
                variables, decls, args = {}, [], []
                for aname, arg in f.args.items():
                    if aname in refs:
                        value: Any = getattr(team, REFERENCE_ARGS[(fname, aname)])
                    else:
                        value = _value(fname, arg.type, aname, ids, False)
                    if value is graphql.Undefined:
                        continue
                    variables[aname] = value
                    decls.append(f"${aname}: {arg.type}")
                    args.append(f"{aname}: ${aname}")
                head = f"({', '.join(decls)})" if decls else ""
                call_args = f"({', '.join(args)})" if args else ""
                doc = f"{operation} Probe{head} {{ {fname}{call_args} {_selection(f.type)} }}"
                label = f"{fname}[{','.join(_type_of(v) for v in ids.values())}]"
                calls.append(Call(fname, operation, doc, variables, label))
    return calls


def _type_of(value: Any) -> str:
    if isinstance(value, list):
        return "all"
    return from_global_id(value)[0]


# The tests


async def test_ids_of_team_a_are_valid_for_its_owner(api: Api) -> None:
    """The control: the same calls succeed for team A's owner, so NOT_FOUND means isolation."""
    team = await _team_a(api)
    for call in _calls(team):
        if call.operation != "query":
            continue
        body = await api.gql(call.document, call.variables, token=team.owner.token)
        assert "errors" not in body, (call.label, body)
        if call.field == "nodes":
            assert None not in body["data"]["nodes"], body


@pytest.mark.parametrize("credential", ["user", "api_key"])
async def test_other_team_gets_not_found_and_changes_nothing(
    api: Api, deps: Deps, credential: str
) -> None:
    team = await _team_a(api)
    intruder = await api.sign_up("tenant-b")
    token = intruder.token
    if credential == "api_key":
        token, _ = await api.create_api_key(
            intruder.token, intruder.team_id, ["READ", "WRITE", "DEPLOY", "ADMIN"]
        )
    before = await _snapshot(deps, team)
    calls = _calls(team)
    assert {c.field for c in calls} >= {"project", "team", "node", "nodes", "createProject"}
    for call in calls:
        r = await api.post(call.document, call.variables, token=token)
        assert r.status_code == 200, (call.label, r.status_code, r.text)
        body = r.json()
        if call.field == "nodes":
            assert "errors" not in body, (call.label, body)
            assert body["data"]["nodes"] == [None] * len(NODE_TYPES), (call.label, body)
        else:
            assert error_codes(body) == ["NOT_FOUND"], (call.label, body)
            assert not (body.get("data") or {}).get(call.field), (call.label, body)
        leaked = [p for p in team.fingerprints if p in r.text]
        assert not leaked, (call.label, leaked, r.text)
        assert await _snapshot(deps, team) == before, call.label


async def test_viewer_of_the_team_is_forbidden_every_mutation(api: Api, deps: Deps) -> None:
    team = await _team_a(api)
    before = await _snapshot(deps, team)
    mutations = [c for c in _calls(team) if c.operation == "mutation"]
    assert mutations
    for call in mutations:
        r = await api.post(call.document, call.variables, token=team.viewer.token)
        assert r.status_code == 200, (call.label, r.text)
        body = r.json()
        assert error_codes(body) == ["FORBIDDEN"], (call.label, body)
        assert await _snapshot(deps, team) == before, call.label

    # The one exception: leaving, i.e. removing one's own membership.
    remove = next(c for c in mutations if c.field == "removeTeamMember")
    variables = json.loads(
        json.dumps(remove.variables).replace(team.objects["TeamMember"], team.viewer.member_id)
    )
    r = await api.post(remove.document, variables, token=team.viewer.token)
    body = r.json()
    assert "errors" not in body and body["data"]["removeTeamMember"]["userErrors"] == [], body
    after = await _snapshot(deps, team)
    assert after["audit"] == before["audit"] + 1
    assert len(after["team_members"]) == len(before["team_members"]) - 1


def test_every_subscription_is_accounted_for() -> None:
    assert SCHEMA.subscription_type is not None
    for fname, f in SCHEMA.subscription_type.fields.items():
        assert fname in SUBSCRIPTIONS, (
            f"subscription {fname!r} is new: add it to SUBSCRIPTIONS in "
            "tests/api/test_tenant_isolation.py with the test that shows another team "
            "cannot subscribe to team A's objects through it (NOT_FOUND) and gets none of "
            "its events."
        )
        has_ids = any(_id_slots(fname, a.type, aname) for aname, a in f.args.items())
        assert not has_ids or "NOT_FOUND" in SUBSCRIPTIONS[fname], (
            f"subscription {fname!r} takes ids: name the test of its NOT_FOUND behaviour"
        )
