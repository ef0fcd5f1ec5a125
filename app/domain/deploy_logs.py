"""Deployment log pipeline: the running app's stdout/stderr, resumable like build logs.

The runtime hands over lines per release (`Runtime(on_output=...)`); `DeployLogSink` is that
callback. It numbers lines per *deployment* (`seq`, the cursor; a restarted worker continues
after the highest seq already stored) and ships batches to PostgreSQL first, then to the
deployment's Redis stream, so a line a live reader sees is already durable. Inserts are
idempotent on (deployment_id, seq), so a retried batch never duplicates a line.

A reader (`follow`) subscribes to the live stream *before* replaying history after its
cursor, drops live lines it already replayed and fills any hole from PostgreSQL: no gap and
no duplicate, whether it joins late or reconnects with a cursor.

Completion: the log of a deployment ends when the deployment reached a terminal status *and*
its release is stopped (`upstreams` is null). While it serves (ACTIVE, or SUPERSEDED and
retained for rollback) the subscription never completes; a client closes it. Nothing
publishes an end marker: a reader checks the deployment row when the stream is quiet and at
least every `end_check` seconds, then waits `END_GRACE` for lines still in the pipeline and
replays the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain.build_logs import (
    FLUSH_INTERVAL,
    REPLAY_PAGE,
    BatchShipper,
    LogReaderLagged,
    replay_pages,
)
from app.events import Event, EventBus, SubscriberLagged
from app.runtime.protocol import LogLine as RuntimeLogLine
from db import models
from db.enums import LogStream

log = logging.getLogger(__name__)

# After the release stopped: how long lines may still be on their way (runtime delivery,
# then one flush of the writer) before a reader replays the rest and completes.
END_GRACE = 0.5
# A writer with nothing buffered is forgotten after this long (reopened on its next line).
IDLE_WRITER_S = 300.0

__all__ = [
    "DeployLogLine",
    "DeployLogSink",
    "DeployLogWriter",
    "LogReaderLagged",
    "follow",
    "history",
    "log_stream",
    "replay",
]


def log_stream(deployment_id: uuid.UUID) -> str:
    return f"stratus:deployment:{deployment_id}:logs"


@dataclass(frozen=True, slots=True)
class DeployLogLine:
    seq: int
    ts: datetime
    stream: LogStream
    replica: int
    text: str

    def wire(self) -> list[Any]:
        return [self.seq, self.ts.isoformat(), self.stream.value, self.replica, self.text]

    @classmethod
    def from_wire(cls, w: Sequence[Any]) -> DeployLogLine:
        return cls(int(w[0]), datetime.fromisoformat(w[1]), LogStream(w[2]), int(w[3]), w[4])

    @classmethod
    def from_row(cls, r: models.DeploymentLogLine) -> DeployLogLine:
        return cls(r.seq, r.ts, r.stream, r.replica, r.text)


class DeployLogWriter(BatchShipper[DeployLogLine]):
    """Numbers and ships the lines of one deployment; flushed by its sink."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        events: EventBus,
        deployment_id: uuid.UUID,
        *,
        last_seq: int,
    ) -> None:
        super().__init__()
        self._sessionmaker = sessionmaker
        self._events = events
        self.deployment_id = deployment_id
        self.last_seq = last_seq
        self.last_write = time.monotonic()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    async def write(self, stream: LogStream, replica: int, text: str, ts: datetime) -> int:
        self.last_seq += 1
        self.last_write = time.monotonic()
        await self._add(DeployLogLine(self.last_seq, ts, stream, replica, text))
        return self.last_seq

    async def _ship(self, batch: list[DeployLogLine]) -> None:
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                insert(models.DeploymentLogLine).on_conflict_do_nothing(),
                [
                    {
                        "deployment_id": self.deployment_id,
                        "seq": ln.seq,
                        "ts": ln.ts,
                        "stream": ln.stream,
                        "replica": ln.replica,
                        "text": ln.text,
                    }
                    for ln in batch
                ],
            )
        await self._events.publish(
            log_stream(self.deployment_id), {"lines": [ln.wire() for ln in batch]}
        )


async def last_seq(session: AsyncSession, deployment_id: uuid.UUID) -> int:
    q = select(func.max(models.DeploymentLogLine.seq)).where(
        models.DeploymentLogLine.deployment_id == deployment_id
    )
    return await session.scalar(q) or 0


