"""viewerEvents keeps to the teams the viewer may read *now*, not when they subscribed.

Run in-process through the schema (the websocket transport is covered by
tests/conformance); the context is built as the view builds it for a websocket.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pytest

from app.deps import Deps
from app.settings import Settings
from resolvers.context import Context
from resolvers.schema import build_schema
from tests.support.api import Api, unique

EVENTS = """
subscription { viewerEvents { ... on AuditEvent { entry { action changes } } } }
"""
REMOVE = """
mutation($m: ID!) { removeTeamMember(input: {memberId: $m}) { userErrors { code } } }"""
ROLE = """
mutation($m: ID!) {
  updateTeamMemberRole(input: {memberId: $m, role: DEVELOPER}) { userErrors { code } }
}"""


@contextlib.asynccontextmanager
async def _subscribe(
    settings: Settings, deps: Deps, token: str
) -> AsyncIterator[AsyncGenerator[Any, None]]:
    ctx = Context(deps=deps, request=None, response=None)
    ctx.credential = token
    gen = await build_schema(settings).subscribe(EVENTS, context_value=ctx)
    assert not hasattr(gen, "errors"), gen
    try:
        yield gen
    finally:
        await gen.aclose()


async def _next(gen: AsyncGenerator[Any, None], timeout: float = 5.0) -> dict[str, Any]:
    result = await asyncio.wait_for(anext(gen), timeout)
    assert not result.errors, result.errors
    entry: dict[str, Any] = result.data["viewerEvents"]["entry"]
    return entry


async def _first_event(api: Api, gen: AsyncGenerator[Any, None], token: str, team: str) -> None:
    """Create projects until the subscription (started lazily) delivers one."""
    pending = asyncio.ensure_future(_next(gen, timeout=10))
    try:
        while not pending.done():
            await api.create_project(token, team, name=unique("warm-up"))
            await asyncio.wait({pending}, timeout=0.2)
        await pending
    finally:
        pending.cancel()


async def _events_until(gen: AsyncGenerator[Any, None], name: str) -> list[dict[str, Any]]:
    seen = []
    while True:
        entry = await _next(gen)
        seen.append(entry)
        if entry["changes"].get("name") == name:
            return seen


@pytest.mark.parametrize("change", ["removed", "demoted"])
async def test_events_stop_when_the_viewer_loses_access(
    api: Api, deps: Deps, test_settings: Settings, change: str
) -> None:
    owner = await api.sign_up("owner")
    admin = await api.join(owner, "ADMIN")
    async with _subscribe(test_settings, deps, admin.token) as gen:
        await _first_event(api, gen, owner.token, owner.team_id)
        if change == "removed":
            await api.ok(REMOVE, {"m": admin.member_id}, token=owner.token)
        else:
            await api.ok(ROLE, {"m": admin.member_id}, token=owner.token)
        secret_name = unique("after")
        await api.create_project(owner.token, owner.team_id, name=secret_name)
        # A sentinel in the admin's own team, which they still read.
        sentinel = unique("sentinel")
        await api.create_project(admin.token, admin.account.team_id, name=sentinel)
        seen = await _events_until(gen, sentinel)
    names = [e["changes"].get("name") for e in seen]
    assert secret_name not in names, seen
