"""Health, readiness, metrics and request ids."""

from __future__ import annotations

import re
import uuid

from tests.support.api import Api


async def test_healthz(api: Api) -> None:
    r = await api.client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_readyz_checks_database_and_redis(api: Api) -> None:
    r = await api.client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def _counter(text: str, operation: str) -> float:
    total = 0.0
    for line in text.splitlines():
        m = re.match(r"stratus_graphql_requests_total\{(.*)\} ([0-9.e+]+)$", line)
        if m and f'operation="{operation}"' in m.group(1):
            total += float(m.group(2))
    return total


async def test_metrics_count_requests_by_operation(api: Api) -> None:
    name = "Op" + uuid.uuid4().hex[:8]
    for _ in range(2):
        r = await api.post(f"query {name} {{ __typename }}", operation_name=name)
        assert r.status_code == 200
    r = await api.client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert "# TYPE stratus_graphql_requests_total counter" in r.text
    assert _counter(r.text, name) == 2
    assert 'outcome="ok"' in r.text
    assert "stratus_graphql_request_seconds_bucket" in r.text
    assert "stratus_db_pool_size" in r.text


async def test_request_id_is_echoed_or_made_up(api: Api) -> None:
    rid = "client-" + uuid.uuid4().hex
    r = await api.post("{ __typename }", headers={"x-request-id": rid})
    assert r.headers["x-request-id"] == rid
    r = await api.client.get("/healthz", headers={"x-request-id": rid})
    assert r.headers["x-request-id"] == rid
    # A missing or unsafe one is replaced by a fresh id, never echoed back.
    r = await api.post("{ __typename }")
    generated = r.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    r = await api.post("{ __typename }", headers={"x-request-id": "bad id\twith spaces" + "x" * 80})
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    assert r.headers["x-request-id"] != generated
