"""Where the output of release processes goes: a ring buffer, rotating files, the callback.

An app must never stall because our log pipeline is slow: a blocked pipe would block its
writes to stdout and so its requests. Lines therefore go to the callback through a bounded
queue, and are counted and dropped when it is full; the files and the ring buffer always
get them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from app.runtime.protocol import LogLine, LogStreamName, OnOutput

log = logging.getLogger(__name__)

MiB = 1024 * 1024


class RotatingFile:
    """Append-only text file that keeps at most ``max_bytes`` plus one rotated copy."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: TextIO = path.open("a", encoding="utf-8", errors="replace")
        self._size = path.stat().st_size

    def write(self, text: str) -> None:
        if self._size + len(text) > self.max_bytes and self._size > 0:
            self._handle.close()
            self.path.replace(self.path.with_name(self.path.name + ".1"))
            self._handle = self.path.open("a", encoding="utf-8", errors="replace")
            self._size = 0
        self._handle.write(text)
        self._size += len(text)

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


class Delivery:
    """One task per runtime feeding lines to the callback, in order, never blocking producers."""

    def __init__(self, on_output: OnOutput | None, max_pending: int = 10_000) -> None:
        self._on_output = on_output
        self._max_pending = max_pending
        # Unbounded on purpose: the bound is checked in put(), so that the notice about
        # dropped lines always finds room, in order, before the next line that got through.
        self._queue: asyncio.Queue[LogLine] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def put(self, line: LogLine) -> None:
        if self._on_output is None:
            return
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        if self._queue.qsize() >= self._max_pending:
            self.dropped += 1
            return
        if self.dropped:
            notice = f"[{self.dropped} lines not delivered: the log pipeline was too slow]"
            self._queue.put_nowait(replace(line, stream="system", text=notice))
            self.dropped = 0
        self._queue.put_nowait(line)

    async def _run(self) -> None:
        while True:
            line = await self._queue.get()
            await self._send(line)
            self._queue.task_done()

    async def _send(self, line: LogLine) -> None:
        assert self._on_output is not None
        try:
            await self._on_output(line)
        except Exception:  # a failing log sink must not take the apps down with it
            log.exception("delivering output of release %s failed", line.release_id)

    async def aclose(self, timeout: float = 2.0) -> None:
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except TimeoutError:
            log.warning("gave up delivering %d output lines", self._queue.qsize())
        if self.dropped:
            log.warning("%d output lines were dropped before shutdown", self.dropped)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None


class ReleaseOutput:
    """All output of one release: numbered lines, one log file per replica, recent lines kept."""

    def __init__(
        self,
        release_id: str,
        deployment_id: str,
        log_dir: Path,
        delivery: Delivery,
        *,
        max_file_bytes: int = 10 * MiB,
        keep_lines: int = 2000,
    ) -> None:
        self.release_id = release_id
        self.deployment_id = deployment_id
        self._log_dir = log_dir
        self._delivery = delivery
        self._max_file_bytes = max_file_bytes
        self._files: dict[int, RotatingFile] = {}
        self._recent: deque[LogLine] = deque(maxlen=keep_lines)
        self._seq = 0

    def line(self, replica: int, stream: LogStreamName, text: str) -> None:
        self._seq += 1
        item = LogLine(
            seq=self._seq,
            release_id=self.release_id,
            deployment_id=self.deployment_id,
            replica=replica,
            stream=stream,
            text=text,
            ts=datetime.now(UTC),
        )
        self._recent.append(item)
        self._file(replica).write(f"{item.ts.isoformat()} {stream} {text}\n")
        self._delivery.put(item)

    def flush(self) -> None:
        for handle in self._files.values():
            handle.flush()

    def tail(self, after: int, limit: int) -> list[LogLine]:
        return [item for item in self._recent if item.seq > after][:limit]

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def _file(self, replica: int) -> RotatingFile:
        handle = self._files.get(replica)
        if handle is None:
            path = self._log_dir / f"replica-{replica}.log"
            handle = self._files[replica] = RotatingFile(path, self._max_file_bytes)
        return handle
