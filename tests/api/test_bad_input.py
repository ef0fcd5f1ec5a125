"""Hostile or broken input: bad ids, huge bodies, expensive documents, bad variables, APQ,
rate limits and unexpected exceptions. Never a 500, never an unmasked internal error."""

from __future__ import annotations

import base64
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.deps import Deps
from app.domain import projects, teams
from app.settings import Settings
from tests.support.api import CREATE_PROJECT, Account, Api, error_codes, other_app

pytestmark = pytest.mark.filterwarnings("error")


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD_IDS = [
    "",
    "x",
    "not base64 !!!",
    "////",
    "%00%ff",
    "🙂",
    "a" * 2000,
    _b64("Project:not-a-uuid"),
    _b64("Project:"),
    _b64(":" + str(uuid.uuid4())),
    _b64("Project"),
    base64.b64encode(b"\xff\xfe\xfd").decode(),
    _b64(f"Project:{uuid.uuid4()}"),  # well-formed, no such project
    _b64(f"Team:{uuid.uuid4()}"),
    _b64(f"NoSuchType:{uuid.uuid4()}"),
    str(uuid.uuid4()),  # a raw uuid is not a global id
]


@pytest.fixture
async def acct(api: Api) -> Account:
    return await api.sign_up("bad")


def _wrong_type_ids(acct: Account) -> dict[str, str]:
    """Ids of real objects, each of a type the named fields do not take."""
    return {acct.user_id: "project updateProject deleteTeam", acct.team_id: "project updateProject"}


async def test_malformed_ids_are_not_found(api: Api, acct: Account) -> None:
    queries = {
        "project": "query($id: ID!) { project(id: $id) { id } }",
        "node": "query($id: ID!) { node(id: $id) { id } }",
        "updateProject": """mutation($id: ID!) { updateProject(input: {projectId: $id, name: "x"})
                            { project { id } userErrors { code } } }""",
        "deleteTeam": """mutation($id: ID!) { deleteTeam(input: {teamId: $id})
                         { deletedTeamId userErrors { code } } }""",
        "auditFilter": """query($t: ID!, $id: ID!) { team(id: $t) {
                          auditLog(filter: {actorUserId: $id}) { nodes { id } } } }""",
    }
    wrong = _wrong_type_ids(acct)
    for bad in [*BAD_IDS, *wrong]:
        for name, query in queries.items():
            if bad in wrong and name not in wrong[bad].split():
                continue
            if name == "auditFilter" and bad == "":
                continue  # "" means no actor filter
            r = await api.post(query, {"id": bad, "t": acct.team_id}, token=acct.token)
            assert r.status_code == 200, (name, bad, r.text)
            assert error_codes(r.json()) == ["NOT_FOUND"], (name, bad, r.text)


