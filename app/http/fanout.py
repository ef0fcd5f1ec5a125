"""Live build logs over websockets: one shared feed per build and process.

Per-subscriber execution parsed, executed and serialised every live batch once per
subscriber; past a handful of subscribers that CPU (~0.2 ms per message each) is the
limit. Here each subscriber keeps its own strawberry path for authorization,
validation and the history replay after its cursor, then joins the build's feed:

- one feed per build per process follows the log (one `events.subscribe`, gap-filling
  and dedupe by seq as `build_logs.follow`), merging batches that wait;
- subscribers whose live payload would be the same (same root-field selection, see
  `selection_key`) form a group: each batch is executed through strawberry once per
  group (a subscription of the group's operation whose source is the feed) and
  serialised once; every member sends that text wrapped in its own frame;
- each member has a bounded queue of shared payloads; one that overflows is told
  SUBSCRIBER_LAGGED with the last seq it was sent and dropped, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from strawberry.types import ExecutionResult

from app.domain import build_logs
from app.domain.build_logs import LogLine, LogReaderLagged

log = logging.getLogger(__name__)

COALESCE = build_logs.REPLAY_PAGE  # lines per merged live batch
REPLAY_ROUNDS = 5  # a joining member re-reads history this often before giving up


class Payload(NamedTuple):
    first: int
    last: int
    lines: list[LogLine]
    text: str  # the serialised `payload` of the protocol message, shared by the group


# Control items: the build's log is complete / the feed broke (the client resumes).
_END = Payload(0, 0, [], "")
_FAILED = Payload(-1, -1, [], "")


@dataclass(frozen=True)
class OperationSlot:
    """What the websocket handler knows about the operation it is running."""

    op_id: str
    prefix: str  # the message up to its payload, e.g. '{"id":"1","type":"next","payload":'
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None
    selection: Hashable
    context: Any
    send_frame: Callable[[str], Awaitable[bool]]  # False once the client is gone


class _Member:
    __slots__ = ("fanout", "group", "live", "overflowed", "queue", "sent", "waiter")

    def __init__(self, fanout: LogFanout, group: _Group) -> None:
        self.fanout = fanout
        self.group = group
        self.queue: deque[Payload] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.live = False  # False while replaying history on its own path
        self.overflowed = False
        self.sent = 0  # last seq handed to the socket: the resume cursor

    def offer(self, item: Payload) -> None:
        if len(self.queue) >= self.fanout.max_queue:
            self.queue.clear()  # drop the backlog: bounded memory whatever the client does
            if self.live:
                self.group.members.discard(self)
                self.fanout.lagged += 1
            self.overflowed = True
        else:
            self.queue.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def go_live(self, last: int) -> bool:
        """Switch from replay (done up to `last`) to the feed; False when history must
        be read again because queued batches were dropped meanwhile."""
        if self.overflowed:
            self.overflowed = False
            return False
        if self.queue and self.queue[0].first > last + 1:
            return False  # cannot happen (see _Feed.position); read the hole anyway
        self.live, self.sent = True, last
        return True

    async def next(self) -> Payload:
        while not self.queue:
            if self.overflowed:
                raise LogReaderLagged(self.sent)
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        item = self.queue.popleft()
        if item is _FAILED:
            raise RuntimeError("the build's log feed failed")
        return item


class _RenderSource:
    """The source stream of a group's own subscription: the batch being rendered."""

    def __init__(self) -> None:
        self.lines: list[LogLine] = []

    async def follow(self, build_id: uuid.UUID, *, after: int) -> AsyncIterator[list[LogLine]]:
        while True:
            yield self.lines


@dataclass(eq=False)
class _Group:
    slot: OperationSlot  # its first member's operation, run once per batch for everyone
    members: set[_Member] = field(default_factory=set)
    source: _RenderSource = field(default_factory=_RenderSource)
    stream: AsyncIterator[Any] | None = None

    async def render(self, fanout: LogFanout, lines: list[LogLine]) -> str:
        self.source.lines = lines
        if self.stream is None:
            # The resolver reads the contextvar when its body starts, in this task.
            token = build_logs.shared_tail.set(self.source)
            try:
                slot = self.slot
                self.stream = await fanout.schema.subscribe(
                    slot.query, slot.variables, slot.context, None, slot.operation_name
                )
                result = await anext(self.stream)
            finally:
                build_logs.shared_tail.reset(token)
        else:
            result = await anext(self.stream)
        return fanout.encode(_payload(result))

    async def close(self) -> None:
        if self.stream is not None:
            with contextlib.suppress(Exception):
                await self.stream.aclose()  # type: ignore[attr-defined]


