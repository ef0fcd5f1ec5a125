"""RuntimeSet: one `Runtime` for the rollouts, dispatching to the runtime of each environment.

Environments listed in `kubernetes_environments` run on Kubernetes when a kubeconfig is set;
every other environment runs on the local runtime. Releases are started by environment and
addressed afterwards by release id only, so the set remembers which runtime holds which
release; after a restart it rebuilds that map from each runtime's `list_releases` (both
runtimes derive their list from what actually runs, not from memory).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import TYPE_CHECKING

from app.runtime.protocol import (
    HealthResult,
    ReconcileResult,
    ReleaseHandle,
    ReleaseSpec,
    ReleaseState,
    Runtime,
)
from app.settings import Settings

if TYPE_CHECKING:
    # Typing only: the official client is a heavy import, paid only where a cluster is used.
    from app.runtime.kubernetes.runtime import KubernetesRuntime


def runs_on_kubernetes(settings: Settings, environment: str) -> bool:
    """Whether releases of environments named `environment` run on the cluster."""
    return bool(settings.kubeconfig) and environment in settings.kubernetes_environments


class RuntimeSet:
    """Implements `Runtime` over a local runtime and an optional Kubernetes runtime."""

    def __init__(
        self, settings: Settings, local: Runtime, kubernetes: KubernetesRuntime | None = None
    ) -> None:
        if kubernetes is None and settings.kubeconfig and settings.kubernetes_environments:
            # Silently deploying "production" locally instead would be the worse surprise.
            raise ValueError("STRATUS_KUBECONFIG is set but no Kubernetes runtime was given")
        self._settings = settings
        self.local = local
        self.kubernetes = kubernetes
        self._owner: dict[str, Runtime] = {}

    @property
    def runtimes(self) -> list[Runtime]:
        return [self.local] + ([self.kubernetes] if self.kubernetes is not None else [])

    def runtime_for(self, environment: str) -> Runtime:
        if self.kubernetes is not None and runs_on_kubernetes(self._settings, environment):
            return self.kubernetes
        return self.local

    async def start_release(self, spec: ReleaseSpec) -> ReleaseHandle:
        runtime = self.runtime_for(spec.environment)
        # Recorded before starting: a failed start is stopped by release id afterwards.
        self._owner[spec.release_id] = runtime
        return await runtime.start_release(spec)

    async def scale_release(
        self, release_id: str, replicas: int, *, drain_seconds: float
    ) -> ReleaseHandle:
        runtime = await self._owner_of(release_id)
        if runtime is None:
            raise LookupError(f"release {release_id} is not running on any runtime")
        return await runtime.scale_release(release_id, replicas, drain_seconds=drain_seconds)

    async def stop_release(self, release_id: str, *, drain_seconds: float) -> None:
        runtime = await self._owner_of(release_id)
        # Unknown to both: stopping is a no-op for each, and asking both also reaches an
        # earlier supervisor's leftovers that only the local runtime's stop knows about.
        targets = [runtime] if runtime is not None else self.runtimes
        for target in targets:
            await target.stop_release(release_id, drain_seconds=drain_seconds)
        self._owner.pop(release_id, None)

    async def health(
        self, release_id: str, path: str | None = None, timeout: float = 2.0
    ) -> HealthResult:
        runtime = await self._owner_of(release_id)
        if runtime is None:
            return HealthResult(False, None, 0.0, "release is not running")
        return await runtime.health(release_id, path, timeout)

    async def list_releases(self) -> list[ReleaseState]:
        lists = await asyncio.gather(*(r.list_releases() for r in self.runtimes))
        merged: list[ReleaseState] = []
        for runtime, states in zip(self.runtimes, lists, strict=True):
            for state in states:
                self._owner[state.release_id] = runtime
            merged.extend(states)
        return merged

    async def reconcile(
        self, desired_release_ids: Collection[str], *, drain_seconds: float = 2.0
    ) -> ReconcileResult:
        # Each runtime stops what it runs and nobody wants; a release runs on one runtime
        # only, so "to start" is what no runtime runs.
        results = [
            await r.reconcile(desired_release_ids, drain_seconds=drain_seconds)
            for r in self.runtimes
        ]
        stopped = tuple(s for result in results for s in result.stopped)
        for release_id in stopped:
            self._owner.pop(release_id, None)
        running = {s.release_id for s in await self.list_releases()}
        to_start = tuple(sorted(set(desired_release_ids) - running))
        return ReconcileResult(stopped, to_start)

    async def maintain(self) -> None:
        for runtime in self.runtimes:
            await runtime.maintain()

    async def aclose(self) -> None:
        for runtime in self.runtimes:
            await runtime.aclose()

    async def _owner_of(self, release_id: str) -> Runtime | None:
        if release_id not in self._owner:
            await self.list_releases()  # a restart forgot the map: ask what runs where
        return self._owner.get(release_id)
