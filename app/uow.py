"""Unit of work: one transaction; events and jobs go out only after it commits.

Mutations run inside `transaction()`. A `UserInputError` or any exception rolls the
whole transaction back, so a mutation either writes everything (including its audit
entry) or nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.deps import Deps
from app.domain.principal import Principal

log = logging.getLogger(__name__)


class CommitThenRaise(Exception):
    """Raise from a domain function to keep what it wrote and still fail the call
    (a replayed refresh token revokes its session family, then the call fails)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    args: tuple[Any, ...]
    job_id: str | None


@dataclass
class UnitOfWork:
    deps: Deps
    session: AsyncSession
    principal: Principal | None
    audited: int = 0
    _events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _jobs: list[Job] = field(default_factory=list)
    _calls: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def publish(self, stream: str, payload: dict[str, Any]) -> None:
        """Queue an event for after commit (subscribers never see rolled-back work)."""
        self._events.append((stream, payload))

    def enqueue(self, name: str, *args: Any, job_id: str | None = None) -> None:
        """Queue a job for after commit. A fixed job_id per entity makes enqueues idempotent."""
        self._jobs.append(Job(name, args, job_id))

    def after_commit(self, call: Callable[[], Awaitable[None]]) -> None:
        """Run `call` once the transaction has committed (e.g. signal a running job)."""
        self._calls.append(call)

    async def _after_commit(self) -> None:
        # Failures here must not turn a committed mutation into an error response:
        # periodic reconcilers pick up work whose enqueue was lost.
        for stream, payload in self._events:
            try:
                await self.deps.events.publish(stream, payload)
            except Exception:
                log.exception("event publish failed after commit", extra={"stream": stream})
        for job in self._jobs:
            if self.deps.queue is None:
                log.warning("no job queue in this process; job %s not enqueued", job.name)
                continue
            try:
                await self.deps.queue.enqueue_job(job.name, *job.args, _job_id=job.job_id)
            except Exception:
                log.exception("enqueue failed after commit", extra={"job": job.name})
        for call in self._calls:
            try:
                await call()
            except Exception:
                log.exception("after-commit call failed")


@asynccontextmanager
async def transaction(deps: Deps, principal: Principal | None) -> AsyncIterator[UnitOfWork]:
    async with deps.sessionmaker() as session:
        uow = UnitOfWork(deps=deps, session=session, principal=principal)
        deferred: Exception | None = None
        async with session.begin():
            try:
                yield uow
            except CommitThenRaise as exc:
                deferred = exc.error
        await uow._after_commit()
    if deferred is not None:
        raise deferred
