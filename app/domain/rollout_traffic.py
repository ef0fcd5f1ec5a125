"""Traffic weights: PostgreSQL holds them, the router's table is rebuilt from it.

Every weight change is written to the deployments of one environment in a transaction (with
the environment row locked, so changes of one host are serialised), then, after commit,
`sync_routes` rebuilds the host's route from the committed rows. The rebuild holds a
transaction-scoped advisory lock per environment while it reads and writes, so the last
rebuild to finish always carries the newest committed weights: `activeDeployments` (the
rows) and what the router serves cannot stay apart.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select

from app.deps import Deps
from app.domain import deploy_events
from app.runtime.kubernetes.release_specs import ingress_host
from app.runtime.router.keys import RouterKeys
from app.runtime.router.table import MAX_BACKENDS, Backend, RouteTable
from app.runtime.select import runs_on_kubernetes
from app.settings import Settings
from app.uow import UnitOfWork
from db import models
from db.enums import DeploymentEventKind, DeploymentStatus

log = logging.getLogger(__name__)


def route_host(project_slug: str, environment: str) -> str:
    return f"{project_slug}-{environment}.localhost"


def public_url(settings: Settings, project_slug: str, environment: str) -> str:
    """Where users reach an environment: its Ingress host on Kubernetes, else the router's
    host (through `deploy_url_template` when set)."""
    if runs_on_kubernetes(settings, environment):
        return f"http://{ingress_host(settings, project_slug, environment)}"
    return settings.environment_url(route_host(project_slug, environment))


def route_table(deps: Deps) -> RouteTable:
    return RouteTable(RouterKeys(deps.settings.router_key_prefix))


async def env_deployments(uow: UnitOfWork, environment_id: uuid.UUID) -> list[models.Deployment]:
    """Deployments of the environment that serve or hold a release, locked for update."""
    await uow.session.execute(
        select(models.Environment.id)
        .where(models.Environment.id == environment_id)
        .with_for_update()
    )
    rows = await uow.session.scalars(
        select(models.Deployment)
        .where(
            models.Deployment.environment_id == environment_id,
            or_(models.Deployment.traffic_weight > 0, models.Deployment.upstreams.is_not(None)),
        )
        .order_by(models.Deployment.created_at)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(rows)


def set_weights(
    uow: UnitOfWork,
    rows: list[models.Deployment],
    weights: dict[uuid.UUID, int],
    *,
    step: str | None = None,
) -> None:
    """Give each deployment its weight (absent: 0) and record a TRAFFIC event on changes."""
    total = sum(weights.values())
    if total not in (0, 100) or any(not 0 <= w <= 100 for w in weights.values()):
        raise ValueError(f"weights must be 0..100 and sum to 100: {weights}")
    split = {str(k): v for k, v in weights.items()}
    for row in rows:
        new = weights.get(row.id, 0)
        if row.traffic_weight == new:
            continue
        old, row.traffic_weight = row.traffic_weight, new
        deploy_events.record(
            uow,
            row,
            DeploymentEventKind.TRAFFIC,
            f"traffic {old}% -> {new}%",
            step=step,
            payload={"from": old, "to": new, "split": split},
        )
    environment_id = rows[0].environment_id if rows else None
    if environment_id is not None:
        uow.after_commit(lambda: sync_routes(uow.deps, environment_id))


def supersede(uow: UnitOfWork, row: models.Deployment, retention_s: float) -> None:
    """The release stops serving but stays warm for an instant rollback."""
    row.status = DeploymentStatus.SUPERSEDED
    row.traffic_weight = 0
    row.retained_until = datetime.now(UTC) + timedelta(seconds=retention_s)
    deploy_events.record(
        uow,
        row,
        DeploymentEventKind.STATUS,
        "superseded; kept warm for rollback",
        payload={"retainedUntil": row.retained_until.isoformat()},
    )


async def sync_routes(deps: Deps, environment_id: uuid.UUID) -> None:
    """Rebuild one host's route from the committed weights (idempotent; safe to repeat)."""
    async with deps.sessionmaker() as s, s.begin():
        await s.execute(select(func.pg_advisory_xact_lock(_lock_key(environment_id))))
        env = await s.get(models.Environment, environment_id)
        if env is None:
            return
        slug = await s.scalar(
            select(models.Project.slug).where(models.Project.id == env.project_id)
        )
        rows = (
            await s.scalars(
                select(models.Deployment)
                .where(
                    models.Deployment.environment_id == environment_id,
                    models.Deployment.upstreams.is_not(None),
                )
                .order_by(
                    models.Deployment.traffic_weight.desc(), models.Deployment.created_at.desc()
                )
            )
        ).all()
        backends = [
            Backend(str(r.id), tuple(r.upstreams), r.traffic_weight) for r in rows if r.upstreams
        ][:MAX_BACKENDS]
        table, host = route_table(deps), route_host(str(slug), env.name)
        if not backends:
            await table.remove(deps.redis, host)
        elif sum(b.weight for b in backends) in (0, 100):
            await table.set_routes(deps.redis, host, backends)
        else:
            log.error("weights of %s do not add up; route left unchanged", host)
    # On Kubernetes the Ingresses route, not the router: the worker applies the same weights.
    await request_cluster_traffic(deps, environment_id, env.name)


def _lock_key(environment_id: uuid.UUID) -> int:
    # A signed 64-bit key for pg_advisory_xact_lock, stable per environment.
    return int.from_bytes(environment_id.bytes[:8], "big", signed=True)


APPLY_TRAFFIC_JOB = "apply_traffic"


async def request_cluster_traffic(deps: Deps, environment_id: uuid.UUID, env_name: str) -> None:
    """Enqueue the worker's `apply_traffic` for an environment that runs on Kubernetes.

    Only the worker holds the cluster client. One job id per environment: while one is
    queued, further requests are already covered (the job reads the weights when it runs).
    A request lost while one runs is healed by the reconciler, which re-syncs every route.
    """
    if deps.queue is None or not runs_on_kubernetes(deps.settings, env_name):
        return
    from arq.constants import result_key_prefix

    job_id = f"{APPLY_TRAFFIC_JOB}:{environment_id}"
    try:
        await deps.queue.delete(result_key_prefix + job_id)
        await deps.queue.enqueue_job(APPLY_TRAFFIC_JOB, str(environment_id), _job_id=job_id)
    except Exception:
        log.exception("enqueue of apply_traffic for environment %s failed", environment_id)


async def cluster_traffic(
    deps: Deps, environment_id: uuid.UUID
) -> tuple[str, str, dict[str, int]] | None:
    """(project slug, environment name, {release id: weight}) as committed, for set_traffic."""
    async with deps.sessionmaker() as s:
        env = await s.get(models.Environment, environment_id)
        if env is None:
            return None
        slug = await s.scalar(
            select(models.Project.slug).where(models.Project.id == env.project_id)
        )
        rows = (
            await s.execute(
                select(models.Deployment.release_id, models.Deployment.traffic_weight).where(
                    models.Deployment.environment_id == environment_id,
                    models.Deployment.release_id.is_not(None),
                    models.Deployment.traffic_weight > 0,
                )
            )
        ).all()
    return str(slug), env.name, {str(release): weight for release, weight in rows}