async def test_nodes_with_malformed_ids_are_null(api: Api, acct: Account) -> None:
    body = await api.gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        {"ids": [*BAD_IDS, acct.team_id]},
        token=acct.token,
    )
    assert "errors" not in body, body
    assert body["data"]["nodes"] == [None] * len(BAD_IDS) + [{"id": acct.team_id}]
    too_many = [acct.team_id] * 101
    body = await api.gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": too_many}, token=acct.token
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_oversized_body_is_413(api: Api, test_settings: Settings) -> None:
    big = "x" * (test_settings.max_body_bytes + 1)
    r = await api.post("{ __typename }", {"pad": big})
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/json"
    assert error_codes(r.json()) == ["PAYLOAD_TOO_LARGE"]

    # Without a Content-Length (chunked), the cap still holds.
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ __typename }", "variables": {"pad": "'
        for _ in range(test_settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536
        yield b'"}}'

    r = await api.client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert error_codes(r.json()) == ["PAYLOAD_TOO_LARGE"]
    # Just under the limit is served.
    fits = "x" * (test_settings.max_body_bytes - 200)
    r = await api.post("query($pad: String!) { teamBySlug(slug: $pad) { id } }", {"pad": fits})
    assert r.status_code == 200, r.text[:300]
    assert error_codes(r.json()) == ["UNAUTHENTICATED"]


async def test_depth_limit(api: Api, test_settings: Settings, deps: Deps) -> None:
    deep = "query Deep { viewer { teams { projects { nodes { environments { variables { id } } } } } } }"
    async with other_app(test_settings, deps, max_query_depth=3) as small:
        r = await small.post(deep)
    assert r.status_code == 400, r.text
    [err] = r.json()["errors"]
    assert "exceeds maximum operation depth of 3" in err["message"]
    # Introspection cannot nest without bound either (its types are cyclic).
    cyclic = "{ __schema { types { " + "fields { type { " * 4 + "name" + " } }" * 4 + " } } }"
    r = await api.post(cyclic)
    assert r.status_code == 400
    assert "introspection depth" in r.json()["errors"][0]["message"]


async def test_alias_and_token_limits(api: Api, test_settings: Settings) -> None:
    aliases = " ".join(f"a{i}: __typename" for i in range(test_settings.max_aliases + 1))
    r = await api.post("{ " + aliases + " }")
    assert r.status_code == 400
    assert "aliases" in r.json()["errors"][0]["message"]
    ok = " ".join(f"a{i}: __typename" for i in range(test_settings.max_aliases))
    assert (await api.post("{ " + ok + " }")).status_code == 200

    tokens = "{ " + "__typename " * (test_settings.max_tokens + 1) + "}"
    r = await api.post(tokens)
    assert r.status_code == 400
    assert "tokens" in r.json()["errors"][0]["message"]


def _costly(aliases: int) -> str:
    body = " ".join(
        f"p{i}: projects(first: 100) {{ nodes {{ id name slug gitUrl productionBranch "
        f"rootDirectory framework installCommand buildCommand startCommand outputDirectory "
        f"healthCheckPath createdAt updatedAt environments {{ id name kind createdAt "
        f"variables {{ id key valueDigest createdAt updatedAt }} }} }} }}"
        for i in range(aliases)
    )
    return f"query Costly($t: ID!) {{ team(id: $t) {{ ...F }} }} fragment F on Team {{ {body} }}"


async def test_query_cost(api: Api, acct: Account, test_settings: Settings) -> None:
    r = await api.post(_costly(25), {"t": acct.team_id}, token=acct.token)
    assert r.status_code == 400, r.text[:300]
    body = r.json()
    assert "data" not in body
    [err] = body["errors"]
    assert err["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert err["extensions"]["maximum"] == test_settings.max_query_cost
    assert err["extensions"]["cost"] > test_settings.max_query_cost
    # The cost follows `first` from variables too.
    q = "query($t: ID!, $n: Int!) { team(id: $t) { projects(first: $n) { nodes { id name } } } }"
    small = await api.post(q, {"t": acct.team_id, "n": 2}, token=acct.token)
    large = await api.post(q, {"t": acct.team_id, "n": 100}, token=acct.token)
    assert small.status_code == large.status_code == 200
    cost_small = small.json()["extensions"]["cost"]
    cost_large = large.json()["extensions"]["cost"]
    assert cost_small["maximum"] == test_settings.max_query_cost
    assert 0 < cost_small["requested"] < cost_large["requested"]


async def test_cost_reported_on_normal_queries(api: Api, acct: Account) -> None:
    r = await api.post("{ viewer { user { id } teams { id name } } }", token=acct.token)
    assert r.status_code == 200
    cost = r.json()["extensions"]["cost"]
    assert cost["requested"] == 6  # viewer, user, id, teams, id, name


async def test_omitted_first_costs_the_default_page(api: Api, acct: Account) -> None:
    """`projects` without `first` returns 20 projects, so it costs as `first: 20`."""
    costs = []
    for args in ("", "(first: 20)", "(first: 1)"):
        q = f"query($t: ID!) {{ team(id: $t) {{ projects{args} {{ nodes {{ id name }} }} }} }}"
        r = await api.post(q, {"t": acct.team_id}, token=acct.token)
        assert r.status_code == 200, r.text
        costs.append(r.json()["extensions"]["cost"]["requested"])
    assert costs[0] == costs[1] == 2 + 20 * 3
    assert costs[2] == 2 + 3
    # Through fragments and type conditions as well.
    q = """query($t: ID!) { node(id: $t) { ... on Team { ...P } } }
           fragment P on Team { projects { nodes { id name } } }"""
    r = await api.post(q, {"t": acct.team_id}, token=acct.token)
    assert r.json()["extensions"]["cost"]["requested"] == costs[0]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (
            "query($n: Int!) { viewer { teams { projects(first: $n) { nodes { id } } } } }",
            {"n": "abc"},
        ),
        ("query($n: Int!) { viewer { teams { projects(first: $n) { nodes { id } } } } }", {}),
        (
            "query($n: Int!) { viewer { teams { projects(first: $n) { nodes { id } } } } }",
            {"n": 1.5},
        ),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": {"nested": True}}),
        (
            "query($d: DateTime) { viewer { teams { auditLog(filter: {since: $d}) { nodes { id } } } } }",
            {"d": "yesterday"},
        ),
        (
            "mutation($i: CreateProjectInput!) { createProject(input: $i) { userErrors { code } } }",
            {"i": {"teamId": "x", "name": "n", "framework": "COBOL"}},
        ),
        (
            "mutation($i: CreateProjectInput!) { createProject(input: $i) { userErrors { code } } }",
            {"i": {"name": "no team"}},
        ),
        (
            "mutation($i: CreateProjectInput!) { createProject(input: $i) { userErrors { code } } }",
            {"i": {"teamId": "x", "name": "n", "unknownField": 1}},
        ),
    ],
)
async def test_invalid_variables_are_400(
    api: Api, acct: Account, query: str, variables: dict[str, Any]
) -> None:
    r = await api.post(query, variables, token=acct.token)
    assert r.status_code == 400, r.text
    body = r.json()
    assert "data" not in body
    assert body["errors"] and "INTERNAL_SERVER_ERROR" not in error_codes(body), body
    assert "Variable" in body["errors"][0]["message"]


