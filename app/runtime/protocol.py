"""What the deployment code needs from a runtime: start, stop, probe and list releases.

Implemented by the local runtime (`app.runtime.local`, processes on this machine) and, later,
by the Kubernetes runtime. Everything here is plain data so that the rollout logic never sees
a process, a pod or a port allocator.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol

# Release ids become directory names and label values: keep them to a safe alphabet.
_RELEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
MAX_REPLICAS = 32

LogStreamName = Literal["stdout", "stderr", "system"]


class ReleaseStartError(Exception):
    """A release cannot be started at all (missing artifact, nothing to run)."""


class ProcessState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    CRASHED = "crashed"  # exited on its own; a restart is scheduled
    STOPPED = "stopped"


@dataclass(frozen=True, kw_only=True)
class ReleaseSpec:
    release_id: str
    deployment_id: str
    project: str  # project slug
    environment: str
    artifact_uri: str
    framework: str | None
    start_command: str | None
    # Already decrypted by the caller. repr=False: a spec in a log line must not leak them.
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    replicas: int = 1
    health_path: str = "/"

    def __post_init__(self) -> None:
        if not _RELEASE_ID.match(self.release_id):
            raise ValueError(f"invalid release id {self.release_id!r}")
        if not 1 <= self.replicas <= MAX_REPLICAS:
            raise ValueError(f"replicas must be between 1 and {MAX_REPLICAS}")
        if not self.health_path.startswith("/"):
            raise ValueError(f"health path must start with '/': {self.health_path!r}")


@dataclass(frozen=True)
class ReleaseHandle:
    release_id: str
    upstreams: tuple[str, ...]  # "host:port", one per replica, stable for the release's life
    # Releases this start evicted (a runtime with a per-environment limit, e.g. Kubernetes'
    # two colours): they no longer run, so the rollout stops offering them for rollback.
    replaced: tuple[str, ...] = ()

    @property
    def upstream(self) -> str:
        return self.upstreams[0]


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    status: int | None  # HTTP status, None when no response arrived
    latency_ms: float
    error: str | None = None


@dataclass(frozen=True)
class ReplicaState:
    index: int
    state: ProcessState
    pid: int | None
    upstream: str | None
    restarts: int = 0
    last_exit_code: int | None = None


@dataclass(frozen=True)
class ReleaseState:
    release_id: str
    deployment_id: str | None
    replicas: tuple[ReplicaState, ...]
    # False: found running but started by an earlier supervisor; reconcile() stops it.
    supervised: bool = True


@dataclass(frozen=True)
class ReconcileResult:
    stopped: tuple[str, ...]  # release ids whose processes were stopped
    to_start: tuple[str, ...]  # desired release ids this runtime is not running


@dataclass(frozen=True)
class LogLine:
    seq: int  # per release, increasing; the cursor for `logs(after=...)`
    release_id: str
    deployment_id: str
    replica: int
    stream: LogStreamName
    text: str
    ts: datetime


OnOutput = Callable[[LogLine], Awaitable[None]]


class Runtime(Protocol):
    async def start_release(self, spec: ReleaseSpec) -> ReleaseHandle:
        """Start every replica; idempotent for a release that is already running."""
        ...

    async def scale_release(
        self, release_id: str, replicas: int, *, drain_seconds: float
    ) -> ReleaseHandle:
        """Run exactly ``replicas`` (0..MAX_REPLICAS) replicas of a started release: start
        missing ones, stop the highest-numbered extra ones with a drain; returns the upstreams
        of the replicas that remain.

        Scaled to 0, the release stays known (listed with no replica, not reported as needing
        a start by `reconcile`) until `stop_release`. A release this runtime is not running
        raises LookupError (the local runtime: KeyError); a count outside 0..MAX_REPLICAS
        raises ValueError; replicas that cannot be started raise ReleaseStartError."""
        ...

    async def stop_release(self, release_id: str, *, drain_seconds: float) -> None:
        """Ask the release to stop, force it after ``drain_seconds``; unknown ids are a no-op."""
        ...

    async def health(
        self, release_id: str, path: str | None = None, timeout: float = 2.0
    ) -> HealthResult:
        """Probe every replica; ok only when all answer 2xx/3xx (path None: the spec's)."""
        ...

    async def list_releases(self) -> list[ReleaseState]:
        """Actual state, including leftovers of an earlier supervisor, for reconciliation."""
        ...

    async def reconcile(
        self, desired_release_ids: Collection[str], *, drain_seconds: float = 2.0
    ) -> ReconcileResult:
        """Stop what is running but not desired; say which desired releases need starting."""
        ...

    async def maintain(self) -> None:
        """Periodic upkeep, run by the worker's hourly `maintain_runtime` job (Kubernetes:
        renew artifact URLs past half their validity; the local runtime has none)."""
        ...

    async def aclose(self) -> None:
        """Release the runtime's resources (the local runtime stops its processes)."""
        ...


class RuntimeLogs(Protocol):
    """Optional: recent output of a release, for runtimes that keep it."""

    async def logs(self, release_id: str, *, after: int = 0, limit: int = 500) -> list[LogLine]: ...
