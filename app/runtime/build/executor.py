"""Run one build step: ``bash -c <command>`` with limits, a clean environment and live output.

The step gets only the environment it is given (plus PATH, HOME and LANG defaults), never
the worker's own: the worker holds database URLs and tokens that user code must not see.
It runs in its own session so that stopping it reaches every process it started.
"""

import asyncio
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from app.runtime.build.detect import Step
from app.runtime.build.limits import StepLimits, make_preexec, resource_message, user_kwargs
from app.runtime.build.lines import LineSplitter
from app.runtime.pipes import close_pipes

OnLine = Callable[[str, str], Awaitable[None]]
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
_CHUNK = 64 * 1024
_DRAIN_S = 5.0  # how long to wait for pipes after the process group is gone
_POLL_S = 0.02


class StepReason(StrEnum):
    OK = "OK"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    CANCELED = "CANCELED"
    OUTPUT_LIMIT = "OUTPUT_LIMIT"
    RESOURCE_LIMIT = "RESOURCE_LIMIT"


@dataclass(frozen=True)
class StepResult:
    exit_code: int | None
    reason: StepReason
    duration_s: float
    output_bytes: int
    message: str = ""


def step_env(env: dict[str, str], cwd: Path) -> dict[str, str]:
    """The complete environment of a step: defaults overridden by what the caller passed."""
    return {"PATH": DEFAULT_PATH, "HOME": str(cwd / ".stratus-home"), "LANG": "C.UTF-8", **env}


async def run_step(
    step: Step,
    *,
    cwd: Path,
    env: dict[str, str],
    limits: StepLimits,
    on_line: OnLine,
    cancel: asyncio.Event,
) -> StepResult:
    started = time.monotonic()
    full_env = step_env(env, cwd)
    _prepare_home(Path(full_env["HOME"]), limits)
    proc = await asyncio.create_subprocess_exec(
        shutil.which("bash", path=full_env["PATH"]) or "/bin/bash",
        "-c",
        step.command,
        cwd=cwd,
        env=full_env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        preexec_fn=make_preexec(limits),
        **user_kwargs(limits),
    )
    assert proc.stdout is not None and proc.stderr is not None
    output = _Output(limits, on_line)
    pumps = asyncio.gather(output.pump("stdout", proc.stdout), output.pump("stderr", proc.stderr))
    try:
        stopped = await _supervise(proc, cancel, output, limits)
    finally:
        # Also on our own cancellation: nothing the step started may outlive it.
        _signal_group(proc.pid, signal.SIGKILL)
        await close_pipes(proc, pumps, _DRAIN_S)
    if output.error is not None:
        raise output.error
    returncode = proc.returncode if proc.returncode is not None else -signal.SIGKILL
    return _result(returncode, stopped, limits, time.monotonic() - started, output.total)


class _Output:
    """Both pipes of one step: line splitting, the output budget and the callback."""

    def __init__(self, limits: StepLimits, on_line: OnLine) -> None:
        self._limits = limits
        self._on_line = on_line
        self.total = 0
        self.stop = asyncio.Event()  # set when the step must be stopped: budget or error
        self.error: BaseException | None = None

    async def pump(self, stream: str, reader: asyncio.StreamReader) -> None:
        splitter = LineSplitter(self._limits.max_line_bytes)
        while chunk := await reader.read(_CHUNK):
            budget = self._limits.max_output_bytes - self.total
            self.total += len(chunk)
            if self.stop.is_set():
                continue  # keep reading so the pipe never blocks a dying process
            lines = splitter.feed(chunk[: max(budget, 0)])
            if len(chunk) > budget:
                lines += splitter.flush()
                self.stop.set()
            await self._deliver(stream, lines)
        if not self.stop.is_set():
            await self._deliver(stream, splitter.flush())

    @property
    def over_budget(self) -> bool:
        return self.total > self._limits.max_output_bytes

    async def _deliver(self, stream: str, lines: list[str]) -> None:
        try:
            for line in lines:
                await self._on_line(stream, line)
        except Exception as exc:  # the log pipeline failed: stop the step, re-raise later
            self.error = self.error or exc
            self.stop.set()


async def _supervise(
    proc: asyncio.subprocess.Process, cancel: asyncio.Event, output: _Output, limits: StepLimits
) -> StepReason | None:
    """Wait for exit, cancel, output stop or timeout; returns why we stopped it, if we did."""
    exited = asyncio.ensure_future(_exited(proc))
    waits = [
        exited,
        asyncio.ensure_future(cancel.wait()),
        asyncio.ensure_future(output.stop.wait()),
    ]
    try:
        done, _ = await asyncio.wait(
            waits, timeout=limits.timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
    if exited in done:
        return StepReason.OUTPUT_LIMIT if output.over_budget else None
    if not done:
        reason = StepReason.TIMED_OUT
    elif output.stop.is_set():
        reason = StepReason.OUTPUT_LIMIT if output.over_budget else StepReason.FAILED
    else:
        reason = StepReason.CANCELED
    await _stop(proc, limits.kill_grace_s)
    return reason


async def _stop(proc: asyncio.subprocess.Process, grace_s: float) -> None:
    """SIGTERM the whole group, SIGKILL it after ``grace_s`` if the leader is still alive."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(_exited(proc), grace_s)
    except TimeoutError:
        _signal_group(proc.pid, signal.SIGKILL)
        await _exited(proc)


async def _exited(proc: asyncio.subprocess.Process) -> int:
    """Wait for the process itself to exit.

    Not ``proc.wait()``: before Python 3.12 it also waits until every pipe is closed, which
    a leftover grandchild can delay forever, and only exit tells us to clean those up.
    """
    while proc.returncode is None:  # noqa: ASYNC110 - asyncio has no exit-only event
        await asyncio.sleep(_POLL_S)
    return proc.returncode


def _result(
    returncode: int, stopped: StepReason | None, limits: StepLimits, duration: float, total: int
) -> StepResult:
    if stopped is not None:
        messages = {
            StepReason.TIMED_OUT: f"step exceeded its time limit of {limits.timeout_s:g}s",
            StepReason.CANCELED: "step canceled",
            StepReason.OUTPUT_LIMIT: f"step output exceeded {limits.max_output_bytes} bytes",
            StepReason.FAILED: "step stopped because its output could not be delivered",
        }
        return StepResult(returncode, stopped, duration, total, messages[stopped])
    if returncode == 0:
        return StepResult(0, StepReason.OK, duration, total)
    limit_message = resource_message(returncode, limits)
    if limit_message is not None:
        return StepResult(returncode, StepReason.RESOURCE_LIMIT, duration, total, limit_message)
    how = f"signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
    return StepResult(returncode, StepReason.FAILED, duration, total, f"command failed with {how}")


def _prepare_home(home: Path, limits: StepLimits) -> None:
    home.mkdir(parents=True, exist_ok=True)
    if limits.run_as is not None and os.geteuid() == 0:
        os.chown(home, *limits.run_as)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass
