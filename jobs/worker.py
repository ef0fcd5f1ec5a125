"""arq worker: WorkerSettings and the process entry point.

Jobs are thin and idempotent; they call the same domain modules as the API.
Builds and rollouts (later issues) add their job functions here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from arq.connections import RedisSettings
from arq.worker import Worker

from app.deps import Deps
from app.settings import Settings


async def ping(ctx: dict[str, Any]) -> str:
    """Liveness probe job: proves a worker is consuming the queue."""
    return "pong"


def worker_settings(settings: Settings) -> dict[str, Any]:
    async def startup(ctx: dict[str, Any]) -> None:
        ctx["deps"] = await Deps.open(settings, with_queue=False)

    async def shutdown(ctx: dict[str, Any]) -> None:
        await ctx["deps"].close()

    return {
        "functions": [ping],
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