def _payload(result: ExecutionResult) -> dict[str, Any]:
    # As strawberry's handlers build `next` / `data` payloads.
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [e.formatted for e in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return payload


class _Feed:
    def __init__(self, fanout: LogFanout, build_id: uuid.UUID) -> None:
        self.fanout = fanout
        self.build_id = build_id
        self.groups: dict[Hashable, _Group] = {}
        self.members = 0
        self.position = 0  # last seq dispatched: a joining member reads up to it from PG
        self.ready = asyncio.Event()
        self.task = asyncio.create_task(self._run(), name=f"log-feed-{build_id}")

    async def _run(self) -> None:
        deps = self.fanout
        try:
            self.position = await build_logs.live_position(deps.sessionmaker, self.build_id)
            self.ready.set()
            while True:
                try:
                    async for lines in build_logs.follow(
                        deps.sessionmaker, deps.events, self.build_id,
                        after=self.position, coalesce=COALESCE,
                    ):  # fmt: skip
                        await self._dispatch(lines)
                    break
                except LogReaderLagged:
                    # This one reader fell behind Redis: it resumes from PostgreSQL.
                    log.warning("log feed %s lagged; resuming at %s", self.build_id, self.position)
            self.fanout.forget(self)
            self._offer_all(_END)
        except Exception:
            log.exception("log feed %s failed", self.build_id)
            self.fanout.forget(self)
            self._offer_all(_FAILED)
        finally:
            for group in self.groups.values():
                await group.close()

    async def _dispatch(self, lines: list[LogLine]) -> None:
        # Before any await: whoever joins from now on reads up to here from PostgreSQL.
        self.position = lines[-1].seq
        for key, group in tuple(self.groups.items()):
            if not group.members:
                del self.groups[key]
                await group.close()
                continue
            text = await group.render(self.fanout, lines)
            self.fanout.renders += 1
            item = Payload(lines[0].seq, lines[-1].seq, lines, text)
            for member in tuple(group.members):
                member.offer(item)

    def _offer_all(self, item: Payload) -> None:
        for group in self.groups.values():
            for member in tuple(group.members):
                member.offer(item)

    @contextlib.asynccontextmanager
    async def join(self, slot: OperationSlot) -> AsyncIterator[_Member]:
        group = self.groups.get(slot.selection)
        if group is None:
            group = self.groups[slot.selection] = _Group(slot)
        member = _Member(self.fanout, group)
        group.members.add(member)
        self.members += 1
        try:
            await _first(self.ready.wait(), self.task)
            yield member
        finally:
            group.members.discard(member)
            self.members -= 1
            if self.members == 0:
                self.fanout.forget(self)
                self.task.cancel()


async def _first(wait: Awaitable[Any], task: asyncio.Task[None]) -> None:
    """Wait for `wait`, unless `task` ends first (a feed that failed: members get _FAILED)."""
    waiter = asyncio.ensure_future(wait)
    try:
        await asyncio.wait([waiter, task], return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


class LogFanout:
    """The process's feeds, by build."""

    def __init__(self, deps: Any, schema: Any, encode: Callable[[object], str]) -> None:
        self.sessionmaker = deps.sessionmaker
        self.events = deps.events
        self.schema = schema
        self.encode = encode
        self.max_queue = deps.settings.log_fanout_queue
        self.feeds: dict[uuid.UUID, _Feed] = {}
        # Counters (tests and benchmarks): payloads rendered, frames sent, members lagged.
        self.renders = self.frames = self.lagged = 0

    def forget(self, feed: _Feed) -> None:
        if self.feeds.get(feed.build_id) is feed:
            del self.feeds[feed.build_id]

    def join(
        self, build_id: uuid.UUID, slot: OperationSlot
    ) -> contextlib.AbstractAsyncContextManager[_Member]:
        feed = self.feeds.get(build_id)
        if feed is None:
            feed = self.feeds[build_id] = _Feed(self, build_id)
        return feed.join(slot)


class OperationTail:
    """`build_logs.SharedTail` for one websocket operation."""

    def __init__(self, fanout: LogFanout, slot: OperationSlot) -> None:
        self.fanout = fanout
        self.slot = slot

    async def follow(self, build_id: uuid.UUID, *, after: int) -> AsyncIterator[list[LogLine]]:
        last = after
        async with self.fanout.join(build_id, self.slot) as member:
            for _ in range(REPLAY_ROUNDS):
                # Joined first, so nothing dispatched from now on is missed; what the
                # replay returns as well is dropped by seq below.
                async for batch in build_logs.replay(
                    self.fanout.sessionmaker, build_id, after=last
                ):
                    last = batch[-1].seq
                    yield batch
                if member.go_live(last):
                    break
            else:
                raise LogReaderLagged(last)
            prefix, send, fanout = self.slot.prefix, self.slot.send_frame, self.fanout
            while (item := await member.next()) is not _END:
                if item.last <= member.sent:
                    continue
                if item.first <= member.sent:
                    # The replay read part of this batch: the rest on our own path.
                    rest = [ln for ln in item.lines if ln.seq > member.sent]
                    member.sent = item.last
                    yield rest
                    continue
                if not await send(prefix + item.text + "}"):
                    return  # the handler's shutdown ends the operation
                member.sent = item.last
                fanout.frames += 1
