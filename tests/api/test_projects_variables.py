"""Projects with their three environments, and write-only, encrypted environment variables."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.deps import Deps
from app.domain import variables
from db import models
from resolvers.ids import from_global_id
from tests.support.api import (
    CREATE_PROJECT,
    PROJECT_FIELDS,
    UPSERT_VARIABLES,
    Api,
    unique,
    user_error_codes,
)

UPDATE_PROJECT = (
    "mutation($input: UpdateProjectInput!) { updateProject(input: $input) { project { "
    + PROJECT_FIELDS
    + " } userErrors { code message field } } }"
)
DELETE_PROJECT = """
mutation($id: ID!) { deleteProject(input: {projectId: $id}) { deletedProjectId userErrors { code } } }"""
PROJECT = "query($id: ID!) { project(id: $id) { " + PROJECT_FIELDS + " } }"
DELETE_VARIABLES = """
mutation($e: ID!, $keys: [String!]!) {
  deleteEnvironmentVariables(input: {environmentId: $e, keys: $keys}) {
    deletedKeys userErrors { code message field }
  }
}"""
PROJECTS = "query($t: ID!) { team(id: $t) { projects(first: 100) { nodes { id slug } } } }"


def _rid(global_id: str) -> uuid.UUID:
    return from_global_id(global_id)[1]


def _env(project: dict, name: str = "production") -> str:
    [env_id] = [e["id"] for e in project["environments"] if e["name"] == name]
    return env_id


async def _stored(deps: Deps, env_id: str) -> dict[str, models.EnvironmentVariable]:
    async with deps.sessionmaker() as s:
        rows = await s.scalars(
            select(models.EnvironmentVariable).where(
                models.EnvironmentVariable.environment_id == _rid(env_id)
            )
        )
        return {r.key: r for r in rows}


# Projects


async def test_create_project_with_settings_and_three_environments(api: Api) -> None:
    acct = await api.sign_up("proj")
    p = await api.create_project(
        acct.token,
        acct.team_id,
        name="Web App",
        gitUrl="https://github.com/acme/web.git",
        productionBranch="release/v1",
        rootDirectory="apps/web",
        framework="NODE",
        buildCommand="npm run build",
        outputDirectory="dist",
        healthCheckPath="/healthz",
    )
    assert p["slug"] == "web-app"
    assert p["framework"] == "NODE"
    assert (p["rootDirectory"], p["outputDirectory"], p["healthCheckPath"]) == (
        "apps/web",
        "dist",
        "/healthz",
    )
    assert sorted((e["name"], e["kind"]) for e in p["environments"]) == [
        ("development", "DEVELOPMENT"),
        ("preview", "PREVIEW"),
        ("production", "PRODUCTION"),
    ]
    assert all(e["variables"] == [] for e in p["environments"])
    defaults = await api.create_project(acct.token, acct.team_id)
    assert (defaults["productionBranch"], defaults["framework"], defaults["healthCheckPath"]) == (
        "main",
        "AUTO",
        "/",
    )
    data = await api.ok(PROJECT, {"id": p["id"]}, token=acct.token)
    assert data["project"] == p


async def test_project_validation_writes_nothing(api: Api) -> None:
    acct = await api.sign_up("proj")
    existing = await api.create_project(acct.token, acct.team_id, slug=unique("taken"))
    cases = [
        ({"slug": existing["slug"]}, "SLUG_TAKEN", ["slug"]),
        ({"slug": "No_Caps"}, "INVALID_SLUG", ["slug"]),
        ({"name": " "}, "REQUIRED", ["name"]),
        ({"gitUrl": "ftp://example.com/x.git"}, "INVALID_GIT_URL", ["gitUrl"]),
        ({"gitUrl": "not a url"}, "INVALID_GIT_URL", ["gitUrl"]),
        ({"rootDirectory": "/etc"}, "INVALID_PATH", ["rootDirectory"]),
        ({"rootDirectory": "apps/../../etc"}, "INVALID_PATH", ["rootDirectory"]),
        ({"outputDirectory": ".."}, "INVALID_PATH", ["outputDirectory"]),
        ({"healthCheckPath": "health"}, "INVALID_PATH", ["healthCheckPath"]),
        ({"productionBranch": "bad branch"}, "INVALID_BRANCH", ["productionBranch"]),
        ({"buildCommand": "x" * 2049}, "TOO_LONG", ["buildCommand"]),
    ]
    for change, code, field in cases:
        data = {"teamId": acct.team_id, "name": "ok", **change}
        p = await api.payload(CREATE_PROJECT, {"input": data}, token=acct.token)
        assert [(e["code"], e["field"]) for e in p["userErrors"]] == [(code, field)], change
        assert p["project"] is None
        upd = {"projectId": existing["id"], **{k: v for k, v in change.items() if k != "slug"}}
        if len(upd) > 1:
            p = await api.payload(UPDATE_PROJECT, {"input": upd}, token=acct.token)
            assert [(e["code"], e["field"]) for e in p["userErrors"]] == [(code, field)], change
    data = await api.ok(PROJECTS, {"t": acct.team_id}, token=acct.token)
    assert [n["id"] for n in data["team"]["projects"]["nodes"]] == [existing["id"]]
    assert (await api.ok(PROJECT, {"id": existing["id"]}, token=acct.token))["project"] == existing


async def test_update_and_delete_project(api: Api) -> None:
    acct = await api.sign_up("proj")
    a = await api.create_project(acct.token, acct.team_id)
    b = await api.create_project(acct.token, acct.team_id)
    p = await api.payload(
        UPDATE_PROJECT,
        {"input": {"projectId": a["id"], "name": "Renamed", "framework": "STATIC"}},
        token=acct.token,
    )
    assert p["userErrors"] == []
    assert (p["project"]["name"], p["project"]["framework"]) == ("Renamed", "STATIC")
    assert p["project"]["slug"] == a["slug"]  # omitted fields stay
    p = await api.payload(
        UPDATE_PROJECT, {"input": {"projectId": a["id"], "slug": b["slug"]}}, token=acct.token
    )
    assert user_error_codes(p) == ["SLUG_TAKEN"]

    p = await api.payload(DELETE_PROJECT, {"id": a["id"]}, token=acct.token)
    assert p == {"deletedProjectId": a["id"], "userErrors": []}
    assert await api.error(PROJECT, {"id": a["id"]}, token=acct.token) == "NOT_FOUND"
    env = _env(a)
    q = "query($id: ID!) { node(id: $id) { id } }"
    assert await api.error(q, {"id": env}, token=acct.token) == "NOT_FOUND"


# Variables


async def test_upsert_and_delete_in_bulk(api: Api, deps: Deps) -> None:
    acct = await api.sign_up("vars")
    project = await api.create_project(acct.token, acct.team_id)
    env = _env(project)
    rows = await api.upsert_variables(
        acct.token, env, {"DATABASE_URL": "postgres://x", "API_KEY": "k1", "_UNDER": ""}
    )
    assert sorted(r["key"] for r in rows) == ["API_KEY", "DATABASE_URL", "_UNDER"]
    data = await api.ok(PROJECT, {"id": project["id"]}, token=acct.token)
    [prod] = [e for e in data["project"]["environments"] if e["id"] == env]
    assert [v["key"] for v in prod["variables"]] == ["API_KEY", "DATABASE_URL", "_UNDER"]
    others = [e for e in data["project"]["environments"] if e["id"] != env]
    assert all(e["variables"] == [] for e in others)

    p = await api.payload(
        DELETE_VARIABLES, {"e": env, "keys": ["API_KEY", "_UNDER", "NOT_THERE"]}, token=acct.token
    )
    assert p == {"deletedKeys": ["API_KEY", "_UNDER"], "userErrors": []}
    assert set(await _stored(deps, env)) == {"DATABASE_URL"}
    p = await api.payload(DELETE_VARIABLES, {"e": env, "keys": []}, token=acct.token)
    assert user_error_codes(p) == ["INVALID_ARGUMENT"]


async def test_values_are_never_returned(api: Api) -> None:
    acct = await api.sign_up("vars")
    project = await api.create_project(acct.token, acct.team_id)
    secret = "s3cr3t-" + uuid.uuid4().hex
    rows = await api.upsert_variables(acct.token, _env(project), {"STRIPE_KEY": secret})
    assert secret not in str(rows)

    # No output field of any type is named like a value.
    schema = await api.ok("{ __schema { types { name kind fields { name } } } }")
    for t in schema["__schema"]["types"]:
        if t["name"].startswith("__") or not t["fields"]:
            continue
        names = {f["name"].lower() for f in t["fields"]}
        assert not names & {"value", "plaintext", "ciphertext", "secretvalue"}, t["name"]
    env_type = next(t for t in schema["__schema"]["types"] if t["name"] == "EnvironmentVariable")
    assert {f["name"] for f in env_type["fields"]} == {
        "id",
        "key",
        "valueDigest",
        "createdAt",
        "updatedAt",
    }

    # A big query over everything the user can see never carries the value.
    big = f"""
    query($p: ID!, $t: ID!) {{
      viewer {{ user {{ id email }} teams {{ id name projects(first: 100) {{
        nodes {{ {PROJECT_FIELDS} }} }} }} }}
      project(id: $p) {{ {PROJECT_FIELDS} }}
      team(id: $t) {{ auditLog(first: 100) {{ nodes {{ action changes targetId }} }} }}
    }}"""
    r = await api.post(big, {"p": project["id"], "t": acct.team_id}, token=acct.token)
    assert r.status_code == 200 and "errors" not in r.json()
    assert "STRIPE_KEY" in r.text
    assert secret not in r.text


async def test_stored_ciphertext_digest_and_worker_decrypt(api: Api, deps: Deps) -> None:
    acct = await api.sign_up("vars")
    project = await api.create_project(acct.token, acct.team_id)
    env = _env(project)
    secret = "plain-" + uuid.uuid4().hex
    [first] = await api.upsert_variables(acct.token, env, {"TOKEN": secret})
    [row] = (await _stored(deps, env)).values()
    assert secret.encode() not in row.ciphertext
    assert row.ciphertext != secret.encode()
    assert row.key_id
    assert first["valueDigest"] == row.digest and secret not in row.digest

    # Same value: same digest; another value: another digest and a later updatedAt.
    [same] = await api.upsert_variables(acct.token, env, {"TOKEN": secret})
    assert same["valueDigest"] == first["valueDigest"] and same["id"] == first["id"]
    [changed] = await api.upsert_variables(acct.token, env, {"TOKEN": secret + "!"})
    assert changed["valueDigest"] != first["valueDigest"]
    assert changed["id"] == first["id"] and changed["createdAt"] == first["createdAt"]
    assert changed["updatedAt"] > first["updatedAt"]

    await api.upsert_variables(acct.token, env, {"OTHER": "two", "EMPTY": ""})
    async with deps.sessionmaker() as s:
        plain = await variables.decrypt_environment(s, deps.secrets, _rid(env))
    assert plain == {"TOKEN": secret + "!", "OTHER": "two", "EMPTY": ""}
    # Other environments of the project are separate.
    async with deps.sessionmaker() as s:
        assert (
            await variables.decrypt_environment(s, deps.secrets, _rid(_env(project, "preview")))
            == {}
        )


async def test_invalid_variables_are_all_or_nothing(api: Api, deps: Deps) -> None:
    acct = await api.sign_up("vars")
    project = await api.create_project(acct.token, acct.team_id)
    env = _env(project)
    await api.upsert_variables(acct.token, env, {"KEEP": "old"})
    before = {k: r.digest for k, r in (await _stored(deps, env)).items()}
    batch = [
        {"key": "KEEP", "value": "new"},  # valid, but must not be written
        {"key": "1STARTS_WITH_DIGIT", "value": "x"},
        {"key": "GOOD", "value": "x"},
        {"key": "GOOD", "value": "y"},
        {"key": "has-dash", "value": "x"},
        {"key": "BIG", "value": "x" * (variables.MAX_VALUE_BYTES + 1)},
        {"key": "", "value": "x"},
    ]
    p = await api.payload(
        UPSERT_VARIABLES, {"input": {"environmentId": env, "variables": batch}}, token=acct.token
    )
    assert p["variables"] == []
    assert [(e["code"], e["field"]) for e in p["userErrors"]] == [
        ("INVALID_KEY", ["variables", "1", "key"]),
        ("DUPLICATE_KEY", ["variables", "3", "key"]),
        ("INVALID_KEY", ["variables", "4", "key"]),
        ("TOO_LONG", ["variables", "5", "value"]),
        ("INVALID_KEY", ["variables", "6", "key"]),
    ]
    assert {k: r.digest for k, r in (await _stored(deps, env)).items()} == before

    too_many = [{"key": f"K{i}", "value": "v"} for i in range(variables.MAX_PER_CALL + 1)]
    for batch, code in [(too_many, "TOO_MANY"), ([], "REQUIRED")]:
        p = await api.payload(
            UPSERT_VARIABLES,
            {"input": {"environmentId": env, "variables": batch}},
            token=acct.token,
        )
        assert [(e["code"], e["field"]) for e in p["userErrors"]] == [(code, ["variables"])]
    assert set(await _stored(deps, env)) == {"KEEP"}


async def test_value_of_exactly_the_maximum_size_is_accepted(api: Api, deps: Deps) -> None:
    acct = await api.sign_up("vars")
    project = await api.create_project(acct.token, acct.team_id)
    env = _env(project)
    value = "é" * (variables.MAX_VALUE_BYTES // 2)  # 2 bytes each: exactly the limit
    await api.upsert_variables(acct.token, env, {"BIG": value})
    async with deps.sessionmaker() as s:
        assert (await variables.decrypt_environment(s, deps.secrets, _rid(env)))["BIG"] == value
