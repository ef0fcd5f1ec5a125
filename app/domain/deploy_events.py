"""A deployment's timeline: typed events numbered per deployment (`seq`, the cursor).

Each event is written in the same transaction as the state change it describes (the
deployment row is locked, so `seq` cannot repeat) and published to the deployment's Redis
stream after commit. Readers replay PostgreSQL after their cursor and tail the stream,
dropping what they already replayed and filling holes from PostgreSQL: no gap, no duplicate.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain import activity
from app.events import EventBus
from app.uow import UnitOfWork
from db import models
from db.enums import DeploymentEventKind, DeploymentStatus

LIVE_WAIT_S = 5.0
HISTORY_PAGE = 500


def events_stream(deployment_id: uuid.UUID) -> str:
    return f"stratus:deployment:{deployment_id}:events"


@dataclass(frozen=True, slots=True)
class DeployEvent:
    deployment_id: uuid.UUID
    seq: int
    at: datetime
    kind: DeploymentEventKind
    status: DeploymentStatus
    step: str | None
    message: str | None
    payload: dict[str, Any]

    @classmethod
    def from_row(cls, r: models.DeploymentEvent) -> DeployEvent:
        return cls(r.deployment_id, r.seq, r.at, r.kind, r.status, r.step, r.message, r.payload)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "kind": self.kind.value,
            "status": self.status.value,
            "step": self.step,
            "message": self.message,
            "payload": self.payload,
        }

    @classmethod
    def from_json(cls, deployment_id: uuid.UUID, d: dict[str, Any]) -> DeployEvent:
        return cls(
            deployment_id,
            int(d["seq"]),
            datetime.fromisoformat(d["at"]),
            DeploymentEventKind(d["kind"]),
            DeploymentStatus(d["status"]),
            d.get("step"),
            d.get("message"),
            d.get("payload") or {},
        )


def record(
    uow: UnitOfWork,
    deployment: models.Deployment,
    kind: DeploymentEventKind,
    message: str | None = None,
    *,
    step: str | None = None,
    payload: dict[str, Any] | None = None,
) -> DeployEvent:
    """Add an event to the transaction (the caller holds the deployment's row lock)."""
    deployment.last_event_seq += 1
    event = DeployEvent(
        deployment.id,
        deployment.last_event_seq,
        datetime.now(UTC),
        kind,
        deployment.status,
        step,
        message,
        payload or {},
    )
    uow.session.add(
        models.DeploymentEvent(
            deployment_id=event.deployment_id,
            seq=event.seq,
            at=event.at,
            kind=kind,
            status=event.status,
            step=step,
            message=message,
            payload=event.payload,
        )
    )
    uow.publish(events_stream(deployment.id), event.to_json())
    uow.publish(
        activity.project_stream(deployment.project_id), activity.deployment_entry(deployment, event)
    )
    return event


async def history(
    session: AsyncSession, deployment_id: uuid.UUID, *, after: int, limit: int = HISTORY_PAGE
) -> list[DeployEvent]:
    rows = await session.scalars(
        select(models.DeploymentEvent)
        .where(
            models.DeploymentEvent.deployment_id == deployment_id,
            models.DeploymentEvent.seq > after,
        )
        .order_by(models.DeploymentEvent.seq)
        .limit(limit)
    )
    return [DeployEvent.from_row(r) for r in rows]


async def follow(
    sessionmaker: async_sessionmaker[AsyncSession],
    bus: EventBus,
    deployment_id: uuid.UUID,
    *,
    after: int,
) -> AsyncIterator[DeployEvent]:
    """Events after `after`, then live ones; ends after an event with a terminal status."""
    cursor = after
    # Subscribed before the replay: an event committed in between is in the queue.
    async with bus.subscribe([events_stream(deployment_id)]) as sub:
        while True:
            async with sessionmaker() as s:
                # Status first: a terminal status read here has its event in the page below.
                status = await s.scalar(
                    select(models.Deployment.status).where(models.Deployment.id == deployment_id)
                )
                page = await history(s, deployment_id, after=cursor)
            for event in page:
                cursor = event.seq
                yield event
            if len(page) < HISTORY_PAGE:
                break
        if status is None or status.is_terminal:
            return
        while True:
            live = await sub.get(LIVE_WAIT_S)
            if live is None:
                # Quiet stream: look for events whose publish was lost after commit.
                events = await _fill(sessionmaker, deployment_id, cursor)
            else:
                event = DeployEvent.from_json(deployment_id, live.payload)
                if event.seq <= cursor:
                    continue  # already replayed
                events = (
                    [event]
                    if event.seq == cursor + 1
                    else await _fill(sessionmaker, deployment_id, cursor)
                )
            for event in events:
                cursor = event.seq
                yield event
                if event.status.is_terminal and event.kind == DeploymentEventKind.STATUS:
                    return


async def _fill(
    sessionmaker: async_sessionmaker[AsyncSession], deployment_id: uuid.UUID, cursor: int
) -> list[DeployEvent]:
    async with sessionmaker() as s:
        return await history(s, deployment_id, after=cursor)
