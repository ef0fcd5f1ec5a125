"""The team audit log as a filtered connection."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from app.domain import audit
from db import models
from resolvers.common import Node, PageInfo
from resolvers.context import Info
from resolvers.ids import parse_id, to_global_id


@strawberry.type(description="One recorded mutation.")
class AuditLogEntry(Node):
    action: str = strawberry.field(description="What was done, e.g. `project.update`.")
    target_type: str = strawberry.field(description="Kind of object acted on.")
    target_id: str = strawberry.field(description="Id of the object acted on (raw id).")
    actor_user_id: strawberry.ID | None = strawberry.field(description="User who acted.")
    actor_api_key_id: strawberry.ID | None = strawberry.field(
        description="API key used, if the actor used one."
    )
    request_id: str = strawberry.field(description="Request id, as in logs and X-Request-Id.")
    ip: str = strawberry.field(description="Client address.")
    user_agent: str = strawberry.field(description="Client user agent.")
    changes: JSON = strawberry.field(description="Changed fields; secret values never appear.")
    created_at: datetime = strawberry.field(description="When it happened.")

    @classmethod
    def from_row(cls, r: models.AuditLogEntry) -> AuditLogEntry:
        return cls(
            id=strawberry.ID(to_global_id("AuditLogEntry", r.id)),
            action=r.action,
            target_type=r.target_type,
            target_id=r.target_id,
            actor_user_id=strawberry.ID(to_global_id("User", r.actor_user_id))
            if r.actor_user_id
            else None,
            actor_api_key_id=strawberry.ID(to_global_id("ApiKey", r.actor_api_key_id))
            if r.actor_api_key_id
            else None,
            request_id=r.request_id,
            ip=r.ip,
            user_agent=r.user_agent,
            changes=cast(JSON, r.changes),
            created_at=r.created_at,
        )


@strawberry.type(description="An edge of an AuditLogConnection.")
class AuditLogEdge:
    cursor: str = strawberry.field(description="Cursor of this entry.")
    node: AuditLogEntry = strawberry.field(description="The entry.")


@strawberry.type(description="A page of audit entries, newest first.")
class AuditLogConnection:
    edges: list[AuditLogEdge] = strawberry.field(description="Entries with cursors.")
    nodes: list[AuditLogEntry] = strawberry.field(description="Entries of this page.")
    page_info: PageInfo = strawberry.field(description="Pagination state.")


@strawberry.input(description="Narrow the audit log; all given conditions must hold.")
class AuditLogFilter:
    actions: list[str] | None = strawberry.field(default=None, description="Any of actions.")
    actor_user_id: strawberry.ID | None = strawberry.field(default=None, description="Actor.")
    target_type: str | None = strawberry.field(default=None, description="Kind of target.")
    target_id: str | None = strawberry.field(default=None, description="Raw id of target.")
    since: datetime | None = strawberry.field(default=None, description="At or after.")
    until: datetime | None = strawberry.field(default=None, description="Before.")


async def audit_page(
    info: Info, team_id: uuid.UUID, first: int, after: str | None, filter: AuditLogFilter | None
) -> AuditLogConnection:
    f = filter or AuditLogFilter()
    flt = audit.AuditFilter(
        actions=f.actions,
        actor_user_id=parse_id(f.actor_user_id, "User") if f.actor_user_id else None,
        target_type=f.target_type,
        target_id=f.target_id,
        since=f.since,
        until=f.until,
    )
    async with info.context.session() as s:
        page = await audit.list_entries(
            s, await info.context.principal(), team_id=team_id, filter=flt, first=first, after=after
        )
    nodes = [AuditLogEntry.from_row(r) for r in page.items]
    return AuditLogConnection(
        edges=[AuditLogEdge(cursor=c, node=n) for c, n in zip(page.cursors, nodes, strict=True)],
        nodes=nodes,
        page_info=PageInfo.of(page),
    )
