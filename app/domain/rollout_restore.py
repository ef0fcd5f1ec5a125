"""Bring back releases that deployments hold after the runtime lost them.

A worker restart (or `make up` after Ctrl-C) stops the local runtime's processes, while the
database still says which releases serve (ACTIVE) or stand by for instant rollback
(retained SUPERSEDED). The reconciler restarts each held release that is not running, records
its new upstreams, and rebuilds the environment's routes, so traffic is served again without
a redeploy.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from app.deps import Deps
from app.domain import deploy_events
from app.domain.rollout_steps import release_spec
from app.domain.rollout_traffic import sync_routes
from app.runtime.protocol import ReleaseStartError, Runtime
from app.uow import transaction
from db import models
from db.enums import DeploymentEventKind

log = logging.getLogger(__name__)


async def restore_held_releases(deps: Deps, runtime: Runtime) -> list[str]:
    """Restart held releases missing from the runtime; returns the release ids restarted."""
    running = {s.release_id for s in await runtime.list_releases() if s.supervised}
    async with deps.sessionmaker() as s:
        held = (
            await s.scalars(
                select(models.Deployment).where(
                    models.Deployment.upstreams.is_not(None),
                    models.Deployment.release_id.is_not(None),
                    # A rollout in progress owns its release; its worker (or the lost-worker
                    # path) decides about it.
                    models.Deployment.worker_id.is_(None),
                )
            )
        ).all()
    restored: list[str] = []
    for row in held:
        if row.release_id in running or row.build_id is None or row.release_id is None:
            continue
        try:
            restored.append(await _restart(deps, runtime, row))
        except (ReleaseStartError, OSError) as exc:
            log.warning("could not restore release %s: %s", row.release_id, exc)
    return restored


async def _restart(deps: Deps, runtime: Runtime, row: models.Deployment) -> str:
    assert row.release_id is not None
    async with deps.sessionmaker() as s:
        build = await s.get(models.Build, row.build_id)
    assert build is not None
    handle = await runtime.start_release(await release_spec(deps, row.id, row.release_id, build))
    async with transaction(deps, None) as uow:
        fresh = await uow.session.get(models.Deployment, row.id, with_for_update=True)
        if fresh is None or fresh.upstreams is None or fresh.worker_id is not None:
            # Released or taken over meanwhile: the runtime's reconcile stops it later.
            return handle.release_id
        fresh.upstreams = list(handle.upstreams)
        deploy_events.record(
            uow,
            fresh,
            DeploymentEventKind.STATUS,
            "release restarted after a runtime restart",
            payload={"upstreams": list(handle.upstreams)},
        )
    await sync_routes(deps, row.environment_id)
    return handle.release_id
