"""Build jobs: run one build, and the reconciler that settles lost and waiting builds.

Both are thin and idempotent; the rules live in `app.domain.build_runner`.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.domain import build_runner


async def run_build(ctx: dict[str, Any], build_id: str) -> str | None:
    """Run a build; does nothing for a build that is finished or owned by a live worker."""
    status = await build_runner.run(ctx["deps"], uuid.UUID(build_id), worker_id=ctx["worker_id"])
    return status.value if status is not None else None


async def reconcile_builds(ctx: dict[str, Any]) -> None:
    """Fail or re-queue builds whose worker died; enqueue queued builds that have room."""
    await build_runner.reconcile(ctx["deps"])
