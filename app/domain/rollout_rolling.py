"""ROLLING: replace the serving release's replicas with the new release's, a batch at a time.

With N replicas serving and b = `deploy_max_unavailable` (at most N), the new release starts
with b replicas (`first_spec`, used by `execute`) and, once healthy, each batch does:

1. route out: the old deployment's `upstreams` loses its b highest-numbered replicas and
   the weights follow the replicas that serve (so each replica keeps an even share), then
   the route is rebuilt; only then
2. the old release is scaled down by b (drained) and the new one up to k = replaced so far,
3. the new release is health-checked: on failure the old release goes back to N replicas
   and 100% of the traffic, and the deployment fails with HEALTH_CHECK_FAILED;
4. the new replicas join the route and the weights become new = round(100 k / N), old = the
   rest; a STATUS event records {"replaced": k, "of": N}.

So at most b fewer replicas than N ever run (and serve), and at most b more. At the end the
old deployment is superseded without a release to keep warm (it runs no replica), so it is
not offered for instant rollback: its `upstreams` becomes null.

While its last replicas are gone the old row keeps `upstreams = []`: it still holds its
release (scaled to 0; the reconciler neither stops nor restarts it), but offers nothing to
the route or to a rollback.

Batches need a base to replace: without one serving, with N == 1, or when the base runs a
different number of replicas (or on another worker's runtime, where this one cannot scale
it), ROLLING falls back to what it did before: start all N replicas beside the old ones,
check their health, switch at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.domain import deploy_events
from app.domain.rollout import Rollout, Superseded, fail
from app.domain.rollout_steps import activate, health_problem, serving_deployment
from app.domain.rollout_traffic import env_deployments, set_weights, supersede
from app.runtime.protocol import ReleaseSpec, ReleaseStartError
from app.uow import UnitOfWork, transaction
from db import models
from db.enums import DeploymentEventKind, DeploymentStatus
from db.enums import DeploymentStrategy as Strategy

log = logging.getLogger(__name__)

# Pub/sub takes a route change to every router in one round trip; this margin lets it land
# before the retired replicas get SIGTERM. Anything that still reaches one is retried by the
# router on a sibling replica when the connect fails.
ROUTE_SETTLE_S = 0.1


@dataclass(frozen=True)
class Plan:
    base: uuid.UUID  # the deployment whose replicas are replaced
    base_release: str
    replicas: int  # N, the same on both sides
    batch: int  # b, replicas replaced at a time


async def plan(r: Rollout, base: Any) -> Plan | None:
    """The batches to run, or None when ROLLING falls back to start-all-then-switch."""
    if base is None:
        return None
    async with r.deps.sessionmaker() as s:
        row = await s.get(models.Deployment, r.deployment_id)
        old = await s.get(models.Deployment, base)
    assert row is not None
    n = row.replicas
    if row.strategy != Strategy.ROLLING or n == 1 or old is None or old.release_id is None:
        return None
    if len(old.upstreams or []) != n:
        return None
    running = {s.release_id: s for s in await r.runtime.list_releases() if s.supervised}
    state = running.get(old.release_id)
    if state is None or len(state.replicas) != n:
        return None
    return Plan(old.id, old.release_id, n, min(r.deps.settings.deploy_max_unavailable, n))


async def first_spec(r: Rollout, spec: ReleaseSpec) -> ReleaseSpec:
    """What `execute` starts: only the first batch's replicas when rolling in batches."""
    p = await plan(r, await serving_deployment(r))
    return spec if p is None else dataclasses.replace(spec, replicas=p.batch)


async def roll(r: Rollout, base: Any) -> DeploymentStatus:
    p = await plan(r, base)
    if p is None:
        return await _all_at_once(r)
    try:
        problem = await _batches(r, p)
    except Exception:
        # Canceled, taken away (Superseded) or a bug: whatever ends this rollout, the old
        # release must be back at full strength for the traffic that returns to it.
        try:
            await _restore(r, p, take_traffic=False)
        except Exception:
            log.exception("could not restore deployment %s after its replacement stopped", p.base)
        raise
    if problem is not None:
        await _restore(r, p, take_traffic=True)
        reason = str(problem.pop("reason"))
        return await fail(r, reason, str(problem.pop("message")), **problem)
    return await _finish(r, p)


