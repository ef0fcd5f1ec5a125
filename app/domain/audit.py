"""Audit log: written by every mutation in its own transaction; read as a filtered page."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import validation
from app.domain.pagination import Page, keyset_page
from app.domain.policy import Action, authorize
from app.domain.principal import Principal
from app.request_context import current_request
from app.uow import UnitOfWork
from db import models

REDACTED = "[redacted]"
# Field names whose values never enter the audit log.
SECRET_FIELDS = frozenset({"password", "value", "token", "key", "secret", "refreshToken"})


def team_stream(team_id: uuid.UUID) -> str:
    return f"stratus:team:{team_id}:events"


def redact(changes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (REDACTED if k in SECRET_FIELDS else v) for k, v in changes.items()}


def record(
    uow: UnitOfWork,
    *,
    action: str,
    target_type: str,
    target_id: uuid.UUID | str,
    team_id: uuid.UUID | None,
    changes: Mapping[str, Any] | None = None,
    actor_user_id: uuid.UUID | None = None,
) -> models.AuditLogEntry:
    """Add the entry to the mutation's transaction and announce it after commit."""
    meta = current_request.get()
    p = uow.principal
    entry = models.AuditLogEntry(
        id=uuid.uuid4(),
        team_id=team_id,
        actor_user_id=actor_user_id or (p.user_id if p else None),
        actor_api_key_id=p.api_key_id if p else None,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        request_id=meta.request_id,
        ip=meta.ip,
        user_agent=meta.user_agent[:400],
        changes=redact(changes or {}),
    )
    uow.session.add(entry)
    uow.audited += 1
    if team_id is not None:
        uow.publish(team_stream(team_id), {"kind": "audit", "entryId": str(entry.id)})
    return entry


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actions: list[str] | None = None
    actor_user_id: uuid.UUID | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_entries(
    session: AsyncSession,
    principal: Principal | None,
    *,
    team_id: uuid.UUID,
    filter: AuditFilter,
    first: int,
    after: str | None,
) -> Page[models.AuditLogEntry]:
    await authorize(session, principal, team_id, Action.AUDIT_READ, what="team")
    q = select(models.AuditLogEntry).where(models.AuditLogEntry.team_id == team_id)
    if filter.actions:
        q = q.where(models.AuditLogEntry.action.in_(filter.actions))
    if filter.actor_user_id:
        q = q.where(models.AuditLogEntry.actor_user_id == filter.actor_user_id)
    if filter.target_type:
        q = q.where(models.AuditLogEntry.target_type == filter.target_type)
    if filter.target_id:
        q = q.where(models.AuditLogEntry.target_id == filter.target_id)
    if filter.since:
        q = q.where(models.AuditLogEntry.created_at >= validation.utc(filter.since))
    if filter.until:
        q = q.where(models.AuditLogEntry.created_at < validation.utc(filter.until))
    return await keyset_page(
        session,
        q,
        models.AuditLogEntry.created_at,
        models.AuditLogEntry.id,
        first=first,
        after=after,
        newest_first=True,
    )


async def get_entry(
    session: AsyncSession, principal: Principal | None, *, entry_id: uuid.UUID
) -> models.AuditLogEntry:
    from app.errors import NotFound

    entry = await session.get(models.AuditLogEntry, entry_id)
    if entry is None or entry.team_id is None:
        raise NotFound("audit log entry")
    await authorize(session, principal, entry.team_id, Action.AUDIT_READ, what="audit log entry")
    return entry
