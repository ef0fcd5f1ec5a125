"""A worker that dies mid-build: its build fails as WORKER_LOST with the log intact, or is
re-queued if it had not got past the clone."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix
from sqlalchemy import update

from app.deps import Deps
from app.domain import build_logs, build_runner, builds
from db import models
from db.enums import BuildStatus, BuildStep, LogStream
from tests.builds.conftest import BuildProject, MakeDeps, MakeProject
from tests.support.build_apps import STATIC_SITE

REPO = Path(__file__).resolve().parents[2]


def _start_worker(deps: Deps, log_path: Path) -> subprocess.Popen[bytes]:
    s = deps.settings
    env = {
        **os.environ,
        "DATABASE_URL": s.database_url,
        "REDIS_URL": s.redis_url,
        "STRATUS_STATE_DIR": str(s.state_dir),
        "STRATUS_BUILD_HEARTBEAT_SECONDS": str(s.build_heartbeat_seconds),
        "STRATUS_BUILD_LOST_AFTER_SECONDS": str(s.build_lost_after_seconds),
    }
    with log_path.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _pids_with(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


async def _wait_for(predicate, timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await predicate():
            return result
        await asyncio.sleep(interval)
    raise AssertionError("condition not met in time")


async def _follow(deps: Deps, build_id: uuid.UUID) -> list[tuple[int, str]]:
    got: list[tuple[int, str]] = []
    async for batch in build_logs.follow(deps.sessionmaker, deps.events, build_id, after=0):
        got += [(ln.seq, ln.text) for ln in batch]
    return got


@pytest.mark.slow
async def test_killed_worker_fails_the_build_as_worker_lost_with_its_log_intact(
    make_project: MakeProject, make_deps: MakeDeps, tmp_path: Path
):
    deps = make_deps(build_heartbeat_seconds=0.5, build_lost_after_seconds=3.0)
    marker = f"crash-{uuid.uuid4().hex}"
    command = f"for i in $(seq 1 600); do echo line-$i; sleep 0.1; done # {marker}"
    project = await make_project(STATIC_SITE, deps=deps, buildCommand=command)
    await deps.queue.delete("arq:queue")  # the fresh worker gets this test's job only
    worker = _start_worker(deps, tmp_path / "worker.log")
    try:
        build_id = await project.trigger()

        async def twenty_lines():
            lines = [ln for ln in await project.logs(build_id) if ln.stream == LogStream.STDOUT]
            return len(lines) >= 20

        await _wait_for(twenty_lines, timeout=45)
        follower = asyncio.create_task(_follow(deps, build_id))
        seen = [(ln.seq, ln.text) for ln in await project.logs(build_id)]
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        # The step runs in its own session; with the worker's end of its pipes gone, its
        # next echo dies of SIGPIPE.
        await _wait_for(lambda: _gone(marker), timeout=5)
        await build_runner.reconcile(deps)  # heartbeat still fresh: not lost yet
        assert (await project.get(build_id)).status == BuildStatus.RUNNING

        async def settled():
            await build_runner.reconcile(deps)
            return (await project.get(build_id)).status.is_terminal

        await _wait_for(settled, timeout=60, interval=0.5)
        build = await project.get(build_id)
        assert (build.status, build.reason) == (BuildStatus.FAILED, "WORKER_LOST")
        assert build.current_step == BuildStep.BUILD
        assert [s["status"] for s in build.steps] == ["succeeded", "failed"]

        history = [(ln.seq, ln.text) for ln in await project.logs(build_id)]
        assert history[: len(seen)] == seen
        assert [seq for seq, _ in history] == list(range(1, len(history) + 1))
        assert "WORKER_LOST" in history[-1][1]
        assert await asyncio.wait_for(follower, 30) == history
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        for pid in _pids_with(marker):
            os.killpg(pid, signal.SIGKILL)


async def _gone(marker: str) -> bool:
    return not _pids_with(marker)


@pytest.mark.parametrize("started_clone", [False, True])
async def test_a_build_lost_before_any_step_ran_is_requeued(
    make_project: MakeProject, started_clone: bool
):
    project = await make_project(STATIC_SITE)
    deps = project.deps
    build_id = await project.trigger()
    job_id = builds.build_job_id(build_id)
    # A worker claimed the build and died before or during the clone. Its arq job would
    # block the same job id for an hour: the in-progress key and a stale result.
    await _pretend_claimed_by_dead_worker(project, build_id, started_clone)
    await deps.queue.set(in_progress_key_prefix + job_id, b"1", ex=3600)
    await deps.queue.set(result_key_prefix + job_id, b"stale", ex=3600)

    await build_runner.reconcile(deps)

    build = await project.get(build_id)
    assert (build.status, build.worker_id, build.steps) == (BuildStatus.QUEUED, None, [])
    assert await deps.queue.exists(job_key_prefix + job_id)
    assert not await deps.queue.exists(in_progress_key_prefix + job_id)
    assert await project.run(build_id) == BuildStatus.SUCCEEDED
    assert (await project.get(build_id)).attempt == 2


async def _pretend_claimed_by_dead_worker(
    project: BuildProject, build_id: uuid.UUID, started_clone: bool
) -> None:
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    steps = [{"name": "clone", "status": "running", "startedAt": long_ago.isoformat()}]
    async with project.deps.sessionmaker() as s, s.begin():
        await s.execute(
            update(models.Build)
            .where(models.Build.id == build_id)
            .values(
                status=BuildStatus.RUNNING,
                attempt=1,
                worker_id="dead-worker",
                started_at=long_ago,
                heartbeat_at=long_ago,
                current_step=BuildStep.CLONE if started_clone else None,
                steps=steps if started_clone else [],
            )
        )


async def test_a_worker_shutting_down_settles_its_build_at_once(make_project: MakeProject):
    command = "for i in $(seq 1 100); do echo tick-$i; sleep 0.1; done"
    project = await make_project(STATIC_SITE, buildCommand=command)
    build_id = await project.trigger()
    job = asyncio.create_task(project.run(build_id))

    async def ticking():
        return "tick-3" in await project.texts(build_id)

    await _wait_for(ticking, timeout=20, interval=0.05)
    job.cancel()  # what arq does to running jobs on SIGTERM
    with pytest.raises(asyncio.CancelledError):
        await job

    build = await project.get(build_id)
    assert (build.status, build.reason) == (BuildStatus.FAILED, "WORKER_LOST")
    assert "WORKER_LOST" in (await project.texts(build_id))[-1]
