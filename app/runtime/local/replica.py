"""One replica of a release: a process started, watched, restarted with backoff, drained.

Each start runs in its own session (so one signal reaches everything it started), asks the
kernel for SIGTERM if the supervisor dies, and carries a fresh marker in its environment
(see `procs`) that is also written to a pid file for a later supervisor to clean up after.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from subprocess import SubprocessError

from app.runtime.build.lines import LineSplitter
from app.runtime.local import procs
from app.runtime.local.output import ReleaseOutput
from app.runtime.pipes import close_pipes
from app.runtime.protocol import LogStreamName, ProcessState, ReplicaState

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024
_MAX_LINE = 16 * 1024
_POLL_S = 0.05
_PIPE_GRACE_S = 2.0


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 0.5
    max_s: float = 30.0
    # A run at least this long counts as healthy: the next crash starts from initial_s again.
    reset_after_s: float = 60.0


@dataclass(frozen=True)
class Launch:
    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]  # the complete environment; the marker is added per start


class Replica:
    def __init__(
        self,
        *,
        deployment_id: str,
        index: int,
        port: int,
        launch: Launch,
        run_dir: Path,
        output: ReleaseOutput,
        backoff: Backoff,
    ) -> None:
        self.index = index
        self.port = port
        self.state = ProcessState.STARTING
        self.pid: int | None = None
        self.restarts = 0
        self.last_exit_code: int | None = None
        self._deployment_id = deployment_id
        self._launch = launch
        self._pid_file = run_dir / f"replica-{index}.json"
        self._output = output
        self._backoff = backoff
        self._stopping = asyncio.Event()
        self._drain_s = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def upstream(self) -> str:
        return f"127.0.0.1:{self.port}"

    def snapshot(self) -> ReplicaState:
        return ReplicaState(
            index=self.index,
            state=self.state,
            pid=self.pid,
            upstream=self.upstream,
            restarts=self.restarts,
            last_exit_code=self.last_exit_code,
        )

    def start(self) -> None:
        name = f"replica {self._output.release_id}.{self.index}"
        self._task = asyncio.get_running_loop().create_task(self._supervise(), name=name)

    async def stop(self, drain_s: float) -> None:
        """SIGTERM, up to ``drain_s`` to exit, then SIGKILL; no restart after this."""
        self._drain_s = max(drain_s, 0.0)
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)  # logged by the task

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self._backoff.initial_s
        try:
            while not self._stopping.is_set():
                self.state = ProcessState.STARTING
                started = loop.time()
                code = await self._run_once()
                self.last_exit_code = code
                if self._stopping.is_set():
                    break
                if loop.time() - started >= self._backoff.reset_after_s:
                    delay = self._backoff.initial_s
                self.state = ProcessState.CRASHED
                self._system(f"process {_describe(code)}; restarting in {delay:g}s")
                if await _event_within(self._stopping, delay):
                    break
                self.restarts += 1
                delay = min(delay * 2, self._backoff.max_s)
        except Exception:
            # A bug here must not leave a replica that silently never restarts.
            log.exception("supervisor of %s.%d failed", self._output.release_id, self.index)
            self._system("supervisor failed; the replica is stopped")
        finally:
            self.state = ProcessState.STOPPED

    async def _run_once(self) -> int | None:
        mark = procs.marker(self._output.release_id, self.index)
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._launch.argv,
                cwd=self._launch.cwd,
                env={**self._launch.env, procs.MARKER_VAR: mark},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                preexec_fn=procs.parent_death_preexec(),
            )
        except (OSError, SubprocessError) as exc:
            self._system(f"could not start the process: {exc}")
            return None
        assert proc.stdout is not None and proc.stderr is not None
        self.pid, self.state = proc.pid, ProcessState.RUNNING
        pumps = asyncio.gather(
            self._pump(proc.stdout, "stdout"),
            self._pump(proc.stderr, "stderr"),
            return_exceptions=True,
        )
        try:
            self._record(proc.pid, mark).write(self._pid_file)
            self._system(f"started pid {proc.pid} on port {self.port}")
            return await self._wait_or_stop(proc)
        finally:
            self.state = ProcessState.STOPPED if self._stopping.is_set() else ProcessState.CRASHED
            # Also when we are cancelled. Whatever the leader started goes with it: a
            # straggler would keep the port, and nobody would ever stop it.
            procs.signal_group(proc.pid, signal.SIGKILL)
            await procs.terminate_marked(mark, 0.0)
            await close_pipes(proc, pumps, _PIPE_GRACE_S)
            self._pid_file.unlink(missing_ok=True)
            self._output.flush()
            self.pid = None

    async def _wait_or_stop(self, proc: asyncio.subprocess.Process) -> int:
        exited = asyncio.ensure_future(_exited(proc))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not exited.done():
                self._system(f"stopping pid {proc.pid} (drain {self._drain_s:g}s)")
                procs.signal_group(proc.pid, signal.SIGTERM)
                try:
                    await asyncio.wait_for(asyncio.shield(exited), self._drain_s)
                except TimeoutError:
                    self._system(f"pid {proc.pid} still running after the drain: killing it")
                    procs.signal_group(proc.pid, signal.SIGKILL)
            return await exited
        finally:
            for future in (exited, stopping):
                future.cancel()

    async def _pump(self, reader: asyncio.StreamReader, stream: LogStreamName) -> None:
        splitter = LineSplitter(_MAX_LINE)
        while chunk := await reader.read(_CHUNK):
            for text in splitter.feed(chunk):
                self._output.line(self.index, stream, text)
            self._output.flush()
        for text in splitter.flush():
            self._output.line(self.index, stream, text)

    def _record(self, pid: int, mark: str) -> procs.PidRecord:
        return procs.PidRecord(
            release_id=self._output.release_id,
            deployment_id=self._deployment_id,
            index=self.index,
            pid=pid,
            start_ticks=procs.start_ticks(pid),
            boot_id=procs.boot_id(),
            marker=mark,
            port=self.port,
            supervisor_pid=os.getpid(),
            supervisor_ticks=procs.start_ticks(os.getpid()),
        )

    def _system(self, text: str) -> None:
        self._output.line(self.index, "system", text)


async def _exited(proc: asyncio.subprocess.Process) -> int:
    # Not proc.wait(): on 3.11 it can also wait for pipes that a straggler keeps open.
    while proc.returncode is None:  # noqa: ASYNC110 - asyncio has no exit-only event
        await asyncio.sleep(_POLL_S)
    return proc.returncode


async def _event_within(event: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return False
    return True


def _describe(code: int | None) -> str:
    if code is None:
        return "could not be started"
    if code < 0:
        return f"was killed by signal {-code}"
    return f"exited with code {code}"