async def test_first_over_the_cap_is_bad_user_input(api: Api, acct: Account) -> None:
    q = "query($t: ID!, $n: Int!) { team(id: $t) { projects(first: $n) { nodes { id } } } }"
    for n in (500, 101, -1):
        body = await api.gql(q, {"t": acct.team_id, "n": n}, token=acct.token)
        assert error_codes(body) == ["BAD_USER_INPUT"], body
        assert body["errors"][0]["extensions"]["field"] == ["first"]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'{"query": 5}', "application/json"),
        (b'{"query": "{ __typename }", "variables": [1]}', "application/json"),
        (b'["a"]', "application/json"),
        (b"", "application/json"),
        (b"query=1", "text/plain"),
        (b'{"query": "{ __typename"}', "application/json"),
    ],
)
async def test_malformed_requests_are_4xx(api: Api, content: bytes, content_type: str) -> None:
    headers = {"content-type": content_type, "accept": "application/graphql-response+json"}
    r = await api.client.post("/graphql", content=content, headers=headers)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    # A legacy client (application/json) may get 200 for GraphQL errors, never a 5xx.
    headers["accept"] = "application/json"
    r = await api.client.post("/graphql", content=content, headers=headers)
    assert r.status_code < 500, (r.status_code, r.text)


async def test_mutation_over_get_is_refused(api: Api, acct: Account) -> None:
    q = 'mutation { createTeam(input: {name: "via get"}) { team { id } } }'
    r = await api.post(q, token=acct.token, method="GET")
    assert r.status_code in (400, 405), r.text
    data = await api.ok("{ viewer { teams { id } } }", token=acct.token)
    assert len(data["viewer"]["teams"]) == 1
    # Queries over GET are fine.
    r = await api.post("{ viewer { user { id } } }", token=acct.token, method="GET")
    assert r.status_code == 200 and r.json()["data"]["viewer"]["user"]["id"] == acct.user_id


async def test_automatic_persisted_queries(api: Api, acct: Account) -> None:
    query = f"query Apq {{ viewer {{ user {{ id }} }} __typename # {uuid.uuid4()}\n}}"
    digest = hashlib.sha256(query.encode()).hexdigest()
    ext = {"persistedQuery": {"version": 1, "sha256Hash": digest}}

    r = await api.post(None, extensions=ext, token=acct.token)
    assert r.status_code == 200
    assert error_codes(r.json()) == ["PERSISTED_QUERY_NOT_FOUND"]

    r = await api.post(query, extensions=ext, token=acct.token)
    assert r.status_code == 200
    assert r.json()["data"]["viewer"]["user"]["id"] == acct.user_id

    for method in ("POST", "GET"):
        r = await api.post(None, extensions=ext, token=acct.token, method=method)
        assert r.status_code == 200, (method, r.text)
        assert r.json()["data"]["viewer"]["user"]["id"] == acct.user_id

    # A hash that does not match the query is refused, and nothing is stored under it.
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    r = await api.post("{ __typename }", extensions=wrong)
    assert r.status_code < 500
    assert error_codes(r.json()) and "errors" in r.json()
    r = await api.post(None, extensions=wrong)
    assert error_codes(r.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    for bad in ({"version": 2, "sha256Hash": digest}, {"version": 1, "sha256Hash": "abc"}, "x"):
        r = await api.post(None, extensions={"persistedQuery": bad})
        assert r.status_code < 500 and r.json()["errors"], bad

    # A document that does not parse is answered but never stored.
    junk = f"{{ viewer {{ # {uuid.uuid4()}"
    junk_ext = {
        "persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(junk.encode()).hexdigest()}
    }
    r = await api.post(junk, extensions=junk_ext)
    assert r.status_code == 400 and r.json()["errors"]
    r = await api.post(None, extensions=junk_ext)
    assert error_codes(r.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_rate_limit(api: Api, test_settings: Settings, deps: Deps) -> None:
    acct = await api.sign_up("limited")
    ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    async with other_app(
        test_settings,
        deps,
        client_ip=ip,
        rate_limit_capacity=3,
        rate_limit_refill_per_second=0.01,
    ) as limited:
        remaining = []
        for _ in range(3):
            r = await limited.post("{ __typename }")
            assert r.status_code == 200
            assert r.headers["RateLimit-Limit"] == "3"
            remaining.append(int(r.headers["RateLimit-Remaining"]))
            assert r.json()["extensions"]["rateLimit"]["remaining"] == remaining[-1]
        assert remaining == [2, 1, 0]
        r = await limited.post("{ __typename }")
        assert r.status_code == 429
        assert int(r.headers["Retry-After"]) >= 1
        body = r.json()
        assert error_codes(body) == ["RATE_LIMITED"]
        assert body["errors"][0]["extensions"]["retryAfter"] > 0
        # A signed-in client has its own bucket, not its address's.
        r = await limited.post("{ viewer { user { id } } }", token=acct.token)
        assert r.status_code == 200 and r.headers["RateLimit-Remaining"] == "2"


async def test_made_up_credentials_do_not_get_fresh_buckets(
    test_settings: Settings, deps: Deps
) -> None:
    ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    async with other_app(
        test_settings,
        deps,
        client_ip=ip,
        rate_limit_capacity=2,
        rate_limit_refill_per_second=0.01,
    ) as limited:
        for _ in range(2):
            assert (await limited.post("{ __typename }")).status_code == 200
        assert (await limited.post("{ __typename }")).status_code == 429
        r = await limited.post(
            "{ __typename }", headers={"authorization": f"Bearer {uuid.uuid4().hex}"}
        )
        assert r.status_code == 429


async def test_unexpected_exception_is_masked_and_logged(
    api: Api, acct: Account, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(teams, "list_viewer_teams", boom)
    caplog.set_level(logging.ERROR, logger="stratus.graphql")
    r = await api.post("{ viewer { user { id } teams { id } } }", token=acct.token)
    assert r.status_code == 200
    body = r.json()
    [err] = body["errors"]
    assert err["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    error_id = err["extensions"]["errorId"]
    assert error_id in err["message"]
    assert "hunter2" not in r.text
    [record] = [rec for rec in caplog.records if error_id in rec.getMessage()]
    assert record.exc_info is not None and "hunter2" in str(record.exc_info[1])


async def test_unexpected_exception_in_a_mutation_writes_nothing(
    api: Api, acct: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = projects.create_project

    async def half_then_boom(uow: Any, **kwargs: Any) -> Any:
        await original(uow, **kwargs)
        raise RuntimeError("after the insert")

    monkeypatch.setattr(projects, "create_project", half_then_boom)
    body = await api.gql(
        CREATE_PROJECT, {"input": {"teamId": acct.team_id, "name": "ghost"}}, token=acct.token
    )
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]
    monkeypatch.undo()
    data = await api.ok(
        "query($t: ID!) { team(id: $t) { projects { nodes { id } } auditLog { nodes { action } } } }",
        {"t": acct.team_id},
        token=acct.token,
    )
    assert data["team"]["projects"]["nodes"] == []
    assert [n["action"] for n in data["team"]["auditLog"]["nodes"]] == ["team.create"]


async def test_never_500(api: Api, acct: Account) -> None:
    """A grab bag of odd requests; none may produce a server error status."""
    requests: list[httpx.Request] = [
        api.client.build_request("GET", "/graphql"),
        api.client.build_request("GET", "/graphql", params={"query": "{"}),
        api.client.build_request("PUT", "/graphql", content=b"{}"),
        api.client.build_request("POST", "/graphql", json={"query": "{ nope }"}),
        api.client.build_request(
            "POST", "/graphql", json={"query": "query A { __typename } query B { __typename }"}
        ),
        api.client.build_request(
            "POST",
            "/graphql",
            json={"query": "{ __typename }", "operationName": "Missing"},
        ),
        api.client.build_request(
            "POST", "/graphql", json={"query": "{ __typename }", "extensions": "x"}
        ),
        api.client.build_request(
            "POST",
            "/graphql",
            json={"query": "subscription { viewerEvents { __typename } }"},
            headers={"authorization": f"Bearer {acct.token}"},
        ),
        api.client.build_request(
            "POST",
            "/graphql",
            json={"query": "{ viewer { user { id } } }"},
            headers={"authorization": "Bearer " + "x" * 5000},
        ),
    ]
    for request in requests:
        r = await api.client.send(request)
        assert r.status_code < 500, (request.method, request.url, r.status_code, r.text)