class DeployLogSink:
    """The runtime's `on_output`: one writer per deployment, flushed by one task.

    The runtime calls it from a single delivery task, in order. One process writes a given
    deployment's log at a time (the worker running its release); a second writer of the same
    deployment would lose lines to seq conflicts, never duplicate them.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], events: EventBus) -> None:
        self._sessionmaker = sessionmaker
        self._events = events
        self._writers: dict[uuid.UUID, DeployLogWriter] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, line: RuntimeLogLine) -> None:
        try:
            deployment_id = uuid.UUID(line.deployment_id)
        except ValueError:
            return  # a release started outside of a deployment
        writer = self._writers.get(deployment_id)
        if writer is None:
            writer = await self._open(deployment_id)
        if self._task is None and not self._stop.is_set():
            self._task = asyncio.create_task(self._flush_periodically())
        await writer.write(LogStream(line.stream), line.replica, line.text, line.ts)

    async def _open(self, deployment_id: uuid.UUID) -> DeployLogWriter:
        async with self._sessionmaker() as session:
            seq = await last_seq(session, deployment_id)
        writer = DeployLogWriter(self._sessionmaker, self._events, deployment_id, last_seq=seq)
        self._writers[deployment_id] = writer
        return writer

    async def flush(self) -> None:
        now = time.monotonic()
        for deployment_id, writer in list(self._writers.items()):
            try:
                await writer.flush()
            except Exception:  # retried at the next flush; other deployments go on
                log.exception("flushing the log of deployment %s failed", deployment_id)
                continue
            if writer.pending == 0 and now - writer.last_write > IDLE_WRITER_S:
                self._writers.pop(deployment_id, None)

    async def aclose(self) -> None:
        """Flush everything (after the runtime delivered its last lines)."""
        # Never cancel the flusher mid-batch: ask it to stop and wait (see build_logs).
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()

    async def _flush_periodically(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), FLUSH_INTERVAL)
            await self.flush()


async def history(
    session: AsyncSession, deployment_id: uuid.UUID, *, after: int, limit: int
) -> list[DeployLogLine]:
    rows = await session.scalars(
        select(models.DeploymentLogLine)
        .where(
            models.DeploymentLogLine.deployment_id == deployment_id,
            models.DeploymentLogLine.seq > after,
        )
        .order_by(models.DeploymentLogLine.seq)
        .limit(limit)
    )
    return [DeployLogLine.from_row(r) for r in rows]


async def replay(
    sessionmaker: async_sessionmaker[AsyncSession],
    deployment_id: uuid.UUID,
    *,
    after: int,
    before: int | None = None,
) -> AsyncIterator[list[DeployLogLine]]:
    async def page(after: int) -> list[DeployLogLine]:
        async with sessionmaker() as session:
            return await history(session, deployment_id, after=after, limit=REPLAY_PAGE)

    async for batch in replay_pages(page, after=after, before=before):
        yield batch


async def ended(sessionmaker: async_sessionmaker[AsyncSession], deployment_id: uuid.UUID) -> bool:
    """The deployment's rollout is over and nothing of its release runs any more."""
    async with sessionmaker() as session:
        row = (
            await session.execute(
                select(models.Deployment.status, models.Deployment.upstreams).where(
                    models.Deployment.id == deployment_id
                )
            )
        ).one_or_none()
    return row is None or (row.status.is_terminal and row.upstreams is None)


async def follow(
    sessionmaker: async_sessionmaker[AsyncSession],
    events: EventBus,
    deployment_id: uuid.UUID,
    *,
    after: int,
    idle_timeout: float = 5.0,
    end_check: float = 10.0,
    max_queue: int = 2_000,
) -> AsyncIterator[list[DeployLogLine]]:
    """Batches of lines after `after`, then live ones; ends once the release stopped for good.

    Raises LogReaderLagged (with the cursor to resume from) when the subscriber's bounded
    queue overflowed because the client could not keep up.
    """
    last = after
    async with events.subscribe([log_stream(deployment_id)], max_queue=max_queue) as sub:
        done = await ended(sessionmaker, deployment_id)
        async for batch in replay(sessionmaker, deployment_id, after=last):
            last = batch[-1].seq
            yield batch
        if done:
            return
        loop = asyncio.get_running_loop()
        next_check = loop.time() + end_check
        while True:
            try:
                event = await sub.get(idle_timeout)
            except SubscriberLagged:
                raise LogReaderLagged(last) from None
            if event is None or loop.time() >= next_check:
                next_check = loop.time() + end_check
                if await ended(sessionmaker, deployment_id):
                    await asyncio.sleep(END_GRACE)
                    async for batch in replay(sessionmaker, deployment_id, after=last):
                        last = batch[-1].seq
                        yield batch
                    return
            lines = _after(event, last)
            if not lines:
                continue
            if lines[0].seq != last + 1:
                # A hole (e.g. an event missed while reconnecting): fill it from history.
                async for batch in replay(
                    sessionmaker, deployment_id, after=last, before=lines[0].seq
                ):
                    last = batch[-1].seq
                    yield batch
            yield lines
            last = lines[-1].seq


def _after(event: Event | None, last: int) -> list[DeployLogLine]:
    if event is None or "lines" not in event.payload:
        return []
    return [DeployLogLine.from_wire(w) for w in event.payload["lines"] if w[0] > last]
