"""The project activity feed: builds and deployments of one project, live over websockets."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from enum import Enum

import strawberry

from app.domain import activity, projects
from app.errors import ErrorCode, UserInputError
from app.events import Event, SubscriberLagged
from db.enums import DeploymentEventKind

# Imported first: it registers DeploymentEventKind (with its description) with strawberry;
# the enum used below before that would be registered a second time, without it.
from resolvers import deployments as _registers_enums  # noqa: F401
from resolvers.builds import SubscriberLaggedError
from resolvers.context import Info
from resolvers.ids import parse_id, to_global_id

MAX_CURSOR = 40


@strawberry.enum(description="What an activity entry is about.")
class ActivitySubject(Enum):
    BUILD = "build"
    DEPLOYMENT = "deployment"


@strawberry.type(description="A build's status change or a deployment's timeline event.")
class ProjectActivity:
    cursor: str = strawberry.field(description="Resume after this entry with `after`.")
    at: datetime = strawberry.field(description="When it happened.")
    subject: ActivitySubject = strawberry.field(description="Build or deployment.")
    build_id: strawberry.ID | None = strawberry.field(description="The build (subject BUILD).")
    deployment_id: strawberry.ID | None = strawberry.field(
        description="The deployment (subject DEPLOYMENT)."
    )
    number: int = strawberry.field(description="The build's or deployment's number.")
    status: str = strawberry.field(
        description="Its status after the change (a BuildStatus or DeploymentStatus value)."
    )
    event: DeploymentEventKind | None = strawberry.field(
        description="DEPLOYMENT: the kind of timeline event (its details: deploymentEvents)."
    )
    message: str | None = strawberry.field(description="Human summary.")

    @classmethod
    def from_event(cls, e: Event) -> ProjectActivity:
        p = e.payload
        subject = ActivitySubject(p["subject"])
        row_id = uuid.UUID(p["id"])
        return cls(
            cursor=e.id,
            at=datetime.fromisoformat(p["at"]),
            subject=subject,
            build_id=strawberry.ID(to_global_id("Build", row_id))
            if subject == ActivitySubject.BUILD
            else None,
            deployment_id=strawberry.ID(to_global_id("Deployment", row_id))
            if subject == ActivitySubject.DEPLOYMENT
            else None,
            number=int(p["number"]),
            status=str(p["status"]).upper(),
            event=DeploymentEventKind(p["event"]) if p.get("event") else None,
            message=p.get("message"),
        )


@strawberry.type
class ActivitySubscriptions:
    @strawberry.subscription(
        description="The project's builds and deployments as they change: status changes "
        "and timeline events, live. With `after` (a cursor), entries since then are replayed "
        "first; the newest 10,000 entries are retained. Never completes (close it when done)."
    )
    async def project_activity(
        self, info: Info, project_id: strawberry.ID, after: str | None = None
    ) -> AsyncGenerator[ProjectActivity, None]:
        row_id = parse_id(project_id, "Project")
        if after is not None:
            try:
                if len(after) > MAX_CURSOR:
                    raise ValueError(after)
                activity.parse_cursor(after)
            except ValueError:
                raise UserInputError.one(
                    ErrorCode.INVALID_CURSOR, "cursor is not valid", "after"
                ) from None
        async with info.context.session() as s:
            await projects.get_project(s, await info.context.principal(), project_id=row_id)
        try:
            async for event in activity.follow(info.context.deps.events, row_id, after=after):
                yield ProjectActivity.from_event(event)
        except SubscriberLagged:
            raise SubscriberLaggedError("too slow; resume with the last cursor") from None
