"""Work per request that must not grow: SQL statements per page, re-validation."""

from __future__ import annotations

from sqlalchemy import event
from strawberry.extensions.validation_cache import _get_validate_cache

from tests.support.api import Api

PAGE = """query($slug: String!, $first: Int!) { teamBySlug(slug: $slug) {
  members { role user { email } }
  projects(first: $first) { nodes { name environments { name variables { key } } } } } }"""


async def _statements(api: Api, deps, token: str, slug: str, first: int) -> int:
    count = 0

    def inc(*args: object, **kwargs: object) -> None:
        nonlocal count
        count += 1

    event.listen(deps.engine.sync_engine, "before_cursor_execute", inc)
    try:
        data = await api.ok(PAGE, {"slug": slug, "first": first}, token=token)
    finally:
        event.remove(deps.engine.sync_engine, "before_cursor_execute", inc)
    assert len(data["teamBySlug"]["projects"]["nodes"]) == first
    return count


async def test_statements_do_not_grow_with_the_page(api: Api, deps) -> None:
    acct = await api.sign_up("pages")
    team = await api.ok(
        "query($t: ID!) { node(id: $t) { ... on Team { slug } } }",
        {"t": acct.team_id},
        token=acct.token,
    )
    slug = team["node"]["slug"]
    for i in range(12):
        p = await api.create_project(acct.token, acct.team_id, name=f"p{i}")
        await api.upsert_variables(acct.token, p["environments"][0]["id"], {"A": "1", "B": "2"})
    await _statements(api, deps, acct.token, slug, 2)  # warm the per-process caches
    small = await _statements(api, deps, acct.token, slug, 2)
    large = await _statements(api, deps, acct.token, slug, 12)
    assert small == large, (small, large)
    assert large <= 6  # team, role, members+users, projects, environments+variables (+auth)


async def test_a_repeated_document_is_validated_once(api: Api) -> None:
    acct = await api.sign_up("validate")
    query = "query Again { viewer { user { id } teams { id } } }"
    await api.ok(query, token=acct.token)
    before = _get_validate_cache(512).cache_info()
    for _ in range(3):
        await api.ok(query, token=acct.token)
    after = _get_validate_cache(512).cache_info()
    assert after.hits - before.hits == 3 and after.misses == before.misses
