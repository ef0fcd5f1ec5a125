"""LocalRuntime: releases as supervised processes on this machine, the `make up` default.

Layout under ``<state_dir>/releases/<release_id>/``: ``app/`` (the unpacked artifact, the
processes' working directory), ``home/`` (their HOME), ``run/replica-N.json`` (pid records
for a later supervisor) and ``logs/replica-N.log`` (rotating output).

A started release can be scaled (`scale_release`): new replicas run from the same unpacked
tree with the same environment; the highest-numbered ones are stopped first, so replica
indexes stay 0..n-1. Scaled to 0, a release stays known (listed with no replica, its output
open, not reported by `reconcile` as needing a start) until `stop_release`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tarfile
import tempfile
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from app.runtime.build.artifacts import ArtifactStore
from app.runtime.local import procs
from app.runtime.local.launch import launch
from app.runtime.local.net import free_port, probe
from app.runtime.local.output import Delivery, ReleaseOutput
from app.runtime.local.replica import Backoff, Replica
from app.runtime.protocol import (
    MAX_REPLICAS,
    HealthResult,
    LogLine,
    OnOutput,
    ProcessState,
    ReconcileResult,
    ReleaseHandle,
    ReleaseSpec,
    ReleaseStartError,
    ReleaseState,
    ReplicaState,
)

log = logging.getLogger(__name__)

MiB = 1024 * 1024


@dataclass
class _Release:
    spec: ReleaseSpec
    replicas: list[Replica]  # replica i at index i: scaling adds and removes at the end
    output: ReleaseOutput
    app_dir: Path
    home: Path

    def handle(self) -> ReleaseHandle:
        return ReleaseHandle(self.spec.release_id, tuple(r.upstream for r in self.replicas))

    def state(self) -> ReleaseState:
        replicas = tuple(r.snapshot() for r in self.replicas)
        return ReleaseState(self.spec.release_id, self.spec.deployment_id, replicas)


class LocalRuntime:
    def __init__(
        self,
        state_dir: Path,
        artifacts: ArtifactStore,
        *,
        on_output: OnOutput | None = None,
        backoff: Backoff | None = None,
        max_log_bytes: int = 10 * MiB,
        shutdown_drain_seconds: float = 5.0,
    ) -> None:
        self._releases_dir = state_dir / "releases"
        self._artifacts = artifacts
        self._delivery = Delivery(on_output)
        self._backoff = backoff or Backoff()
        self._max_log_bytes = max_log_bytes
        self._shutdown_drain_s = shutdown_drain_seconds
        self._running: dict[str, _Release] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def start_release(self, spec: ReleaseSpec) -> ReleaseHandle:
        async with self._locks[spec.release_id]:
            running = self._running.get(spec.release_id)
            if running is not None:
                return running.handle()  # a job may run twice: starting again is a no-op
            # An earlier supervisor's copy of this very release would hold it twice.
            await self._stop_leftovers(spec.release_id, self._shutdown_drain_s)
            base = self._releases_dir / spec.release_id
            app_dir = await self._unpack(spec, base)
            home = base / "home"
            output = ReleaseOutput(
                spec.release_id,
                spec.deployment_id,
                base / "logs",
                self._delivery,
                max_file_bytes=self._max_log_bytes,
            )
            release = _Release(spec, [], output, app_dir, home)
            try:
                new = self._add_replicas(release, spec.replicas)
            except BaseException:
                output.close()
                raise
            self._running[spec.release_id] = release
            for replica in new:
                replica.start()
            return release.handle()

    async def scale_release(
        self, release_id: str, replicas: int, *, drain_seconds: float
    ) -> ReleaseHandle:
        """Run exactly ``replicas`` replicas of a started release (see the module docstring).

        Raises KeyError (a LookupError, like the other runtimes) for a release this runtime
        is not running (never started, stopped, or a leftover of an earlier supervisor), and
        ValueError for a count outside 0..MAX_REPLICAS.
        """
        if not 0 <= replicas <= MAX_REPLICAS:
            raise ValueError(f"replicas must be between 0 and {MAX_REPLICAS}, got {replicas}")
        async with self._locks[release_id]:
            release = self._running.get(release_id)
            if release is None:
                raise KeyError(f"release {release_id} is not running: cannot scale it")
            if replicas > len(release.replicas):
                for replica in self._add_replicas(release, replicas - len(release.replicas)):
                    replica.start()
            elif replicas < len(release.replicas):
                # Out of the handle (and of health checks) first, then drained.
                extra = release.replicas[replicas:]
                del release.replicas[replicas:]
                await asyncio.gather(*(r.stop(drain_seconds) for r in extra))
            return release.handle()

    def _add_replicas(self, release: _Release, count: int) -> list[Replica]:
        """Create (not start) ``count`` more replicas of a release, on ports of their own."""
        spec = release.spec
        run_dir = self._releases_dir / spec.release_id / "run"
        taken = {r.port for rel in self._running.values() for r in rel.replicas}
        taken.update(r.port for r in release.replicas)
        new = []
        for index in range(len(release.replicas), len(release.replicas) + count):
            port = free_port(taken)
            taken.add(port)
            new.append(
                Replica(
                    deployment_id=spec.deployment_id,
                    index=index,
                    port=port,
                    launch=launch(spec, release.app_dir, release.home, port),
                    run_dir=run_dir,
                    output=release.output,
                    backoff=self._backoff,
                )
            )
        release.replicas.extend(new)
        return new

    async def stop_release(self, release_id: str, *, drain_seconds: float) -> None:
        async with self._locks[release_id]:
            release = self._running.pop(release_id, None)
            if release is None:
                await self._stop_leftovers(release_id, drain_seconds)
                return
            await asyncio.gather(*(r.stop(drain_seconds) for r in release.replicas))
            release.output.close()

    async def health(
        self, release_id: str, path: str | None = None, timeout: float = 2.0
    ) -> HealthResult:
        release = self._running.get(release_id)
        if release is None:
            return HealthResult(False, None, 0.0, "release is not running")
        if not release.replicas:
            return HealthResult(False, None, 0.0, "release is scaled to 0 replicas")
        target = path or release.spec.health_path
        results = await asyncio.gather(
            *(probe(r.upstream, target, timeout) for r in release.replicas)
        )
        for replica, result in zip(release.replicas, results, strict=True):
            if not result.ok:
                error = f"replica {replica.index}: {result.error}"
                return HealthResult(False, result.status, result.latency_ms, error)
        return max(results, key=lambda result: result.latency_ms)

    async def list_releases(self) -> list[ReleaseState]:
        states = [release.state() for release in self._running.values()]
        return states + await asyncio.to_thread(self._leftover_states)

    async def reconcile(
        self, desired_release_ids: Collection[str], *, drain_seconds: float = 2.0
    ) -> ReconcileResult:
        """Stop undesired releases and every leftover of an earlier supervisor.

        Leftovers of desired releases are stopped too: they are nobody's children, so they
        cannot be restarted on a crash and their output has nowhere to go. They come back
        in ``to_start`` with every other desired release this runtime is not running.
        """
        desired = set(desired_release_ids)
        undesired = [rid for rid in self._running if rid not in desired]
        await asyncio.gather(
            *(self.stop_release(r, drain_seconds=drain_seconds) for r in undesired)
        )
        others = [rid for rid in await asyncio.to_thread(self._on_disk) if rid not in self._running]
        found = await asyncio.gather(*(self._stop_leftovers(r, drain_seconds) for r in others))
        stopped = undesired + [rid for rid, any_ in zip(others, found, strict=True) if any_]
        to_start = sorted(rid for rid in desired if rid not in self._running)
        return ReconcileResult(tuple(stopped), tuple(to_start))

    async def logs(self, release_id: str, *, after: int = 0, limit: int = 500) -> list[LogLine]:
        release = self._running.get(release_id)
        return release.output.tail(after, limit) if release is not None else []

    async def maintain(self) -> None:
        """Nothing to renew: processes and artifacts are on this machine."""

    async def aclose(self) -> None:
        """Stop everything: our processes must not outlive the supervisor."""
        ids = list(self._running)
        drain = self._shutdown_drain_s
        await asyncio.gather(*(self.stop_release(rid, drain_seconds=drain) for rid in ids))
        await self._delivery.aclose()

    async def _unpack(self, spec: ReleaseSpec, base: Path) -> Path:
        """The artifact unpacked once per release; a half-unpacked tree is never used."""
        app_dir = base / "app"
        tmp = await asyncio.to_thread(_prepare_dirs, base, app_dir)
        if tmp is None:
            return app_dir
        try:
            await self._artifacts.extract(spec.artifact_uri, tmp)
            await asyncio.to_thread(_publish, tmp, app_dir)
        except (OSError, ValueError, tarfile.TarError) as exc:
            raise ReleaseStartError(f"cannot unpack {spec.artifact_uri}: {exc}") from exc
        finally:
            await asyncio.to_thread(shutil.rmtree, tmp, True)  # gone already on success
        return app_dir

    async def _stop_leftovers(self, release_id: str, drain_s: float) -> bool:
        """Stop what an earlier supervisor left of a release; True if anything ran."""
        stopped = False
        for path, record in await asyncio.to_thread(self._records, release_id):
            if record.same_boot():
                pids = await procs.terminate_marked(record.marker, drain_s)
                if pids:
                    log.warning("stopped leftover processes %s of release %s", pids, release_id)
                    stopped = True
            path.unlink(missing_ok=True)
        return stopped

    def _records(self, release_id: str) -> list[tuple[Path, procs.PidRecord]]:
        """Pid records of a release, except those of another supervisor still alive."""
        run_dir = self._releases_dir / release_id / "run"
        records = []
        for path in sorted(run_dir.glob("replica-*.json")):
            record = procs.PidRecord.read(path)
            if record is None:
                path.unlink(missing_ok=True)
                continue
            # Two workers on one state dir must not stop each other's releases.
            if record.supervisor_pid != os.getpid() and record.supervisor_running():
                continue
            records.append((path, record))
        return records

    def _on_disk(self) -> list[str]:
        if not self._releases_dir.is_dir():
            return []
        return sorted(p.name for p in self._releases_dir.iterdir() if (p / "run").is_dir())

    def _leftover_states(self) -> list[ReleaseState]:
        marked = procs.marked_processes()
        states = []
        for release_id in self._on_disk():
            if release_id in self._running:
                continue
            records = [record for _, record in self._records(release_id)]
            replicas = tuple(
                ReplicaState(
                    index=record.index,
                    state=ProcessState.RUNNING,
                    pid=record.pid if record.leader_running() else pids[0],
                    upstream=f"127.0.0.1:{record.port}",
                )
                for record in records
                if (pids := marked.get(record.marker))
            )
            if replicas:
                deployment_id = records[0].deployment_id
                states.append(ReleaseState(release_id, deployment_id, replicas, supervised=False))
        return states


def _prepare_dirs(base: Path, app_dir: Path) -> Path | None:
    """Create the release's directories; a fresh temp dir to unpack into, None if done."""
    (base / "home").mkdir(parents=True, exist_ok=True)
    if app_dir.is_dir():
        return None
    for stale in base.glob(".app-*"):  # from a supervisor that died mid-extract
        shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=".app-", dir=base))


def _publish(tmp: Path, app_dir: Path) -> None:
    tmp.chmod(0o755)  # mkdtemp makes it 0700
    tmp.rename(app_dir)  # atomic: the tree appears complete or not at all
