"""DataLoaders: one statement per nesting level, whatever the page size.

Loaders batch reads for objects whose team the parent resolver has already
authorized; they never authorize on their own. Each batch uses its own session.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from app.domain import projects, teams, variables
from db import models

K = TypeVar("K")
V = TypeVar("V")


def _grouped(
    sessionmaker: async_sessionmaker[AsyncSession],
    fetch: Callable[[AsyncSession, Sequence[uuid.UUID]], Awaitable[Sequence[V]]],
    key: Callable[[V], uuid.UUID],
) -> DataLoader[uuid.UUID, list[V]]:
    async def load(keys: list[uuid.UUID]) -> list[list[V]]:
        async with sessionmaker() as session:
            rows = await fetch(session, keys)
        groups: dict[uuid.UUID, list[V]] = defaultdict(list)
        for row in rows:
            groups[key(row)].append(row)
        return [groups.get(k, []) for k in keys]

    return DataLoader(load_fn=load)


class Loaders:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.environments_by_project = _grouped(
            sessionmaker, projects.environments_of, lambda r: r.project_id
        )
        self.variables_by_environment = _grouped(
            sessionmaker, variables.variables_of, lambda r: r.environment_id
        )
        self.members_by_team = _grouped(sessionmaker, teams.members_of, lambda r: r.team_id)

        async def users(keys: list[uuid.UUID]) -> list[models.User | None]:
            async with sessionmaker() as session:
                rows = await session.scalars(select(models.User).where(models.User.id.in_(keys)))
                by_id = {u.id: u for u in rows}
            return [by_id.get(k) for k in keys]

        self.users: DataLoader[uuid.UUID, models.User | None] = DataLoader(load_fn=users)
