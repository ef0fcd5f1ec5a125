"""Request errors over HTTP: content negotiation and JSON bodies (in-process app)."""

from __future__ import annotations

import pytest

from tests.support.api import Api

GRAPHQL_RESPONSE = "application/graphql-response+json"


@pytest.mark.parametrize(
    ("accept", "media_type", "status"),
    [
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE, 400),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE, 400),
        (f"application/json, {GRAPHQL_RESPONSE};q=0.5", "application/json", 200),
        ("application/json", "application/json", 200),
        ("*/*", "application/json", 200),  # the spec: */* and no Accept mean application/json
        ("", "application/json", 200),
    ],
)
async def test_validation_error_status_and_type_follow_accept(
    api: Api, accept: str, media_type: str, status: int
) -> None:
    r = await api.post("{ noSuchField }", headers={"accept": accept})
    assert (r.status_code, r.headers["content-type"].split(";")[0]) == (status, media_type)
    assert "data" not in r.json()
    assert r.json()["errors"][0]["message"].startswith("Cannot query field")


async def test_malformed_body_gets_json_errors(api: Api) -> None:
    r = await api.client.post(
        "/graphql",
        content=b"{not json",
        headers={"content-type": "application/json", "accept": GRAPHQL_RESPONSE},
    )
    assert r.status_code == 400
    assert r.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_object_operation_name_is_a_bad_request(api: Api) -> None:
    r = await api.client.post(
        "/graphql",
        json={"query": "{ __typename }", "operationName": {"x": 1}},
        headers={"accept": "application/json"},
    )
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "operationName" in r.json()["errors"][0]["message"]


async def test_mutation_over_get_is_405_with_json(api: Api) -> None:
    r = await api.client.get(
        "/graphql",
        params={"query": "mutation { __typename }"},
        headers={"accept": GRAPHQL_RESPONSE},
    )
    assert r.status_code == 405, r.text
    assert r.headers["allow"] == "POST"
    assert r.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
