"""Process plumbing for the local runtime: parent-death signal, identity, leftovers.

Every replica process carries an environment marker unique to that one start
(``STRATUS_INSTANCE_ID=<release>.<replica>.<nonce>``). It is inherited by everything the
process starts, survives exec and process-title changes, and cannot match a recycled pid,
so finding "what this replica left behind" is a scan of ``/proc/*/environ`` for it. A
command-line check would fail as soon as ``bash -c`` execs the app or the app renames itself.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PROC = Path("/proc")
MARKER_VAR = "STRATUS_INSTANCE_ID"
_PR_SET_PDEATHSIG = 1
_POLL_S = 0.05


def parent_death_preexec() -> Callable[[], None] | None:
    """A preexec_fn asking the kernel to SIGTERM the child when its parent dies (Linux only).

    The death signal is tied to the thread that forks, so processes must be spawned from
    the event loop's (long-lived) thread. It is not inherited across fork: grandchildren
    are found later by their marker instead. Call it per spawn: it records our pid.
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        # The parent may have died between fork and prctl: then no signal will ever come.
        if os.getppid() != parent:
            os._exit(1)

    return preexec


@functools.cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return function


def marker(release_id: str, index: int) -> str:
    return f"{release_id}.{index}.{os.urandom(6).hex()}"


def boot_id() -> str:
    try:
        return (PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks since boot: (pid, ticks) never repeats."""
    stat = _stat_fields(pid)
    return int(stat[19]) if stat is not None else None


def alive(pid: int) -> bool:
    stat = _stat_fields(pid)
    if stat is None:
        return False
    return stat[0] not in ("Z", "X")  # a zombie no longer runs anything


def marked_pids(value: str) -> list[int]:
    """Live processes whose environment holds ``STRATUS_INSTANCE_ID=<value>``."""
    return marked_processes().get(value, [])


def marked_processes() -> dict[str, list[int]]:
    """Marker value -> live pids carrying it, from one pass over /proc."""
    prefix = f"{MARKER_VAR}=".encode()
    found: dict[str, list[int]] = {}
    for pid in _pids():
        try:
            environ = (PROC / str(pid) / "environ").read_bytes()
        except OSError:  # gone, or another user's process: not ours either way
            continue
        for entry in environ.split(b"\0"):
            if entry.startswith(prefix):
                if alive(pid):
                    value = entry[len(prefix) :].decode(errors="replace")
                    found.setdefault(value, []).append(pid)
                break
    return found


def signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def signal_pids(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


async def terminate_marked(value: str, drain_s: float) -> list[int]:
    """SIGTERM every process carrying the marker, SIGKILL what is left after ``drain_s``."""
    pids = await asyncio.to_thread(marked_pids, value)
    if not pids:
        return []
    signal_pids(pids, signal.SIGTERM)
    deadline = asyncio.get_running_loop().time() + drain_s
    while any(alive(pid) for pid in pids):
        if asyncio.get_running_loop().time() >= deadline:
            # Processes started meanwhile carry the marker too: look again, then kill.
            signal_pids(await asyncio.to_thread(marked_pids, value), signal.SIGKILL)
            break
        await asyncio.sleep(_POLL_S)
    return pids


@dataclass(frozen=True)
class PidRecord:
    """What a supervisor writes per running replica so that its successor can clean up."""

    release_id: str
    deployment_id: str
    index: int
    pid: int
    start_ticks: int | None
    boot_id: str
    marker: str
    port: int
    supervisor_pid: int
    supervisor_ticks: int | None

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(path)  # a crash mid-write must not leave a half record behind

    @classmethod
    def read(cls, path: Path) -> PidRecord | None:
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return None

    def same_boot(self) -> bool:
        return self.boot_id == boot_id()

    def leader_running(self) -> bool:
        """The recorded pid is still the process we started (not a recycled pid)."""
        same = self.same_boot() and start_ticks(self.pid) == self.start_ticks
        return same and alive(self.pid)

    def supervisor_running(self) -> bool:
        """The supervisor that wrote this record is still alive (and not a recycled pid)."""
        ticks = start_ticks(self.supervisor_pid)
        same = self.same_boot() and ticks is not None and ticks == self.supervisor_ticks
        return same and alive(self.supervisor_pid)


def _pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir(PROC) if name.isdigit()]
    except OSError:
        return []


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (which may contain spaces)."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()
