"""arq worker: WorkerSettings and the process entry point.

Jobs are thin and idempotent; they call the same domain modules as the API.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from arq import cron, func
from arq.connections import RedisSettings
from arq.worker import Worker

from app.deps import Deps
from app.domain import builds, deployments
from app.domain.deploy_logs import DeployLogSink
from app.runtime.build.artifacts import FilesystemArtifactStore
from app.runtime.lease import RedisLease
from app.runtime.local import LocalRuntime
from app.runtime.select import RuntimeSet
from app.settings import Settings
from jobs.builds import reconcile_builds, run_build
from jobs.deployments import apply_traffic, maintain_runtime, reconcile_deployments, run_rollout
from jobs.previews import expire_previews

# Margin over the build's own deadline, so the build times itself out (TIMED_OUT) first.
BUILD_JOB_SLACK_S = 120
# A rollout may wait for its build, then start, check and observe the release.
ROLLOUT_JOB_SLACK_S = 1800
# A dead worker's pod-log leases pass to another worker after this long (polls: 1.5 s).
POD_LOG_LEASE_S = 10.0


async def ping(ctx: dict[str, Any]) -> str:
    """Liveness probe job: proves a worker is consuming the queue."""
    return "pong"


def worker_settings(settings: Settings) -> dict[str, Any]:
    async def startup(ctx: dict[str, Any]) -> None:
        deps = await Deps.open(settings, with_queue=False)
        # Jobs enqueue follow-up jobs (the next queued build) through the worker's own pool.
        deps.queue = ctx["redis"]
        ctx["deps"] = deps
        ctx["worker_id"] = f"{socket.gethostname()}:{os.getpid()}"
        # The releases' stdout/stderr go to their deployment's log (deploymentLogs).
        ctx["deploy_logs"] = DeployLogSink(deps.sessionmaker, deps.events)
        # Releases are this process's children: they stop with the worker (aclose).
        local = LocalRuntime(
            settings.state_dir,
            FilesystemArtifactStore(settings.artifacts_dir),
            on_output=ctx["deploy_logs"],
        )
        kubernetes = None
        if settings.kubeconfig:
            # Imported only with a cluster configured: the official client is a heavy import.
            from app.runtime.kubernetes.runtime import KubernetesRuntime

            # One worker at a time follows a release's pod logs (a lease per release).
            lease = RedisLease(
                deps.redis, ctx["worker_id"], ttl_s=POD_LOG_LEASE_S, prefix="stratus:lease:"
            )
            kubernetes = KubernetesRuntime.from_kubeconfig(
                settings, on_output=ctx["deploy_logs"], lease=lease
            )
        # Each environment's releases go to its runtime (kubernetes_environments).
        ctx["runtime"] = RuntimeSet(settings, local, kubernetes)

    async def shutdown(ctx: dict[str, Any]) -> None:
        await ctx["runtime"].aclose()  # delivers the last lines to the sink first
        await ctx["deploy_logs"].aclose()
        deps = ctx["deps"]
        deps.queue = None  # arq's own pool: arq closes it
        await deps.close()

    return {
        "functions": [
            ping,
            func(apply_traffic, keep_result=0, timeout=120),
            # No result kept: a result key would stop the same build id being enqueued again
            # (a build left QUEUED at the team's concurrency limit is enqueued once more).
            func(
                run_build,
                name=builds.RUN_BUILD_JOB,
                keep_result=0,
                timeout=settings.build_timeout_seconds + BUILD_JOB_SLACK_S,
            ),
            func(
                run_rollout,
                name=deployments.RUN_ROLLOUT_JOB,
                keep_result=0,
                timeout=settings.deploy_build_wait_seconds + ROLLOUT_JOB_SLACK_S,
            ),
        ],
        "cron_jobs": [
            cron(
                reconcile_builds,
                second=set(range(0, 60, 10)),
                run_at_startup=True,
                timeout=60,
            ),
            cron(expire_previews, second={35}, run_at_startup=True, timeout=120),
            cron(maintain_runtime, minute={17}, second={45}, run_at_startup=True, timeout=300),
            cron(
                reconcile_deployments,
                second=set(range(5, 60, 10)),
                run_at_startup=True,
                timeout=60,
            ),
        ],
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "max_jobs": 10,
        "job_timeout": 3600,
        "keep_result": 3600,
    }


def run_worker(settings: Settings) -> None:
    asyncio.run(_run(settings))


async def _run(settings: Settings) -> None:
    worker = Worker(**worker_settings(settings))
    try:
        await worker.async_run()
    finally:
        await worker.close()
