"""Live events for the signed-in viewer over websockets."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Annotated

import strawberry

from app.domain import audit, teams
from app.domain.policy import Action, allowed_actions, team_role
from app.domain.principal import require_principal
from app.errors import AppError, ErrorCode, Forbidden, NotFound, UserInputError
from app.events import SubscriberLagged
from resolvers.audit import AuditLogEntry
from resolvers.context import Info

MIN_HEARTBEAT_MS = 50
MAX_HEARTBEAT_MS = 60_000


@strawberry.type(description="Sent every `heartbeatMs` without other events.")
class Heartbeat:
    at: datetime = strawberry.field(description="Server time.")


@strawberry.type(description="A mutation was recorded in one of the viewer's teams.")
class AuditEvent:
    cursor: str = strawberry.field(description="Stream position of this event.")
    entry: AuditLogEntry = strawberry.field(description="The audit entry.")


ViewerEvent = Annotated[
    Heartbeat | AuditEvent,
    strawberry.union("ViewerEvent", description="An event for the signed-in viewer."),
]


class SubscriberLaggedError(AppError):
    code = "SUBSCRIBER_LAGGED"


def _check(heartbeat_ms: int, first: int | None) -> float | None:
    if heartbeat_ms and not MIN_HEARTBEAT_MS <= heartbeat_ms <= MAX_HEARTBEAT_MS:
        raise UserInputError.one(
            ErrorCode.INVALID_ARGUMENT,
            f"heartbeatMs must be 0 or {MIN_HEARTBEAT_MS}-{MAX_HEARTBEAT_MS}",
            "heartbeatMs",
        )
    if first is not None and first < 1:
        raise UserInputError.one(ErrorCode.INVALID_ARGUMENT, "first must be positive", "first")
    return heartbeat_ms / 1000 if heartbeat_ms else None


@strawberry.type
class ViewerSubscriptions:
    @strawberry.subscription(
        description="Audit events of the viewer's teams (entries the viewer may read), with "
        "optional heartbeats; completes after `first` events when given."
    )
    async def viewer_events(
        self, info: Info, heartbeat_ms: int = 0, first: int | None = None
    ) -> AsyncGenerator[ViewerEvent, None]:
        idle = _check(heartbeat_ms, first)
        # The websocket context lives as long as the connection: take a fresh
        # principal (empty role cache) for this operation.
        principal = require_principal(await info.context.principal()).fresh()
        readable: list[uuid.UUID] = []
        async with info.context.session() as s:
            for team in await teams.list_viewer_teams(s, principal):
                role = await team_role(s, principal, team.id)
                if role and Action.AUDIT_READ in allowed_actions(principal, role):
                    readable.append(team.id)
        sent = 0
        async with info.context.deps.events.subscribe(
            [audit.team_stream(t) for t in readable]
        ) as sub:
            while first is None or sent < first:
                try:
                    event = await sub.get(idle)
                except SubscriberLagged:
                    raise SubscriberLaggedError("too slow; subscribe again") from None
                if event is None:
                    yield Heartbeat(at=datetime.now(UTC))
                else:
                    # Authorized per event with no cached roles: a viewer who left the team
                    # (or lost audit access) since subscribing must stop seeing its events.
                    async with info.context.session() as s:
                        try:
                            row = await audit.get_entry(
                                s, principal.fresh(), entry_id=uuid.UUID(event.payload["entryId"])
                            )
                        except (NotFound, Forbidden):
                            continue
                    yield AuditEvent(cursor=event.id, entry=AuditLogEntry.from_row(row))
                sent += 1
