"""Event bus on Redis Streams with one reader task per process.

A blocking XREAD per subscriber would hold one Redis connection each (1,000 viewers,
1,000 connections). Instead one reader task per process reads every stream that any
local subscriber wants and fans each entry out to bounded in-memory queues. When the
set of streams changes, the reader's blocking call is cut short with CLIENT UNBLOCK.

A subscriber that cannot keep up is not allowed to grow memory: its queue is bounded
and, once full, iteration raises `SubscriberLagged`; the client resumes from its last
cursor (history comes from the stream or the database).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

log = logging.getLogger(__name__)

STREAM_MAXLEN = 10_000
READ_BLOCK_MS = 5_000
READ_COUNT = 1_000


@dataclass(frozen=True, slots=True)
class Event:
    stream: str
    id: str  # Redis stream id, usable as a resume cursor
    payload: dict[str, Any]


class SubscriberLagged(Exception):
    """The subscriber fell behind; resume from the last cursor it saw."""


class Subscription:
    def __init__(self, bus: EventBus, streams: list[str], max_queue: int) -> None:
        self._bus = bus
        self.streams = streams
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=max_queue)
        self.lagged = False

    def _offer(self, event: Event) -> None:
        if self.lagged:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.lagged = True

    async def get(self, timeout: float | None = None) -> Event | None:
        """Next event, or None after `timeout` seconds without one."""
        if self.lagged and self._queue.empty():
            raise SubscriberLagged()
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    def get_nowait(self) -> Event | None:
        """An event already waiting, or None (lagging is reported by the next `get`)."""
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    async def __aenter__(self) -> Subscription:
        await self._bus._add(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._bus._remove(self)


class EventBus:
    def __init__(self, redis_url: str) -> None:
        self._url = redis_url
        self._control = Redis.from_url(redis_url)
        self._reader: Redis | None = None
        self._reader_id: int | None = None
        self._subs: dict[str, set[Subscription]] = {}
        self._last: dict[str, bytes] = {}
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def publish(self, stream: str, payload: dict[str, Any]) -> str:
        entry_id = await self._control.xadd(
            stream, {"d": orjson.dumps(payload)}, maxlen=STREAM_MAXLEN, approximate=True
        )
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def history(self, stream: str, after: str = "0-0", count: int = 1000) -> list[Event]:
        rows = await self._control.xrange(stream, min=f"({after}", count=count)
        return [Event(stream, i.decode(), orjson.loads(f[b"d"])) for i, f in rows]

    def subscribe(self, streams: list[str], *, max_queue: int = 1_000) -> Subscription:
        return Subscription(self, streams, max_queue)

    @property
    def subscriber_count(self) -> int:
        return len({s for subs in self._subs.values() for s in subs})

    async def _add(self, sub: Subscription) -> None:
        new = [s for s in sub.streams if s not in self._subs]
        for stream in new:
            # Start each new stream at its current tail so nothing published after
            # this subscribe() call is missed, even before the reader wakes up.
            tail = await self._control.xrevrange(stream, count=1)
            self._last[stream] = tail[0][0] if tail else b"0-0"
        for stream in sub.streams:
            self._subs.setdefault(stream, set()).add(sub)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="event-bus-reader")
        elif new:
            await self._interrupt()

    def _remove(self, sub: Subscription) -> None:
        for stream in sub.streams:
            subs = self._subs.get(stream)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[stream]
                    self._last.pop(stream, None)

    async def _interrupt(self) -> None:
        self._changed.set()
        if self._reader_id is not None:
            with contextlib.suppress(Exception):
                await self._control.client_unblock(self._reader_id)

    async def _run(self) -> None:
        self._reader = Redis.from_url(self._url, single_connection_client=True)
        try:
            while True:
                if not self._last:
                    self._changed.clear()
                    await self._changed.wait()
                    continue
                try:
                    self._reader_id = await self._reader.client_id()
                    self._changed.clear()
                    batch = await self._reader.xread(
                        dict[Any, Any](self._last), count=READ_COUNT, block=READ_BLOCK_MS
                    )
                except (RedisConnectionError, OSError) as exc:
                    log.warning("event reader lost redis: %s; retrying", exc)
                    await asyncio.sleep(0.5)
                    continue
                self._dispatch(batch)
        finally:
            await self._reader.aclose()

    def _dispatch(self, batch: list[Any]) -> None:
        for raw_stream, entries in batch or []:
            stream = raw_stream.decode()
            subs = self._subs.get(stream)
            for entry_id, fields in entries:
                if stream in self._last:
                    self._last[stream] = entry_id
                if not subs:
                    continue
                event = Event(stream, entry_id.decode(), orjson.loads(fields[b"d"]))
                for sub in tuple(subs):
                    sub._offer(event)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._control.aclose()


async def iterate(sub: Subscription, *, idle_timeout: float) -> AsyncIterator[Event | None]:
    """Yield events, or None after each `idle_timeout` without one (for heartbeats)."""
    while True:
        yield await sub.get(idle_timeout)
