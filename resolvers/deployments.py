"""Deployments: deploy, cancel, promote, roll back, split traffic, read, timeline events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from app.domain import deploy_events, deploy_logs, deployment_reads, deployments
from app.domain.deploy_events import DeployEvent
from app.domain.deploy_logs import DeployLogLine, LogReaderLagged
from app.domain.deployments import DeployRequest
from app.domain.rollout_traffic import public_url
from app.errors import ErrorCode, UserInputError
from app.events import SubscriberLagged
from db import models
from db.enums import DeploymentEventKind, DeploymentStatus, DeploymentStrategy, LogStream
from resolvers.builds import MAX_LOG_PAGE, Build, SubscriberLaggedError
from resolvers.common import Node, PageInfo, UserError, run_mutation, seq_cursor
from resolvers.context import Info
from resolvers.ids import parse_id, to_global_id

strawberry.enum(DeploymentStrategy, description="How traffic moves to a new release.")
strawberry.enum(DeploymentStatus, description="Where a deployment is in its life.")
strawberry.enum(DeploymentEventKind, description="What a timeline event is about.")


@strawberry.type(description="A line the running app printed (stdout/stderr) or a runtime notice.")
class DeploymentLogLine:
    seq: int = strawberry.field(description="Per-deployment sequence number; the cursor.")
    at: datetime = strawberry.field(description="When the line was printed.")
    stream: LogStream = strawberry.field(
        description="stdout, stderr, or system (e.g. lines dropped by a slow pipeline)."
    )
    replica: int = strawberry.field(description="Index of the replica that printed it.")
    text: str = strawberry.field(description="The line.")

    @classmethod
    def from_line(cls, ln: DeployLogLine) -> DeploymentLogLine:
        return cls(seq=ln.seq, at=ln.ts, stream=ln.stream, replica=ln.replica, text=ln.text)


@strawberry.type(description="A page of deployment log lines, oldest first.")
class DeploymentLogConnection:
    lines: list[DeploymentLogLine] = strawberry.field(description="Lines of this page.")
    page_info: PageInfo = strawberry.field(description="Pass endCursor as `after`.")


@strawberry.type(description="A batch of deployment log lines.")
class DeploymentLogBatch:
    lines: list[DeploymentLogLine] = strawberry.field(description="Lines, in order.")
    cursor: str = strawberry.field(description="Pass as `after` to resume after this batch.")


@strawberry.type(description="A build released to an environment.")
class Deployment(Node):
    number: int = strawberry.field(description="Per-project deployment number.")
    environment: str = strawberry.field(description="Environment name.")
    strategy: DeploymentStrategy = strawberry.field(description="Rollout strategy.")
    status: DeploymentStatus = strawberry.field(description="Current status.")
    traffic_weight: int = strawberry.field(
        description="Percent of the environment's requests the router sends here now."
    )
    replicas: int = strawberry.field(description="Processes serving the release.")
    reason: str | None = strawberry.field(
        description="Why it ended badly: BUILD_FAILED, START_FAILED, HEALTH_CHECK_FAILED, "
        "ERROR_RATE, WORKER_LOST, CANCELED, ROLLED_BACK, NEWER_DEPLOYMENT (a newer deployment "
        "of the environment started), PREVIEW_EXPIRED, INTERNAL_ERROR."
    )
    message: str | None = strawberry.field(description="Human explanation of the outcome.")
    build_id: strawberry.ID = strawberry.field(description="The build released.")
    project_id: strawberry.ID = strawberry.field(description="Project.")
    retained_until: datetime | None = strawberry.field(
        description="A superseded release stays warm for instant rollback until then."
    )
    created_at: datetime = strawberry.field(description="When it was requested.")
    started_at: datetime | None = strawberry.field(description="When its rollout started.")
    finished_at: datetime | None = strawberry.field(description="When its rollout ended.")
    row_id: strawberry.Private[uuid.UUID]
    project_slug: strawberry.Private[str]
    build_row_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The build released (its commit, ref and artifact).")
    async def build(self, info: Info) -> Build:
        row = await info.context.loaders.builds.load(self.build_row_id)
        assert row is not None  # builds.id is a NOT NULL foreign key of deployments
        return Build.from_row(row)

    @strawberry.field(
        description="Where its environment is served: the router, or its Ingress on Kubernetes."
    )
    def url(self, info: Info) -> str:
        return public_url(info.context.deps.settings, self.project_slug, self.environment)

    @strawberry.field(
        description="The running app's output, oldest first (at most 1,000 lines a page)."
    )
    async def logs(
        self, info: Info, first: int = 200, after: str | None = None
    ) -> DeploymentLogConnection:
        if not 0 <= first <= MAX_LOG_PAGE:
            raise UserInputError.one(
                ErrorCode.INVALID_ARGUMENT, f"first must be between 0 and {MAX_LOG_PAGE}", "first"
            )
        async with info.context.session() as s:
            lines = await deploy_logs.history(
                s, self.row_id, after=seq_cursor(after), limit=first + 1
            )
        page = lines[:first]
        return DeploymentLogConnection(
            lines=[DeploymentLogLine.from_line(ln) for ln in page],
            page_info=PageInfo(
                has_next_page=len(lines) > first, end_cursor=str(page[-1].seq) if page else after
            ),
        )

    @classmethod
    def from_row(cls, r: models.Deployment, environment: str, project_slug: str) -> Deployment:
        return cls(
            project_slug=project_slug,
            build_row_id=r.build_id,
            id=strawberry.ID(to_global_id("Deployment", r.id)),
            number=r.number,
            environment=environment,
            strategy=r.strategy,
            status=r.status,
            traffic_weight=r.traffic_weight,
            replicas=r.replicas,
            reason=r.reason,
            message=r.message,
            build_id=strawberry.ID(to_global_id("Build", r.build_id)),
            project_id=strawberry.ID(to_global_id("Project", r.project_id)),
            retained_until=r.retained_until,
            created_at=r.created_at,
            started_at=r.started_at,
            finished_at=r.finished_at,
            row_id=r.id,
        )


async def to_type(info: Info, rows: list[models.Deployment]) -> list[Deployment]:
    async with info.context.session() as s:
        envs = await deployment_reads.environment_refs(s, {r.environment_id for r in rows})
    return [with_environment(r, envs) for r in rows]


def with_environment(r: models.Deployment, envs: dict[uuid.UUID, tuple[str, str]]) -> Deployment:
    name, slug = envs.get(r.environment_id, ("", ""))
    return Deployment.from_row(r, name, slug)


@strawberry.type(description="A step of a deployment's timeline.")
class DeploymentEvent:
    seq: int = strawberry.field(description="Per-deployment sequence number; the cursor.")
    at: datetime = strawberry.field(description="When it happened.")
    kind: DeploymentEventKind = strawberry.field(description="What it is about.")
    status: DeploymentStatus = strawberry.field(description="Deployment status after it.")
    step: str | None = strawberry.field(description="Traffic step, e.g. `50%`.")
    message: str | None = strawberry.field(description="Human description.")
    payload: JSON = strawberry.field(
        description="Typed details: traffic {from,to,split}, health {attempts,status}, "
        "observation/rollback {requests,errors5xx,errorRate,threshold,reason}."
    )

    @classmethod
    def from_event(cls, e: DeployEvent) -> DeploymentEvent:
        return cls(
            seq=e.seq,
            at=e.at,
            kind=e.kind,
            status=e.status,
            step=e.step,
            message=e.message,
            payload=cast(JSON, e.payload),
        )


@strawberry.type(description="An edge of a DeploymentConnection.")
class DeploymentEdge:
    cursor: str = strawberry.field(description="Cursor of this deployment.")
    node: Deployment = strawberry.field(description="The deployment.")


@strawberry.type(description="A page of deployments, newest first.")
class DeploymentConnection:
    edges: list[DeploymentEdge] = strawberry.field(description="Deployments with cursors.")
    nodes: list[Deployment] = strawberry.field(description="Deployments of this page.")
    page_info: PageInfo = strawberry.field(description="Pagination state.")


async def deployment_page(
    info: Info, project_id: uuid.UUID, first: int, after: str | None, environment: str | None
) -> DeploymentConnection:
    async with info.context.session() as s:
        page = await deployment_reads.list_deployments(
            s,
            await info.context.principal(),
            project_id=project_id,
            first=first,
            after=after,
            environment=environment,
        )
    nodes = await to_type(info, page.items)
    return DeploymentConnection(
        edges=[DeploymentEdge(cursor=c, node=n) for c, n in zip(page.cursors, nodes, strict=True)],
        nodes=nodes,
        page_info=PageInfo.of(page),
    )


async def active_list(info: Info, project_id: uuid.UUID, environment: str) -> list[Deployment]:
    async with info.context.session() as s:
        rows = await deployment_reads.active_deployments(
            s, await info.context.principal(), project_id=project_id, environment=environment
        )
    return await to_type(info, rows)


@strawberry.input(description="Release a build (or build a git ref first) to an environment.")
class DeployInput:
    project_id: strawberry.ID = strawberry.field(description="Project to deploy.")
    environment: str | None = strawberry.field(
        default=None,
        description="Environment name. Default: production for the production branch (or a "
        "build's own environment); any other branch deploys to its own preview "
        '("preview" also means the branch\'s preview).',
    )
    git_ref: str | None = strawberry.field(
        default=None, description="Build this ref first (give this or buildId)."
    )
    build_id: strawberry.ID | None = strawberry.field(
        default=None, description="Release this build (give this or gitRef)."
    )
    strategy: DeploymentStrategy = strawberry.field(
        default=DeploymentStrategy.BLUE_GREEN, description="How traffic moves."
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="Same key, same deployment: safe to retry."
    )
    canary_weight: int | None = strawberry.field(
        default=None, description="CANARY: initial percent to the new release (default 10)."
    )
    replicas: int = strawberry.field(default=1, description="Processes to run (1-32).")


@strawberry.input(description="A deployment to act on.")
class DeploymentIdInput:
    deployment_id: strawberry.ID = strawberry.field(description="Deployment.")


@strawberry.input(description="A waiting canary's share of the traffic.")
class SetTrafficSplitInput:
    deployment_id: strawberry.ID = strawberry.field(description="The canary deployment.")
    weight: int = strawberry.field(description="Percent to the canary; the rest to the old one.")


@strawberry.type(description="Result of deploy, cancel, promote and setTrafficSplit.")
class DeploymentPayload:
    deployment: Deployment | None = strawberry.field(description="Unless userErrors.")
    user_errors: list[UserError] = strawberry.field(description="Input problems.")


@strawberry.type(description="Result of rollbackDeployment: what serves from now on.")
class RollbackDeploymentPayload:
    deployment: Deployment | None = strawberry.field(description="The release now serving.")
    serving: list[Deployment] = strawberry.field(description="Every release with traffic.")
    user_errors: list[UserError] = strawberry.field(description="Input problems.")


async def _payload(
    info: Info, row: models.Deployment | None, errors: list[UserError]
) -> DeploymentPayload:
    typed = (await to_type(info, [row]))[0] if row is not None else None
    return DeploymentPayload(deployment=typed, user_errors=errors)


@strawberry.type
class DeploymentQueries:
    @strawberry.field(description="A deployment by id.")
    async def deployment(self, info: Info, id: strawberry.ID) -> Deployment:
        async with info.context.session() as s:
            row = await deployment_reads.get_deployment(
                s, await info.context.principal(), deployment_id=parse_id(id, "Deployment")
            )
        return (await to_type(info, [row]))[0]


@strawberry.type
class DeploymentMutations:
    @strawberry.mutation(description="Deploy a build or a git ref (idempotent with a key).")
    async def deploy(self, info: Info, input: DeployInput) -> DeploymentPayload:
        req = DeployRequest(
            project_id=parse_id(input.project_id, "Project"),
            environment=input.environment,
            git_ref=input.git_ref,
            build_id=parse_id(input.build_id, "Build") if input.build_id else None,
            strategy=input.strategy,
            idempotency_key=input.idempotency_key,
            canary_weight=input.canary_weight,
            replicas=input.replicas,
        )
        row, errors = await run_mutation(info, lambda uow: deployments.deploy(uow, req))
        return await _payload(info, row, errors)

    @strawberry.mutation(description="Stop a rollout; traffic returns to the earlier release.")
    async def cancel_deployment(self, info: Info, input: DeploymentIdInput) -> DeploymentPayload:
        i = parse_id(input.deployment_id, "Deployment")
        row, errors = await run_mutation(
            info, lambda uow: deployments.cancel_deployment(uow, deployment_id=i)
        )
        return await _payload(info, row, errors)

    @strawberry.mutation(description="Send all traffic to a waiting canary.")
    async def promote_deployment(self, info: Info, input: DeploymentIdInput) -> DeploymentPayload:
        i = parse_id(input.deployment_id, "Deployment")
        row, errors = await run_mutation(
            info, lambda uow: deployments.promote_deployment(uow, deployment_id=i)
        )
        return await _payload(info, row, errors)

    @strawberry.mutation(description="Change a waiting canary's share of the traffic.")
    async def set_traffic_split(self, info: Info, input: SetTrafficSplitInput) -> DeploymentPayload:
        i = parse_id(input.deployment_id, "Deployment")
        row, errors = await run_mutation(
            info,
            lambda uow: deployments.set_traffic_split(uow, deployment_id=i, weight=input.weight),
        )
        return await _payload(info, row, errors)

    @strawberry.mutation(
        description="Serve a retained release again at once (no rebuild, no restart)."
    )
    async def rollback_deployment(
        self, info: Info, input: DeploymentIdInput
    ) -> RollbackDeploymentPayload:
        i = parse_id(input.deployment_id, "Deployment")
        result, errors = await run_mutation(
            info, lambda uow: deployments.rollback_deployment(uow, deployment_id=i)
        )
        if result is None:
            return RollbackDeploymentPayload(deployment=None, serving=[], user_errors=errors)
        target, serving = result
        typed = await to_type(info, [target, *serving])
        return RollbackDeploymentPayload(deployment=typed[0], serving=typed[1:], user_errors=[])


async def _readable(
    info: Info, deployment_id: strawberry.ID, after: str | None
) -> tuple[uuid.UUID, int]:
    """A subscription's deployment (NOT_FOUND unless the caller may read it) and cursor."""
    row_id = parse_id(deployment_id, "Deployment")
    cursor = seq_cursor(after)
    async with info.context.session() as s:
        await deployment_reads.get_deployment(
            s, await info.context.principal(), deployment_id=row_id
        )
    return row_id, cursor


