"""The output of a release's pods, polled from the API server and handed to `on_output`.

Why polling: the synchronous client's `follow=True` stream blocks a thread until the server
ends it and cannot be cancelled cleanly. Every `POLL_INTERVAL` seconds each release's task
lists its pods (label `stratus.dev/release`) and reads the "app" container's log with
timestamps from the last delivered line's time (`sinceTime`). The API server hands that
time to the kubelet in whole seconds, so each read starts at the beginning of that second
again: lines older than the last delivered one are skipped, and at exactly its timestamp
(nanoseconds; ties happen) as many as were delivered there. No line twice, none lost.

* replica: a pod keeps the index it got when first seen (the lowest free one, first pods
  ordered by creation time and name) for as long as it exists; a replacement pod takes the
  freed index. Kubernetes merges stdout and stderr, so every line is "stdout".
* restarts: a pod is followed by name; when its container restarted, the tail of the
  instance that ended (`previous=true`) is read before the new instance's output.
* resume: a follower started for a release already running (a restarted worker) reads the
  pods it finds from `RESUME_WINDOW_S` before now (`sinceSeconds`, the server's clock)
  rather than replaying whole logs: lines of that window may be delivered a second time,
  older ones are not.
* bounded: a read asks for `READ_LIMIT_BYTES` of new output (`limitBytes`, plus what it
  will skip again of the current second) and never more than `MAX_READ_LIMIT_BYTES`; a
  second holding more than that (or a longer line) is skipped with a "system" notice.
  At most `MAX_READS_PER_POLL` reads per pod and poll, `MAX_CONCURRENT_CALLS` cluster calls
  at once for all releases (each holds a thread), one cursor per pod. `on_output` is awaited in order,
  one line at a time, so a slow sink slows the polling down instead of filling a buffer.
* errors talking to the cluster are logged (once per failure streak) and retried at the
  next poll; nothing is raised into the rollout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from kubernetes.client.exceptions import ApiException

from app.runtime.kubernetes.adapter import KubernetesClient
from app.runtime.kubernetes.manifests import MANAGED_BY_LABEL, RELEASE_LABEL, Manifest
from app.runtime.lease import Lease
from app.runtime.protocol import LogLine, LogStreamName, OnOutput

log = logging.getLogger(__name__)

POLL_INTERVAL = 1.5
RESUME_WINDOW_S = 10
CONTAINER = "app"  # the container manifests.deployment runs the app in
READ_LIMIT_BYTES = 256 * 1024
MAX_READ_LIMIT_BYTES = 4 * 1024 * 1024
MAX_READS_PER_POLL = 8
MAX_CONCURRENT_CALLS = 4  # the rollouts' own cluster calls share the same thread pool
# How long stopping waits for the last poll (cluster calls cannot be cancelled mid-request).
STOP_TIMEOUT_S = 10.0

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")
NS_PER_US = 1_000
NS_PER_S = 1_000_000_000


def parse_timestamp(text: str) -> int | None:
    """An RFC3339(Nano) time as nanoseconds since the epoch (exact: no float in between)."""
    match = _TIMESTAMP.match(text)
    if match is None:
        return None
    zone = "+00:00" if match[3] == "Z" else match[3]
    whole = datetime.fromisoformat(match[1] + zone)
    seconds = (whole - _EPOCH) // timedelta(seconds=1)
    return seconds * NS_PER_S + int((match[2] or "").ljust(9, "0"))


def to_datetime(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // NS_PER_US)


@dataclass(frozen=True, slots=True)
class RawLine:
    ts: int | None  # ns; None: no timestamp (should not happen with timestamps=true)
    text: str
    size: int  # bytes on the wire, timestamp and newline included


def split_lines(text: str) -> Iterator[RawLine]:
    """The lines of a `timestamps=true` log; a line cut off by the byte limit (no final
    newline) is left out: a later read returns it whole."""
    for raw in text.split("\n")[:-1]:
        stamp, _, rest = raw.partition(" ")
        ts = parse_timestamp(stamp)
        size = len(raw.encode()) + 1
        yield RawLine(ts, rest, size) if ts is not None else RawLine(None, raw, size)


@dataclass
class PodCursor:
    """Where the next read of one pod starts, and what at that time was delivered already."""

    replica: int
    boundary: int | None = None  # ns of the last delivered line
    at_boundary: int = 0  # lines delivered with exactly that timestamp
    second_bytes: int = 0  # bytes delivered from the boundary's second: read again each time
    extra: int = 0  # bytes asked for beyond that, grown while reads bring nothing new
    # A resumed follower's pod: until its first line, reads reach back to this moment
    # (monotonic) minus the resume window.
    resumed_at: float | None = None
    restarts: int = 0  # the container's restartCount when last read

    def since_time(self) -> datetime | None:
        """Where the next read starts: the boundary's second (what the server would use)."""
        if self.boundary is None:
            return None
        return to_datetime(self.boundary // NS_PER_S * NS_PER_S)

    def read_limit(self) -> int:
        return min(MAX_READ_LIMIT_BYTES, READ_LIMIT_BYTES + self.second_bytes + self.extra)

    def admit(self, lines: Iterator[RawLine]) -> list[tuple[int, str]]:
        """The lines of one read not delivered before, advancing the cursor past them."""
        fresh: list[tuple[int, str]] = []
        skip = self.at_boundary
        for line in lines:
            # A line without a timestamp (should not happen) travels with the previous one.
            stamp = line.ts if line.ts is not None else (self.boundary or 0)
            if self.boundary is not None:
                if stamp < self.boundary:
                    continue
                if stamp == self.boundary and skip > 0:
                    skip -= 1
                    continue
            fresh.append((stamp, line.text))
            if self.boundary is not None and stamp // NS_PER_S == self.boundary // NS_PER_S:
                self.second_bytes += line.size
            else:
                self.second_bytes = line.size
            if stamp == self.boundary:
                self.at_boundary += 1
            else:
                self.boundary, self.at_boundary, skip = stamp, 1, 0
        if fresh:
            self.resumed_at, self.extra = None, 0
        return fresh

    def since_seconds(self, resume_window: int) -> int | None:
        """`sinceSeconds` for a resumed pod without a line yet: counted by the server's
        clock (the worker's may differ), widened by the time since the resume so that a
        read after a quiet spell or a failure still starts at the same moment."""
        if self.boundary is not None or self.resumed_at is None:
            return None
        return max(1, int(resume_window + time.monotonic() - self.resumed_at) + 1)

    def cut_off_before_new_lines(self, partial: str) -> bool:
        """A read ended inside `partial`, the first line not delivered yet. Prepare the next
        read; False when it cannot get further (see `skip_second`)."""
        ts = parse_timestamp(partial.partition(" ")[0])
        if ts is not None and (self.boundary is None or ts // NS_PER_S > self.boundary // NS_PER_S):
            # It begins a later second: start there, no need to read this one again.
            self.boundary, self.at_boundary = ts, 0
            self.second_bytes = self.extra = 0
            return True
        if self.read_limit() >= MAX_READ_LIMIT_BYTES:
            return False
        self.extra = max(READ_LIMIT_BYTES, 2 * self.extra)
        return True

    def skip_second(self) -> int:
        """Give up on the rest of the boundary's second (more output than a read may hold);
        returns the first nanosecond read next."""
        second = (self.boundary or 0) // NS_PER_S + 1
        self.boundary, self.at_boundary = second * NS_PER_S, 0
        self.second_bytes = self.extra = 0
        return second * NS_PER_S


@dataclass
class ReleaseLog:
    """What one release's follower knows: its pods' cursors and the release's line count."""

    release_id: str
    deployment_id: str
    resume_since: float | None  # monotonic time of a resume, None: read pods from their start
    cursors: dict[str, PodCursor] = field(default_factory=dict)
    seq: int = 0
    failing: bool = False  # the last poll failed: log the next failure at debug level only

    def track(self, pods: list[Manifest]) -> None:
        """Forget pods that are gone, give new ones the lowest free replica index."""
        names = {_name(pod) for pod in pods}
        for gone in set(self.cursors) - names:
            del self.cursors[gone]
        new = sorted((p for p in pods if _name(p) not in self.cursors), key=_creation_order)
        for pod in new:
            used = {cursor.replica for cursor in self.cursors.values()}
            replica = next(i for i in range(len(self.cursors) + 1) if i not in used)
            self.cursors[_name(pod)] = PodCursor(
                replica, resumed_at=self.resume_since, restarts=_restarts(pod)
            )
        # Pods found after the first listing were created later: their whole log is new.
        self.resume_since = None


class PodLogFollower:
    """One polling task per followed release, all feeding the same `on_output` in order."""

    def __init__(
        self,
        kube: KubernetesClient,
        namespace: str,
        on_output: OnOutput,
        *,
        poll_interval: float = POLL_INTERVAL,
        resume_window: int = RESUME_WINDOW_S,
        lease: Lease | None = None,
    ) -> None:
        self._kube = kube
        # With several workers, each lists (and so follows) every release: the lease lets one
        # of them read a release's logs at a time, or every line would be written once each.
        self._lease = lease
        self._namespace = namespace
        self._on_output = on_output
        self._poll_interval = poll_interval
        self._resume_window = resume_window
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping: dict[str, asyncio.Event] = {}
        self._calls = asyncio.Semaphore(MAX_CONCURRENT_CALLS)
        # The sink expects one caller at a time, in order (DeployLogSink's contract).
        self._delivering = asyncio.Lock()

    def following(self) -> set[str]:
        return set(self._tasks)

    def follow(self, release_id: str, deployment_id: str | None, *, resume: bool) -> None:
        """Start following a release (no-op when already followed). `resume`: the release
        ran before this follower knew it, so start `resume_window` before now."""
        if release_id in self._tasks:
            return
        state = ReleaseLog(release_id, deployment_id or "", time.monotonic() if resume else None)
        stopping = asyncio.Event()
        self._stopping[release_id] = stopping
        self._tasks[release_id] = asyncio.create_task(
            self._run(state, stopping), name=f"pod-logs:{release_id}"
        )

    async def stop(self, release_id: str) -> None:
        """Read what the pods wrote since the last poll, then stop following the release."""
        task = self._tasks.pop(release_id, None)
        stopping = self._stopping.pop(release_id, None)
        if task is None or stopping is None:
            return
        stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("the last read of release %s's pod logs timed out", release_id)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def aclose(self) -> None:
        await asyncio.gather(*(self.stop(release_id) for release_id in list(self._tasks)))

    async def _run(self, state: ReleaseLog, stopping: asyncio.Event) -> None:
        key = f"pod-logs:{state.release_id}"
        held = True
        while not stopping.is_set():
            if self._lease is None or await self._lease.hold(key):
                if not held:
                    # Another worker followed it until now: take over from the resume window
                    # (lines of that window may arrive twice), not from where we stopped.
                    state = ReleaseLog(
                        state.release_id, state.deployment_id, time.monotonic(), seq=state.seq
                    )
                held = True
                await self._poll(state)
            else:
                held = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self._poll_interval)
        if held:
            await self._poll(state)  # the lines written since the previous poll
            if self._lease is not None:
                await self._lease.release(key)

    async def _poll(self, state: ReleaseLog) -> None:
        try:
            async with self._calls:
                pods = await self._kube.list(
                    "Pod",
                    self._namespace,
                    {MANAGED_BY_LABEL: "stratus", RELEASE_LABEL: state.release_id},
                )
            state.track(pods)
            for pod in pods:
                await self._poll_pod(state, pod)
        except Exception as exc:  # the cluster, or a bug: never into the rollout
            level = logging.DEBUG if state.failing else logging.WARNING
            log.log(level, "reading the pod logs of release %s failed: %s", state.release_id, exc)
            state.failing = True
            return
        state.failing = False

    async def _poll_pod(self, state: ReleaseLog, pod: Manifest) -> None:
        name = _name(pod)
        cursor = state.cursors[name]
        restarts = _restarts(pod)
        if restarts > cursor.restarts:
            # The instance that ended may have written lines after the last poll (often the
            # most useful ones: why it crashed). Only the last one is kept; asked once.
            cursor.restarts = restarts
            with _unless_pending_or_gone():
                await self._read(state, name, cursor, previous=True)
        with _unless_pending_or_gone():
            for _ in range(MAX_READS_PER_POLL):
                if not await self._read(state, name, cursor, previous=False):
                    break

    async def _read(
        self, state: ReleaseLog, pod: str, cursor: PodCursor, *, previous: bool
    ) -> bool:
        """Deliver one read's new lines; True when the read was cut off by the byte limit."""
        async with self._calls:
            text = await self._kube.read_pod_log(
                self._namespace,
                pod,
                container=CONTAINER,
                timestamps=True,
                since_time=cursor.since_time(),
                since_seconds=cursor.since_seconds(self._resume_window),
                previous=previous,
                limit_bytes=cursor.read_limit(),
            )
        cut_off = bool(text) and not text.endswith("\n")
        fresh = cursor.admit(split_lines(text))
        for ts, line in fresh:
            await self._deliver(state, cursor.replica, ts, line)
        partial = text.rpartition("\n")[2]
        if cut_off and not fresh and not cursor.cut_off_before_new_lines(partial):
            resumed = cursor.skip_second()
            notice = f"[pod {pod}: output skipped up to {to_datetime(resumed).isoformat()}: "
            notice += f"more than {MAX_READ_LIMIT_BYTES} bytes within one second]"
            await self._deliver(state, cursor.replica, resumed, notice, stream="system")
        return cut_off

    async def _deliver(
        self,
        state: ReleaseLog,
        replica: int,
        ts: int,
        text: str,
        stream: LogStreamName = "stdout",
    ) -> None:
        state.seq += 1
        line = LogLine(
            seq=state.seq,
            release_id=state.release_id,
            deployment_id=state.deployment_id,
            replica=replica,
            stream=stream,
            text=text,
            ts=to_datetime(ts),
        )
        async with self._delivering:
            try:
                await self._on_output(line)
            except Exception:  # a failing sink must not stop the following
                log.exception("delivering output of release %s failed", state.release_id)


@contextlib.contextmanager
def _unless_pending_or_gone() -> Iterator[None]:
    """Ignore 400 (the container has not started, or has no previous instance) and 404 (the
    pod went away since it was listed): both resolve themselves by the next poll."""
    try:
        yield
    except ApiException as exc:
        if exc.status not in (400, 404):
            raise


def _name(pod: Manifest) -> str:
    name: str = pod["metadata"]["name"]
    return name


def _creation_order(pod: Manifest) -> tuple[str, str]:
    return (str(pod["metadata"].get("creationTimestamp") or ""), _name(pod))


def _restarts(pod: Manifest) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return sum(int(s.get("restartCount") or 0) for s in statuses if s.get("name") == CONTAINER)