async def _batches(r: Rollout, p: Plan) -> dict[str, Any] | None:
    """Replace every replica; None when done, else why a batch failed."""
    drain = r.deps.settings.deploy_drain_seconds
    async with r.write() as (uow, w):
        w.row.previous_id, w.row.status = p.base, DeploymentStatus.PROMOTING
        deploy_events.record(
            uow,
            w.row,
            DeploymentEventKind.STATUS,
            f"rolling update: replacing {p.replicas} replica(s), {p.batch} at a time",
            payload={"replicas": p.replicas, "maxUnavailable": p.batch},
        )
    replaced = 0
    while replaced < p.replicas:
        if r.lost.is_set():
            raise Superseded()
        k = min(replaced + p.batch, p.replicas)
        await _route_out(r, p, keep=p.replicas - k, step=f"rolling {k}/{p.replicas}")
        await asyncio.sleep(ROUTE_SETTLE_S)
        await r.runtime.scale_release(p.base_release, p.replicas - k, drain_seconds=drain)
        try:
            handle = await r.runtime.scale_release(r.release_id, k, drain_seconds=drain)
        except (ReleaseStartError, LookupError) as exc:
            return {"reason": "START_FAILED", "message": _text(exc)}
        problem = await health_problem(r)
        if problem is not None:
            return {"reason": "HEALTH_CHECK_FAILED", **problem}
        async with r.write(env=True) as (uow, w):
            w.row.upstreams = list(handle.upstreams)
            new = round(100 * k / p.replicas)
            rows = await _with_row(uow, w.env_rows, p.base)
            set_weights(uow, rows, {w.row.id: new, p.base: 100 - new}, step=f"{k}/{p.replicas}")
            deploy_events.record(
                uow,
                w.row,
                DeploymentEventKind.STATUS,
                f"replaced {k} of {p.replicas} replica(s)",
                step=f"{k}/{p.replicas}",
                payload={"replaced": k, "of": p.replicas},
            )
        replaced = k
    return None


async def _route_out(r: Rollout, p: Plan, *, keep: int, step: str) -> None:
    """Take the old replicas `keep`.. out of the route before they are stopped."""
    async with r.write(env=True) as (uow, w):
        rows = await _with_row(uow, w.env_rows, p.base)
        old = next(x for x in rows if x.id == p.base)
        # The runtime stops the highest-numbered replicas; upstreams are in replica order.
        old.upstreams = list(old.upstreams or [])[:keep]
        serving = len(w.row.upstreams or [])  # the new replicas that passed a health check
        new = 100 if keep == 0 else round(100 * serving / (serving + keep))
        set_weights(uow, rows, {w.row.id: new, p.base: 100 - new}, step=step)


async def _finish(r: Rollout, p: Plan) -> DeploymentStatus:
    """Like `activate`, and the old deployment lets go of its release (0 replicas run)."""
    async with r.write(env=True) as (uow, w):
        rows = await _with_row(uow, w.env_rows, p.base)
        set_weights(uow, rows, {w.row.id: 100}, step="100%")
        for other in rows:
            if other.id == p.base:
                _retire_base(uow, other, r.deployment_id)
            elif other.id != w.row.id and other.status == DeploymentStatus.ACTIVE:
                supersede(uow, other, r.deps.settings.deploy_retention_seconds)
        w.row.status, w.row.worker_id = DeploymentStatus.ACTIVE, None
        w.row.finished_at = datetime.now(UTC)
        deploy_events.record(
            uow,
            w.row,
            DeploymentEventKind.STATUS,
            f"rolling update complete: {p.replicas} replica(s) replaced, serving 100%",
        )
    # It runs no replica by now: this only lets the runtime forget it.
    await r.runtime.stop_release(p.base_release, drain_seconds=r.deps.settings.deploy_drain_seconds)
    return DeploymentStatus.ACTIVE


def _retire_base(uow: UnitOfWork, row: models.Deployment, by: uuid.UUID) -> None:
    if row.status == DeploymentStatus.ACTIVE:
        row.status = DeploymentStatus.SUPERSEDED
    row.traffic_weight, row.upstreams, row.retained_until = 0, None, None
    deploy_events.record(
        uow,
        row,
        DeploymentEventKind.STATUS,
        "superseded by a rolling update that replaced all its replicas; no release is kept "
        "warm, so it cannot be rolled back to instantly",
        payload={"supersededBy": str(by)},
    )