@strawberry.type
class DeploymentSubscriptions:
    @strawberry.subscription(
        description="Timeline events after `after` (an event's seq), replayed then live; "
        "completes when the rollout ends. Reconnect with the last seq to miss nothing."
    )
    async def deployment_events(
        self, info: Info, deployment_id: strawberry.ID, after: str | None = None
    ) -> AsyncGenerator[DeploymentEvent, None]:
        row_id, cursor = await _readable(info, deployment_id, after)
        deps = info.context.deps
        try:
            async for event in deploy_events.follow(
                deps.sessionmaker, deps.events, row_id, after=cursor
            ):
                yield DeploymentEvent.from_event(event)
        except SubscriberLagged:
            raise SubscriberLaggedError("too slow; resume with the last seq") from None

    @strawberry.subscription(
        description="The running app's stdout/stderr after `after` (a line's seq), replayed "
        "then live, in batches. Completes once the deployment ended and its release is "
        "stopped; never while it serves (close it when done). Reconnect with the last "
        "cursor to miss nothing. A client too slow to keep up gets SUBSCRIBER_LAGGED with "
        "the cursor to resume from."
    )
    async def deployment_logs(
        self, info: Info, deployment_id: strawberry.ID, after: str | None = None
    ) -> AsyncGenerator[DeploymentLogBatch, None]:
        row_id, cursor = await _readable(info, deployment_id, after)
        deps = info.context.deps
        try:
            async for batch in deploy_logs.follow(
                deps.sessionmaker, deps.events, row_id, after=cursor
            ):
                yield DeploymentLogBatch(
                    lines=[DeploymentLogLine.from_line(ln) for ln in batch],
                    cursor=str(batch[-1].seq),
                )
        except LogReaderLagged as exc:
            raise SubscriberLaggedError(
                "too slow; resume with the cursor", cursor=str(exc.cursor)
            ) from None
