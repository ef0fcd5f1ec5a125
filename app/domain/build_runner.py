"""Runs builds in the worker: claim, heartbeat, cancel watch, finish; and the reconciler.

A build is owned by one (worker_id, attempt) while RUNNING. The owner beats `heartbeat_at`
every `build_heartbeat_seconds`; the reconciler declares a build lost once its heartbeat is
older than `build_lost_after_seconds`, and takes ownership away (every write of the lost
worker is fenced on worker_id and attempt, see `build_steps.save`). arq alone would re-run
a SIGKILLed job only after its timeout, which for builds is half an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix
from sqlalchemy import func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.deps import Deps
from app.domain import build_steps, builds
from app.domain.build_logs import LogWriter, publish_end
from app.domain.build_steps import Claim, Outcome, Run, Superseded
from app.uow import transaction
from db import models
from db.enums import BuildStatus, BuildStep, LogStream

log = logging.getLogger(__name__)
CANCEL_POLL_S = 0.2
RECONCILE_BATCH = 100
ENQUEUE_SCAN = 5_000


async def run(deps: Deps, build_id: uuid.UUID, *, worker_id: str) -> BuildStatus | None:
    """Run one build to its end; None when there was nothing for this job to do."""
    claim = await _claim(deps, build_id, worker_id)
    if claim is None:
        return None
    build_dir = deps.settings.builds_dir / str(build_id)
    try:
        status = await _drive(deps, claim, build_dir)
    except asyncio.CancelledError:
        # The worker is shutting down: settle the build now rather than after lost_after.
        await asyncio.shield(recover(deps, build_id, owner=(claim.worker_id, claim.attempt)))
        raise
    finally:
        await asyncio.to_thread(shutil.rmtree, build_dir, True)
        with contextlib.suppress(Exception):
            await deps.redis.delete(builds.cancel_key(build_id))
    await enqueue_ready(deps, team_id=claim.team_id)
    return status


async def _claim(deps: Deps, build_id: uuid.UUID, worker_id: str) -> Claim | None:
    async with transaction(deps, None) as uow:
        s = uow.session
        team_id = await s.scalar(select(models.Build.team_id).where(models.Build.id == build_id))
        if team_id is None:
            return None
        # The team row lock serialises claims per team: two workers cannot both take the
        # team's last free slot.
        await s.execute(select(models.Team.id).where(models.Team.id == team_id).with_for_update())
        build = await s.get(models.Build, build_id, with_for_update=True, populate_existing=True)
        if build is None or build.status != BuildStatus.QUEUED:
            return None  # terminal, or RUNNING (a live owner, or the reconciler's to settle)
        running = await s.scalar(
            select(func.count())
            .select_from(models.Build)
            .where(models.Build.team_id == team_id, models.Build.status == BuildStatus.RUNNING)
        )
        if (running or 0) >= deps.settings.max_concurrent_builds_per_team:
            return None  # stays QUEUED; a finishing build or the reconciler enqueues it again
        build.status, build.worker_id = BuildStatus.RUNNING, worker_id
        build.attempt += 1
        build.started_at = build.heartbeat_at = await _db_now(s)
        build.current_step, build.steps, build.reason, build.message = None, [], None, None
        builds.publish_status(uow, build)
        return Claim(
            build_id=build.id,
            team_id=team_id,
            project_id=build.project_id,
            environment_id=build.environment_id,
            git_ref=build.git_ref,
            attempt=build.attempt,
            worker_id=worker_id,
            last_log_seq=build.last_log_seq,
        )


async def _drive(deps: Deps, claim: Claim, build_dir: Path) -> BuildStatus | None:
    started = time.monotonic()
    await asyncio.to_thread(shutil.rmtree, build_dir, True)  # leftovers of an earlier attempt
    async with LogWriter(
        deps.sessionmaker, deps.events, claim.build_id, last_seq=claim.last_log_seq
    ) as writer:
        r = Run(deps, claim, writer, build_dir, started + deps.settings.build_timeout_seconds)
        watchers = [asyncio.create_task(_heartbeat(r)), asyncio.create_task(_watch_cancel(r))]
        try:
            outcome = await build_steps.execute(r)
        except Superseded:
            return None
        except Exception as exc:
            log.exception("build %s failed unexpectedly", claim.build_id)
            # The type only: an exception's text may hold what users must not see.
            message = f"internal error ({type(exc).__name__}); details are in the worker log"
            outcome = Outcome(BuildStatus.FAILED, "INTERNAL_ERROR", message)
        finally:
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        summary = f"==> build {outcome.status.value} after {time.monotonic() - started:.1f}s"
        if outcome.message:
            summary += f": {outcome.message}"
        await writer.write(LogStream.SYSTEM, None, summary)
        # Flushed here, not only by the writer's exit: that cancels its periodic flush, and a
        # batch caught mid-flush would be lost.
        await writer.flush()
    return await _finish(r, outcome)


async def _finish(r: Run, outcome: Outcome) -> BuildStatus | None:
    """Commit the final status; only called once every log line is stored."""
    try:
        await build_steps.save(
            r.deps,
            r.claim,
            status=outcome.status,
            reason=outcome.reason,
            message=(outcome.message or "")[:2000] or None,
            finished_at=datetime.now(UTC),
            steps=build_steps.settled(r.steps, outcome.status),
        )
    except Superseded:
        return None
    await publish_end(r.deps.events, r.claim.build_id, outcome.status)
    return outcome.status


async def _heartbeat(r: Run) -> None:
    """Beat while running; a beat that matches no row means the build was taken away."""
    deps, c = r.deps, r.claim
    while True:
        await asyncio.sleep(deps.settings.build_heartbeat_seconds)
        try:
            async with deps.sessionmaker() as s, s.begin():
                row = (
                    await s.execute(
                        update(models.Build)
                        .where(
                            models.Build.id == c.build_id,
                            models.Build.status == BuildStatus.RUNNING,
                            models.Build.attempt == c.attempt,
                            models.Build.worker_id == c.worker_id,
                        )
                        .values(heartbeat_at=func.now())
                        .returning(models.Build.cancel_requested_at)
                    )
                ).first()
        except Exception:  # the database may come back before lost_after
            log.warning("heartbeat of build %s failed", c.build_id, exc_info=True)
            continue
        if row is None:
            r.lost = True
            r.stop.set()
            return
        if row[0] is not None and not r.canceled:
            # Backs up the Redis signal, which cancel_build sends after commit (best effort).
            r.canceled = True
            r.stop.set()


async def _watch_cancel(r: Run) -> None:
    key = builds.cancel_key(r.claim.build_id)
    while True:
        try:
            if await r.deps.redis.exists(key):
                r.canceled = True
                r.stop.set()
                return
        except Exception:
            log.warning("cancel check of build %s failed", r.claim.build_id, exc_info=True)
        await asyncio.sleep(CANCEL_POLL_S)


async def reconcile(deps: Deps) -> None:
    """Settle builds whose worker is gone, then enqueue queued builds that have room."""
    cutoff = _lost_cutoff(deps)
    async with deps.sessionmaker() as s:
        lost = (
            await s.scalars(
                select(models.Build.id)
                .where(
                    models.Build.status == BuildStatus.RUNNING,
                    or_(models.Build.heartbeat_at.is_(None), models.Build.heartbeat_at < cutoff),
                )
                .limit(RECONCILE_BATCH)
            )
        ).all()
    for build_id in lost:
        try:
            await recover(deps, build_id)
        except Exception:
            log.exception("recovering lost build %s failed", build_id)
    await enqueue_ready(deps)


async def recover(deps: Deps, build_id: uuid.UUID, *, owner: tuple[str, int] | None = None) -> None:
    """Re-queue a lost build that had not got past clone, else fail it as WORKER_LOST.

    Without `owner` the build must have a stale heartbeat; with it (a worker giving up its
    own build on shutdown) it must still belong to that worker and attempt.
    """
    async with transaction(deps, None) as uow:
        build = await uow.session.get(models.Build, build_id, with_for_update=True)
        if build is None or build.status != BuildStatus.RUNNING:
            return
        if owner is not None and (build.worker_id, build.attempt) != owner:
            return
        if owner is None and not await _stale(uow.session, deps, build):
            return
        if not _past_clone(build):
            build.status, build.worker_id, build.heartbeat_at = BuildStatus.QUEUED, None, None
            build.current_step, build.steps, build.started_at = None, [], None
            builds.publish_status(uow, build)
            uow.after_commit(lambda: _requeued(deps, build_id))
            return
        # Fences the lost worker out before we write its last log line.
        build.worker_id = None
        last_seq, step = build.last_log_seq, build.current_step
    await _fail_lost(deps, build_id, last_seq, step)


async def _fail_lost(
    deps: Deps, build_id: uuid.UUID, last_seq: int, step: BuildStep | None
) -> None:
    text = "==> build failed: the worker running it stopped responding (WORKER_LOST)"
    async with LogWriter(deps.sessionmaker, deps.events, build_id, last_seq=last_seq) as w:
        await w.write(LogStream.SYSTEM, step.value if step else None, text)
        await w.flush()
    async with transaction(deps, None) as uow:
        build = await uow.session.get(models.Build, build_id, with_for_update=True)
        if build is None or build.status != BuildStatus.RUNNING or build.worker_id is not None:
            return
        build.status, build.reason = BuildStatus.FAILED, "WORKER_LOST"
        build.message = "the worker running this build stopped responding"
        build.finished_at = await _db_now(uow.session)
        build.steps = build_steps.settled(build.steps, BuildStatus.FAILED)
        builds.publish_status(uow, build)
        uow.after_commit(lambda: publish_end(deps.events, build_id, BuildStatus.FAILED))
        team_id = build.team_id
    await enqueue_ready(deps, team_id=team_id)


async def enqueue_ready(deps: Deps, *, team_id: uuid.UUID | None = None) -> int:
    """Enqueue the oldest QUEUED builds of each team (or one team) up to its free slots."""
    live = models.Build.status.in_([BuildStatus.QUEUED, BuildStatus.RUNNING])
    q = select(models.Build.id, models.Build.team_id, models.Build.status).where(live)
    if team_id is not None:
        q = q.where(models.Build.team_id == team_id)
    async with deps.sessionmaker() as s:
        # Over the limit, slots may look free that are not: claim() still enforces the cap.
        q = q.order_by(models.Build.created_at, models.Build.id).limit(ENQUEUE_SCAN)
        rows = (await s.execute(q)).all()
    free: dict[uuid.UUID, int] = {}
    for _, team, status in rows:
        free.setdefault(team, deps.settings.max_concurrent_builds_per_team)
        if status == BuildStatus.RUNNING:
            free[team] -= 1
    count = 0
    for build_id, team, status in rows:
        if status == BuildStatus.QUEUED and free[team] > 0:
            free[team] -= 1
            count += await _enqueue_quietly(deps, build_id)
    return count


async def enqueue(deps: Deps, build_id: uuid.UUID, *, reset: bool = False) -> bool:
    """Enqueue run_build under the build's fixed job id; False if a job already exists.

    A finished job leaves its result key, which makes arq refuse the same id; run_build
    keeps no result, but a failed job still writes one, so it is dropped here. `reset` also
    drops the keys of a job whose worker died mid-run (they would block it for an hour).
    """
    if deps.queue is None:
        log.warning("no job queue in this process; build %s not enqueued", build_id)
        return False
    job_id = builds.build_job_id(build_id)
    keys = [result_key_prefix + job_id]
    if reset:
        keys += [job_key_prefix + job_id, in_progress_key_prefix + job_id]
    await deps.queue.delete(*keys)
    job = await deps.queue.enqueue_job(builds.RUN_BUILD_JOB, str(build_id), _job_id=job_id)
    return job is not None


async def _enqueue_quietly(deps: Deps, build_id: uuid.UUID, *, reset: bool = False) -> bool:
    # The reconciler retries every few seconds; one failed enqueue must not stop the rest.
    try:
        return await enqueue(deps, build_id, reset=reset)
    except Exception:
        log.exception("enqueue of build %s failed", build_id)
        return False


async def _requeued(deps: Deps, build_id: uuid.UUID) -> None:
    await _enqueue_quietly(deps, build_id, reset=True)


def _past_clone(build: models.Build) -> bool:
    """True once anything beyond fetching the source may have started (user code ran)."""
    clone = BuildStep.CLONE.value
    return any(s.get("name") == clone and s.get("status") == "succeeded" for s in build.steps)


async def _stale(session: AsyncSession, deps: Deps, build: models.Build) -> bool:
    if build.heartbeat_at is None:
        return True
    return bool(await session.scalar(select(literal(build.heartbeat_at) < _lost_cutoff(deps))))


def _lost_cutoff(deps: Deps) -> Any:
    # Database time on both sides of every heartbeat comparison: worker clocks may disagree.
    return func.now() - timedelta(seconds=deps.settings.build_lost_after_seconds)


async def _db_now(session: AsyncSession) -> datetime:
    now: datetime | None = await session.scalar(select(func.now()))
    assert now is not None
    return now