async def _restore(r: Rollout, p: Plan, *, take_traffic: bool) -> None:
    """Bring the old release back to N replicas and into the route; give it all the traffic
    when `take_traffic` or when nothing else serves. Best effort: it runs on failure paths,
    also after this worker lost the rollout, so it does not go through the rollout's fence
    (the old deployment is not the rollout's row anyway)."""
    async with r.deps.sessionmaker() as s:
        old = await s.get(models.Deployment, p.base)
    if old is None or old.status != DeploymentStatus.ACTIVE or old.upstreams is None:
        return  # something else took over from it (a rollback, another deploy)
    try:
        handle = await r.runtime.scale_release(
            p.base_release, p.replicas, drain_seconds=r.deps.settings.deploy_drain_seconds
        )
    except (ReleaseStartError, LookupError) as exc:
        log.error("could not restore release %s: %s", p.base_release, _text(exc))
        return
    healthy = await _healthy_within_budget(r, p.base_release)
    async with transaction(r.deps, None) as uow:
        rows = await _with_row(uow, await env_deployments(uow, r.environment_id), p.base)
        old = next(x for x in rows if x.id == p.base)
        if old.status != DeploymentStatus.ACTIVE or old.upstreams is None:
            return
        old.upstreams = list(handle.upstreams)
        if take_traffic or not any(x.traffic_weight > 0 for x in rows):
            set_weights(uow, rows, {p.base: 100}, step="rollback")
        deploy_events.record(
            uow,
            old,
            DeploymentEventKind.STATUS,
            f"back to {p.replicas} replica(s) after the rolling update stopped"
            + ("" if healthy else " (not healthy yet)"),
            payload={"replicas": p.replicas, "healthy": healthy},
        )


async def _healthy_within_budget(r: Rollout, release_id: str) -> bool:
    """Wait for the restarted old replicas, within the health-check budget of a rollout."""
    cfg = r.deps.settings
    deadline = time.monotonic() + cfg.deploy_health_retries * cfg.deploy_health_interval_seconds
    while True:
        result = await r.runtime.health(release_id, timeout=cfg.deploy_health_timeout_seconds)
        if result.ok:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(min(0.1, cfg.deploy_health_interval_seconds))


async def _all_at_once(r: Rollout) -> DeploymentStatus:
    """The fallback: all N replicas healthy, then 100% at once."""
    async with r.deps.sessionmaker() as s:
        row = await s.get(models.Deployment, r.deployment_id)
    assert row is not None
    if len(row.upstreams or []) < row.replicas:
        # Started as a first batch, but the base changed since: start the rest now.
        drain = r.deps.settings.deploy_drain_seconds
        try:
            handle = await r.runtime.scale_release(r.release_id, row.replicas, drain_seconds=drain)
        except (ReleaseStartError, LookupError) as exc:
            return await fail(r, "START_FAILED", _text(exc))
        async with r.write() as (uow, w):
            w.row.upstreams = list(handle.upstreams)
            deploy_events.record(
                uow,
                w.row,
                DeploymentEventKind.STATUS,
                f"started {len(handle.upstreams)} replica(s); checking health",
            )
        problem = await health_problem(r)
        if problem is not None:
            return await fail(r, "HEALTH_CHECK_FAILED", str(problem.pop("message")), **problem)
    return await activate(r, "switched 100%")


async def _with_row(
    uow: UnitOfWork, rows: list[models.Deployment], deployment_id: uuid.UUID
) -> list[models.Deployment]:
    """`rows` plus the given deployment, locked, when `env_deployments` left it out (no
    traffic and no upstreams: its release holds no replica)."""
    if any(x.id == deployment_id for x in rows):
        return rows
    row = await uow.session.get(
        models.Deployment, deployment_id, with_for_update=True, populate_existing=True
    )
    return rows if row is None else [*rows, row]


def _text(exc: Exception) -> str:
    # str(KeyError("x")) is "'x'": use the message as written.
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
