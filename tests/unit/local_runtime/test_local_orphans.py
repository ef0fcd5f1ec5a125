"""No process outlives its supervisor, and a new supervisor cleans up what an old one left.

The supervisor runs in a child Python process that the test kills with SIGKILL: no cleanup
code of ours runs, only the kernel's parent-death signal and the next reconcile.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from runtime_support import eventually, wait_healthy

from app.runtime.build.artifacts import FilesystemArtifactStore
from app.runtime.local import LocalRuntime
from app.runtime.local.net import probe
from app.runtime.local.procs import PidRecord, alive, marked_pids, terminate_marked
from tests.support.release_apps import SUPERVISOR_PY, app_artifact, app_command, spec

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


@dataclasses.dataclass
class Supervisor:
    proc: asyncio.subprocess.Process
    pids: dict[str, list[int]]
    state_dir: Path

    def records(self, release_id: str) -> list[PidRecord]:
        run = self.state_dir / "releases" / release_id / "run"
        return [r for p in sorted(run.glob("replica-*.json")) if (r := PidRecord.read(p))]

    async def serving(self) -> None:
        for release_id in self.pids:
            for record in self.records(release_id):
                upstream = f"127.0.0.1:{record.port}"

                async def ok(upstream: str = upstream) -> bool:
                    return (await probe(upstream, "/", 1.0)).ok

                await eventually(ok, 10, f"{release_id} serving")

    async def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        await self.proc.wait()


@pytest.fixture()
async def supervisors(tmp_path: Path) -> AsyncIterator[list[Supervisor]]:
    started: list[Supervisor] = []
    yield started
    for supervisor in started:  # a failed test must not leave anything behind either
        if supervisor.proc.returncode is None:
            await supervisor.kill()
        for release_id in supervisor.pids:
            for record in supervisor.records(release_id):
                await terminate_marked(record.marker, 0.0)


async def start_supervisor(
    started: list[Supervisor], state_dir: Path, store: FilesystemArtifactStore, specs: list[Any]
) -> Supervisor:
    payload = json.dumps([dataclasses.asdict(s) for s in specs])
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SUPERVISOR_PY,
        str(state_dir),
        str(store.root),
        payload,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    supervisor = Supervisor(proc, json.loads(line), state_dir)
    started.append(supervisor)
    await supervisor.serving()
    return supervisor


async def test_sigkilled_supervisor_leaves_no_app_process(
    tmp_path: Path, store: FilesystemArtifactStore, supervisors: list[Supervisor]
) -> None:
    uri = await app_artifact(store)
    release = spec("pdeath1", uri, start_command=app_command(), replicas=2)
    supervisor = await start_supervisor(supervisors, tmp_path / "state", store, [release])
    app_pids = supervisor.pids["pdeath1"]
    markers = [record.marker for record in supervisor.records("pdeath1")]
    assert len(app_pids) == 2 and all(alive(pid) for pid in app_pids)

    await supervisor.kill()

    async def all_gone() -> bool:
        return not any(alive(pid) for pid in app_pids)

    await eventually(all_gone, 5, "apps gone after the supervisor's SIGKILL")
    assert all(marked_pids(marker) == [] for marker in markers)


async def test_reconcile_stops_leftovers_of_a_dead_supervisor_and_keeps_desired(
    tmp_path: Path,
    store: FilesystemArtifactStore,
    runtime: LocalRuntime,
    supervisors: list[Supervisor],
) -> None:
    uri = await app_artifact(store)
    # "wrapped": bash stays the parent, so the app is a grandchild that the parent-death
    # signal does not reach; only reconcile can find it.
    old = spec("old1", uri, start_command=app_command("old", wrapped=True))
    back = spec("back1", uri, start_command=app_command("back", wrapped=True))
    keep = spec("keep1", uri, start_command=app_command("keep"))
    supervisor = await start_supervisor(supervisors, tmp_path / "state", store, [old, back])
    old_marker = supervisor.records("old1")[0].marker
    back_marker = supervisor.records("back1")[0].marker
    await supervisor.kill()
    await eventually(_not_alive(supervisor.pids["old1"][0]), 5, "bash killed by PDEATHSIG")
    leftovers = marked_pids(old_marker) + marked_pids(back_marker)
    assert len(leftovers) == 2, "the grandchildren outlived the supervisor"

    kept = await runtime.start_release(keep)  # a new supervisor with the same state dir
    await wait_healthy(runtime, "keep1")
    kept_pid = (await runtime.list_releases())[0].replicas[0].pid
    listed = {s.release_id: s for s in await runtime.list_releases()}
    assert set(listed) == {"keep1", "old1", "back1"}
    assert listed["keep1"].supervised and not listed["old1"].supervised
    assert listed["old1"].replicas[0].pid in leftovers

    result = await runtime.reconcile({"keep1", "back1", "fresh1"}, drain_seconds=1.0)

    assert sorted(result.stopped) == ["back1", "old1"]
    assert result.to_start == ("back1", "fresh1")
    await eventually(_none_alive(leftovers), 5, "leftovers stopped")
    assert (await probe(kept.upstream, "/", 2.0)).ok
    assert [s.release_id for s in await runtime.list_releases()] == ["keep1"]
    assert (await runtime.list_releases())[0].replicas[0].pid == kept_pid


def _not_alive(pid: int) -> Any:
    async def check() -> bool:
        return not alive(pid)

    return check


def _none_alive(pids: list[int]) -> Any:
    async def check() -> bool:
        return not any(alive(pid) for pid in pids)

    return check
