"""Build log pipeline: PostgreSQL for history, a Redis stream for the live tail.

Every line gets a per-build sequence number (the cursor). The writer ships a batch to
PostgreSQL first and only then to the Redis stream, so anything a live reader has
seen is already durable. Inserts are idempotent on (build_id, seq), so a retried batch
never duplicates a line.

A reader subscribes to the live stream *before* replaying history, then drops live
lines it has already replayed and fills any hole from PostgreSQL: no gap and no
duplicate, whether it joins mid-build, after the end, or reconnects with a cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.events import Event, EventBus, SubscriberLagged
from db import models
from db.enums import BuildStatus, LogStream

L = TypeVar("L")
FLUSH_INTERVAL = 0.05
MAX_BATCH = 1_000
REPLAY_PAGE = 2_000


def log_stream(build_id: uuid.UUID) -> str:
    return f"stratus:build:{build_id}:logs"


@dataclass(frozen=True, slots=True)
class LogLine:
    seq: int
    ts: datetime
    stream: LogStream
    step: str | None
    text: str
    truncated: bool

    def wire(self) -> list[Any]:
        return [
            self.seq,
            self.ts.isoformat(),
            self.stream.value,
            self.step,
            self.text,
            self.truncated,
        ]

    @classmethod
    def from_wire(cls, w: Sequence[Any]) -> LogLine:
        return cls(int(w[0]), datetime.fromisoformat(w[1]), LogStream(w[2]), w[3], w[4], bool(w[5]))

    @classmethod
    def from_row(cls, r: models.BuildLogLine) -> LogLine:
        return cls(r.seq, r.ts, r.stream, r.step, r.text, r.truncated)


class BatchShipper(Generic[L]):
    """The buffer both log writers share: lines wait here and go out as one batch.

    A batch that fails to ship goes back to the front of the buffer so the next flush
    retries it; `_ship` must be idempotent (inserts ignore existing (owner, seq) keys).
    """

    def __init__(self) -> None:
        self._buffer: list[L] = []
        self._lock = asyncio.Lock()

    async def _add(self, line: L) -> None:
        self._buffer.append(line)
        if len(self._buffer) >= MAX_BATCH:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            batch, self._buffer = self._buffer, []
            if not batch:
                return
            try:
                await self._ship(batch)
            except BaseException:
                self._buffer[:0] = batch
                raise

    async def _ship(self, batch: list[L]) -> None:
        raise NotImplementedError


class LogWriter(BatchShipper[LogLine]):
    """Used by the build job; not safe to share between builds."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        events: EventBus,
        build_id: uuid.UUID,
        *,
        last_seq: int,
    ) -> None:
        super().__init__()
        self._sessionmaker = sessionmaker
        self._events = events
        self.build_id = build_id
        self.last_seq = last_seq
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LogWriter:
        self._task = asyncio.create_task(self._flush_periodically())
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Never cancel the flusher: a batch cancelled between its swap out of the
        # buffer and its commit would be lost. Ask it to stop and wait instead.
        self._stop.set()
        if self._task is not None:
            await self._task
        await self.flush()

    async def write(
        self, stream: LogStream, step: str | None, text: str, truncated: bool = False
    ) -> int:
        self.last_seq += 1
        await self._add(LogLine(self.last_seq, datetime.now(UTC), stream, step, text, truncated))
        return self.last_seq

    async def _ship(self, batch: list[LogLine]) -> None:
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                insert(models.BuildLogLine).on_conflict_do_nothing(),
                [
                    {
                        "build_id": self.build_id,
                        "seq": ln.seq,
                        "ts": ln.ts,
                        "stream": ln.stream,
                        "step": ln.step,
                        "text": ln.text,
                        "truncated": ln.truncated,
                    }
                    for ln in batch
                ],
            )
            await session.execute(
                update(models.Build)
                .where(models.Build.id == self.build_id)
                .values(last_log_seq=func.greatest(models.Build.last_log_seq, batch[-1].seq))
            )
        await self._events.publish(
            log_stream(self.build_id), {"lines": [ln.wire() for ln in batch]}
        )

    async def _flush_periodically(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), FLUSH_INTERVAL)
            await self.flush()


async def publish_end(events: EventBus, build_id: uuid.UUID, status: BuildStatus) -> None:
    """Tell live readers the log is complete (after the final flush and status update)."""
    await events.publish(log_stream(build_id), {"end": status.value})


@dataclass(frozen=True, slots=True)
class LogFilter:
    search: str | None = None
    streams: Sequence[LogStream] | None = None
    steps: Sequence[str] | None = None


async def history(
    session: AsyncSession,
    build_id: uuid.UUID,
    *,
    after: int,
    limit: int,
    filter: LogFilter | None = None,
) -> list[LogLine]:
    q = select(models.BuildLogLine).where(
        models.BuildLogLine.build_id == build_id, models.BuildLogLine.seq > after
    )
    if filter is not None:
        if filter.search:
            escaped = filter.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            q = q.where(models.BuildLogLine.text.ilike(f"%{escaped}%", escape="\\"))
        if filter.streams:
            q = q.where(models.BuildLogLine.stream.in_(list(filter.streams)))
        if filter.steps:
            q = q.where(models.BuildLogLine.step.in_(list(filter.steps)))
    rows = await session.scalars(q.order_by(models.BuildLogLine.seq).limit(limit))
    return [LogLine.from_row(r) for r in rows]


