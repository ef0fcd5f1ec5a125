"""Rollout jobs: run one rollout, and the reconciler for lost rollouts and idle releases.

Both are thin and idempotent; the rules live in `app.domain.rollout`. The runtime (local
processes) belongs to the worker process: releases are its children.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.domain import rollout


async def run_rollout(ctx: dict[str, Any], deployment_id: str) -> str | None:
    """Roll a deployment out; does nothing for one that is finished or owned by a live worker."""
    status = await rollout.run(
        ctx["deps"], ctx["runtime"], uuid.UUID(deployment_id), worker_id=ctx["worker_id"]
    )
    return status.value if status is not None else None


async def reconcile_deployments(ctx: dict[str, Any]) -> None:
    """Fail rollouts whose worker died, stop releases nobody needs, expire retention."""
    await rollout.reconcile(ctx["deps"], ctx["runtime"])


async def apply_traffic(ctx: dict[str, Any], environment_id: str) -> None:
    """Apply an environment's committed weights to its Kubernetes Ingresses (idempotent)."""
    from app.domain.rollout_traffic import cluster_traffic
    from app.runtime.select import runs_on_kubernetes

    deps = ctx["deps"]
    kubernetes = getattr(ctx["runtime"], "kubernetes", None)
    target = await cluster_traffic(deps, uuid.UUID(environment_id))
    if kubernetes is None or target is None:
        return
    project, environment, weights = target
    if runs_on_kubernetes(deps.settings, environment):
        await kubernetes.set_traffic(project, environment, weights)


async def maintain_runtime(ctx: dict[str, Any]) -> None:
    """Hourly upkeep of the runtimes (Kubernetes: renew artifact URLs past half their validity,
    which takes days: no need to list Secrets at every reconcile)."""
    await ctx["runtime"].maintain()
