"""Batched reads: one statement per nesting level, whatever the page size.

A level is loaded in one of two ways:

- Prefetch (the fast path): a list resolver (a page of projects, a team's members) looks
  ahead at the selection and reads every selected level below it at once, one statement
  per level, then hands out objects with their children attached. Those child fields
  resolve synchronously: no coroutine, task or future per object, which is most of what
  an async GraphQL server spends on a nested page.
- DataLoader (the fallback): objects that arrive without children (`node(id:)`, mutation
  payloads) load them on demand, batched per level, each batch in its own session.

Either way only children of parents that were already authorized are read: neither
prefetching nor loaders authorize on their own.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader
from strawberry.types import Info
from strawberry.types.nodes import SelectedField, Selection

from app.domain import builds, projects, teams, variables
from db import models

K = TypeVar("K")
V = TypeVar("V")
# What a field resolver returns when its value may already be at hand.
T = TypeVar("T")
MaybeAwaitable: TypeAlias = T | Awaitable[T]


def selects(info: Info[Any, Any], *paths: str) -> bool:
    """Whether the current field's selection reaches any of `paths` ("nodes.environments").

    Fragments are looked through; `@skip`/`@include` are not (a needless read at worst).
    """
    fields = info.selected_fields
    return any(_reaches(f.selections, p.split(".")) for p in paths for f in fields)


def _reaches(selections: Sequence[Selection], path: Sequence[str]) -> bool:
    for s in selections:
        if not isinstance(s, SelectedField):  # inline fragment or fragment spread
            if _reaches(s.selections, path):
                return True
        elif s.name == path[0] and (len(path) == 1 or _reaches(s.selections, path[1:])):
            return True
    return False


def grouped(rows: Iterable[V], key: Callable[[V], K]) -> dict[K, list[V]]:
    groups: dict[K, list[V]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return groups


@dataclass(frozen=True, slots=True)
class ProjectChildren:
    """Environments by project id and, when selected, variables by environment id."""

    environments: dict[uuid.UUID, list[models.Environment]]
    variables: dict[uuid.UUID, list[variables.VariableMetadata]] | None


async def project_children(
    session: AsyncSession, project_ids: Sequence[uuid.UUID], *, with_variables: bool
) -> ProjectChildren:
    """One statement, for any number of projects already authorized."""
    if not with_variables:
        envs = await projects.environments_of(session, project_ids)
        return ProjectChildren(grouped(envs, lambda e: e.project_id), None)
    pairs = await projects.environments_with_variables_of(session, project_ids)
    return ProjectChildren(
        grouped((env for env, _ in pairs), lambda e: e.project_id),
        {env.id: items for env, items in pairs},
    )


def _batched(
    sessionmaker: async_sessionmaker[AsyncSession],
    fetch: Callable[[AsyncSession, Sequence[uuid.UUID]], Awaitable[Sequence[V]]],
    key: Callable[[V], uuid.UUID],
) -> DataLoader[uuid.UUID, list[V]]:
    async def load(keys: list[uuid.UUID]) -> list[list[V]]:
        async with sessionmaker() as session:
            groups = grouped(await fetch(session, keys), key)
        return [groups.get(k, []) for k in keys]

    return DataLoader(load_fn=load)


class Loaders:
    """Per-request DataLoaders (never shared between requests or websocket operations)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.environments_by_project = _batched(
            sessionmaker, projects.environments_of, lambda r: r.project_id
        )
        self.variables_by_environment = _batched(
            sessionmaker, variables.variables_of, lambda r: r.environment_id
        )
        self.members_by_team = _batched(sessionmaker, teams.members_of, lambda r: r.team_id)
        self.members_with_users_by_team = _batched(
            sessionmaker, teams.members_with_users_of, lambda r: r[0].team_id
        )

        async def users(keys: list[uuid.UUID]) -> list[models.User | None]:
            async with sessionmaker() as session:
                by_id = {u.id: u for u in await teams.users_of(session, keys)}
            return [by_id.get(k) for k in keys]

        self.users: DataLoader[uuid.UUID, models.User | None] = DataLoader(load_fn=users)

        async def builds_by_id(keys: list[uuid.UUID]) -> list[models.Build | None]:
            async with sessionmaker() as session:
                by_id = {b.id: b for b in await builds.builds_of(session, keys)}
            return [by_id.get(k) for k in keys]

        self.builds: DataLoader[uuid.UUID, models.Build | None] = DataLoader(load_fn=builds_by_id)
