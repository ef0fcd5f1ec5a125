"""Helpers shared by the local runtime tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from app.runtime.local import Backoff, LocalRuntime
from app.runtime.protocol import LogLine

FAST = Backoff(initial_s=0.1, max_s=0.8, reset_after_s=60.0)


class Collected:
    """Everything the runtime handed to its output callback."""

    def __init__(self) -> None:
        self.lines: list[LogLine] = []

    async def __call__(self, line: LogLine) -> None:
        self.lines.append(line)

    def texts(self, release_id: str, stream: str | None = None) -> list[str]:
        return [
            line.text
            for line in self.lines
            if line.release_id == release_id and (stream is None or line.stream == stream)
        ]


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 10.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.05)


async def wait_healthy(rt: LocalRuntime, release_id: str, timeout: float = 10.0) -> None:
    async def ok() -> bool:
        return (await rt.health(release_id, timeout=1.0)).ok

    await eventually(ok, timeout, f"{release_id} healthy")
