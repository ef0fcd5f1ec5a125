"""The newest deployment of an environment wins.

Two rollouts moving one environment's traffic at once would each compare against, and hand
traffic back to, a release the other is replacing. So when a rollout starts, it settles the
order under the environment's lock: an older deployment still in flight there (queued,
building, starting, verifying, shifting, or a canary waiting) is canceled with reason
NEWER_DEPLOYMENT and its traffic goes back to what served before it; and a rollout that
finds a newer deployment already in flight or serving cancels itself the same way.
"""

from __future__ import annotations

from sqlalchemy import select

from app.domain.deployments import end_rollout
from app.domain.rollout import Rollout
from app.domain.rollout_traffic import set_weights
from db import models
from db.enums import DeploymentStatus

NEWER = "NEWER_DEPLOYMENT"
IN_FLIGHT = tuple(s for s in DeploymentStatus if s.in_rollout or s == DeploymentStatus.QUEUED)


async def newest_wins(r: Rollout) -> bool:
    """False when a newer deployment won: this one has been ended (CANCELED)."""
    async with r.write(env=True) as (uow, w):
        me = w.row
        others = (
            await uow.session.scalars(
                select(models.Deployment)
                .where(
                    models.Deployment.environment_id == me.environment_id,
                    models.Deployment.id != me.id,
                    models.Deployment.status.in_([*IN_FLIGHT, DeploymentStatus.ACTIVE]),
                )
                .order_by(models.Deployment.number)
                .with_for_update()
            )
        ).all()
        newer = [o for o in others if o.number > me.number]
        if newer:
            end_rollout(
                uow,
                me,
                DeploymentStatus.CANCELED,
                NEWER,
                f"canceled: deployment #{newer[-1].number} is newer",
            )
            return False
        by_id = {row.id: row for row in w.env_rows}
        for old in others:
            if old.status not in IN_FLIGHT:
                continue  # ACTIVE: what serves now, replaced by this rollout as usual
            if old.traffic_weight > 0:
                back = by_id.get(old.previous_id) if old.previous_id else None
                weights = {back.id: 100} if back is not None and back.upstreams else {}
                set_weights(uow, w.env_rows, weights, step="newer")
            end_rollout(
                uow,
                old,
                DeploymentStatus.CANCELED,
                NEWER,
                f"canceled: superseded by deployment #{me.number}",
            )
    return True