class LogReaderLagged(Exception):
    def __init__(self, cursor: int) -> None:
        super().__init__(f"subscriber fell behind; resume after {cursor}")
        self.cursor = cursor


class SharedTail(Protocol):
    def follow(self, build_id: uuid.UUID, *, after: int) -> AsyncIterator[list[LogLine]]: ...


# Set by the websocket transport for the operation it runs (app/http/fanout.py): one
# shared feed per build and process instead of one reader per subscriber. Unset (other
# transports, or the per-subscriber path selected for comparison), readers use follow().
shared_tail: ContextVar[SharedTail | None] = ContextVar("build_logs_shared_tail", default=None)


def tail(
    sessionmaker: async_sessionmaker[AsyncSession],
    events: EventBus,
    build_id: uuid.UUID,
    *,
    after: int,
) -> AsyncIterator[list[LogLine]]:
    """As follow(), through the transport's shared feed when it installed one."""
    shared = shared_tail.get()
    if shared is not None:
        return shared.follow(build_id, after=after)
    return follow(sessionmaker, events, build_id, after=after)


async def live_position(sessionmaker: async_sessionmaker[AsyncSession], build_id: uuid.UUID) -> int:
    """The last seq already durable: every line up to it can be read from PostgreSQL."""
    async with sessionmaker() as session:
        q = select(models.Build.last_log_seq).where(models.Build.id == build_id)
        return await session.scalar(q) or 0


async def _ended(sessionmaker: async_sessionmaker[AsyncSession], build_id: uuid.UUID) -> bool:
    async with sessionmaker() as session:
        q = select(models.Build.status).where(models.Build.id == build_id)
        status = await session.scalar(q)
    return status is None or status.is_terminal


async def follow(
    sessionmaker: async_sessionmaker[AsyncSession],
    events: EventBus,
    build_id: uuid.UUID,
    *,
    after: int,
    idle_timeout: float = 15.0,
    max_queue: int = 2_000,
    coalesce: int = 0,
) -> AsyncIterator[list[LogLine]]:
    """Batches of lines after `after`, live until the build ends, then stop.

    With `coalesce`, live events already waiting are merged into one batch of up to that
    many lines: a reader that fell behind catches up in fewer, larger messages.

    Raises LogReaderLagged (with the cursor to resume from) when the subscriber's
    bounded queue overflowed because the client could not keep up.
    """
    last = after
    async with events.subscribe([log_stream(build_id)], max_queue=max_queue) as sub:
        ended = await _ended(sessionmaker, build_id)
        async for batch in replay(sessionmaker, build_id, after=last):
            last = batch[-1].seq
            yield batch
        if ended:
            return
        pending: Event | None = None
        while True:
            try:
                event = pending or await sub.get(idle_timeout)
            except SubscriberLagged:
                raise LogReaderLagged(last) from None
            pending = None
            # Quiet for a while: make sure the build did not end unseen.
            ended = event is None and await _ended(sessionmaker, build_id)
            if (event is not None and "end" in event.payload) or ended:
                async for batch in replay(sessionmaker, build_id, after=last):
                    last = batch[-1].seq
                    yield batch
                return
            lines = _after(event, last)
            if not lines:
                continue
            if lines[0].seq != last + 1:
                # A hole (e.g. an event missed while reconnecting): fill it from history.
                async for batch in replay(sessionmaker, build_id, after=last, before=lines[0].seq):
                    last = batch[-1].seq
                    yield batch
            while len(lines) < coalesce and (pending := sub.get_nowait()) is not None:
                more = _after(pending, lines[-1].seq)
                if "end" in pending.payload or (more and more[0].seq != lines[-1].seq + 1):
                    break  # handled on its own in the next round
                lines += more
                pending = None
            yield lines
            last = lines[-1].seq


def _after(event: Event | None, last: int) -> list[LogLine]:
    if event is None or "lines" not in event.payload:
        return []
    return [LogLine.from_wire(w) for w in event.payload["lines"] if w[0] > last]


class Numbered(Protocol):
    @property
    def seq(self) -> int: ...


N = TypeVar("N", bound=Numbered)


async def replay_pages(
    page: Callable[[int], Awaitable[list[N]]], *, after: int, before: int | None
) -> AsyncIterator[list[N]]:
    """History in batches of up to REPLAY_PAGE lines after `after` (and before `before`):
    `page(after)` reads the next REPLAY_PAGE lines. Build and deployment logs both replay so."""
    while True:
        batch = await page(after)
        if before is not None:
            batch = [ln for ln in batch if ln.seq < before]
        if not batch:
            return
        yield batch
        after = batch[-1].seq
        if len(batch) < REPLAY_PAGE:
            return


async def replay(
    sessionmaker: async_sessionmaker[AsyncSession],
    build_id: uuid.UUID,
    *,
    after: int,
    before: int | None = None,
) -> AsyncIterator[list[LogLine]]:
    async def page(after: int) -> list[LogLine]:
        async with sessionmaker() as session:
            return await history(session, build_id, after=after, limit=REPLAY_PAGE)

    async for batch in replay_pages(page, after=after, before=before):
        yield batch
