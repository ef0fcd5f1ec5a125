"""Builds: trigger, cancel, read, logs (history and live), status events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry

from app.domain import build_logs, builds, project_secrets, webhooks
from app.domain.build_logs import LogFilter, LogLine, LogReaderLagged
from app.errors import AppError, ErrorCode, UserInputError
from app.events import SubscriberLagged
from db import models
from db.enums import BuildStatus, BuildStep, BuildTrigger, LogStream
from resolvers.common import Node, PageInfo, UserError, run_mutation, seq_cursor
from resolvers.context import Info
from resolvers.ids import parse_id, to_global_id

strawberry.enum(BuildStatus, description="Where a build is in its life.")
strawberry.enum(BuildStep, description="A phase of a build.")
strawberry.enum(BuildTrigger, description="What started a build.")
strawberry.enum(LogStream, description="Where a log line came from.")

MAX_LOG_PAGE = 1_000


class SubscriberLaggedError(AppError):
    code = "SUBSCRIBER_LAGGED"


@strawberry.type(description="One step of a build with its timing.")
class BuildStepRun:
    name: str = strawberry.field(description="clone, install, build or package.")
    status: str = strawberry.field(description="running, succeeded, failed, canceled...")
    started_at: datetime | None = strawberry.field(description="Start time.")
    finished_at: datetime | None = strawberry.field(description="End time.")
    duration_ms: int | None = strawberry.field(description="Duration in milliseconds.")
    exit_code: int | None = strawberry.field(description="Exit code of the step's command.")

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BuildStepRun:
        def ts(key: str) -> datetime | None:
            return datetime.fromisoformat(d[key]) if d.get(key) else None

        return cls(
            name=str(d.get("name")),
            status=str(d.get("status")),
            started_at=ts("startedAt"),
            finished_at=ts("finishedAt"),
            duration_ms=d.get("durationMs"),
            exit_code=d.get("exitCode"),
        )


@strawberry.type(description="A line of build output.")
class BuildLogLine:
    seq: int = strawberry.field(description="Per-build sequence number; the cursor.")
    at: datetime = strawberry.field(description="When the line was emitted.")
    stream: LogStream = strawberry.field(description="stdout, stderr or system.")
    step: str | None = strawberry.field(description="Step that printed it.")
    text: str = strawberry.field(description="The line, ANSI colour codes preserved.")
    truncated: bool = strawberry.field(description="True when the line was cut at the limit.")

    @classmethod
    def from_line(cls, ln: LogLine) -> BuildLogLine:
        return cls(
            seq=ln.seq,
            at=ln.ts,
            stream=ln.stream,
            step=ln.step,
            text=ln.text,
            truncated=ln.truncated,
        )


@strawberry.type(description="A page of build log lines, oldest first.")
class BuildLogConnection:
    lines: list[BuildLogLine] = strawberry.field(description="Lines of this page.")
    page_info: PageInfo = strawberry.field(description="Pass endCursor as `after`.")


@strawberry.input(description="Narrow the log; all given conditions must hold.")
class BuildLogFilter:
    search: str | None = strawberry.field(default=None, description="Text contained.")
    streams: list[LogStream] | None = strawberry.field(default=None, description="Streams.")
    steps: list[str] | None = strawberry.field(default=None, description="Steps.")


@strawberry.type(description="One build of a project at a git commit.")
class Build(Node):
    number: int = strawberry.field(description="Per-project build number.")
    status: BuildStatus = strawberry.field(description="Current status.")
    current_step: BuildStep | None = strawberry.field(description="Step now running.")
    git_ref: str = strawberry.field(description="Requested branch, tag or commit.")
    commit_sha: str | None = strawberry.field(description="Resolved commit.")
    trigger: BuildTrigger = strawberry.field(description="What started it.")
    reason: str | None = strawberry.field(
        description="Why it did not succeed: STEP_FAILED, TIMED_OUT, CANCELED, WORKER_LOST, "
        "DETECTION_FAILED, SOURCE_ERROR, RESOURCE_LIMIT, OUTPUT_LIMIT."
    )
    message: str | None = strawberry.field(description="Human explanation of the outcome.")
    steps: list[BuildStepRun] = strawberry.field(description="Steps run so far, in order.")
    cache_hit: bool | None = strawberry.field(description="Dependency cache restored.")
    artifact_sha256: str | None = strawberry.field(description="sha256 of the artifact.")
    artifact_size: int | None = strawberry.field(description="Artifact size in bytes.")
    framework: str | None = strawberry.field(description="Detected build kind.")
    project_id: strawberry.ID = strawberry.field(description="Project built.")
    created_at: datetime = strawberry.field(description="When it was queued.")
    started_at: datetime | None = strawberry.field(description="When it started running.")
    finished_at: datetime | None = strawberry.field(description="When it ended.")
    row_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, r: models.Build) -> Build:
        return cls(
            id=strawberry.ID(to_global_id("Build", r.id)),
            number=r.number,
            status=r.status,
            current_step=r.current_step,
            git_ref=r.git_ref,
            commit_sha=r.commit_sha,
            trigger=r.trigger,
            reason=r.reason,
            message=r.message,
            steps=[BuildStepRun.from_json(d) for d in r.steps or []],
            cache_hit=r.cache_hit,
            artifact_sha256=r.artifact_sha256,
            artifact_size=r.artifact_size,
            framework=r.framework,
            project_id=strawberry.ID(to_global_id("Project", r.project_id)),
            created_at=r.created_at,
            started_at=r.started_at,
            finished_at=r.finished_at,
            row_id=r.id,
        )

    @strawberry.field(description="Log history, oldest first (at most 1,000 lines a page).")
    async def logs(
        self,
        info: Info,
        first: int = 200,
        after: str | None = None,
        filter: BuildLogFilter | None = None,
    ) -> BuildLogConnection:
        if not 0 <= first <= MAX_LOG_PAGE:
            raise UserInputError.one(
                ErrorCode.INVALID_ARGUMENT, f"first must be between 0 and {MAX_LOG_PAGE}", "first"
            )
        f = filter or BuildLogFilter()
        async with info.context.session() as s:
            lines = await build_logs.history(
                s,
                self.row_id,
                after=seq_cursor(after),
                limit=first + 1,
                filter=LogFilter(search=f.search, streams=f.streams, steps=f.steps),
            )
        page = lines[:first]
        return BuildLogConnection(
            lines=[BuildLogLine.from_line(ln) for ln in page],
            page_info=PageInfo(
                has_next_page=len(lines) > first, end_cursor=str(page[-1].seq) if page else after
            ),
        )


@strawberry.type(description="An edge of a BuildConnection.")
class BuildEdge:
    cursor: str = strawberry.field(description="Cursor of this build.")
    node: Build = strawberry.field(description="The build.")


@strawberry.type(description="A page of builds, newest first.")
class BuildConnection:
    edges: list[BuildEdge] = strawberry.field(description="Builds with cursors.")
    nodes: list[Build] = strawberry.field(description="Builds of this page.")
    page_info: PageInfo = strawberry.field(description="Pagination state.")


async def build_page(
    info: Info, project_id: uuid.UUID, first: int, after: str | None
) -> BuildConnection:
    async with info.context.session() as s:
        page = await builds.list_builds(
            s, await info.context.principal(), project_id=project_id, first=first, after=after
        )
    nodes = [Build.from_row(r) for r in page.items]
    return BuildConnection(
        edges=[BuildEdge(cursor=c, node=n) for c, n in zip(page.cursors, nodes, strict=True)],
        nodes=nodes,
        page_info=PageInfo.of(page),
    )


@strawberry.type(description="A batch of live log lines.")
class BuildLogBatch:
    lines: list[BuildLogLine] = strawberry.field(description="Lines, in order.")
    cursor: str = strawberry.field(description="Pass as `after` to resume after this batch.")


@strawberry.type(description="A status or step change of a build.")
class BuildEvent:
    status: BuildStatus = strawberry.field(description="Status after the change.")
    step: BuildStep | None = strawberry.field(description="Step running after the change.")
    reason: str | None = strawberry.field(description="Failure reason, when ended.")
    message: str | None = strawberry.field(description="Explanation.")
    at: datetime = strawberry.field(description="When it changed.")

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> BuildEvent:
        return cls(
            status=BuildStatus(p["status"]),
            step=BuildStep(p["step"]) if p.get("step") else None,
            reason=p.get("reason"),
            message=p.get("message"),
            at=datetime.fromisoformat(p["at"]),
        )


@strawberry.input(description="Build a project at a git ref.")
class TriggerBuildInput:
    project_id: strawberry.ID = strawberry.field(description="Project to build.")
    ref: str | None = strawberry.field(
        default=None, description="Branch, tag or commit; default: the production branch."
    )
    environment: str | None = strawberry.field(
        default=None,
        description="Environment whose variables the build sees; default: "
        "production for the production branch, preview otherwise.",
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="Same key, same build: safe to retry."
    )


@strawberry.type(description="Result of triggerBuild / cancelBuild.")
class BuildPayload:
    build: Build | None = strawberry.field(description="The build, unless userErrors.")
    user_errors: list[UserError] = strawberry.field(description="Input problems.")


@strawberry.input(description="Build to cancel.")
class CancelBuildInput:
    build_id: strawberry.ID = strawberry.field(description="Build to cancel.")


@strawberry.input(description="The token used to clone a private repository.")
class SetProjectGitCredentialInput:
    project_id: strawberry.ID = strawberry.field(description="Project.")
    token: str | None = strawberry.field(description="Token (write-only); null clears it.")


@strawberry.type(description="Result of setProjectGitCredential.")
class SetProjectGitCredentialPayload:
    ok: bool = strawberry.field(description="True when stored (or cleared).")
    user_errors: list[UserError] = strawberry.field(description="Input problems.")


@strawberry.input(description="Generate a new push-webhook secret (the old one stops working).")
class RotateProjectWebhookSecretInput:
    project_id: strawberry.ID = strawberry.field(description="Project.")


@strawberry.type(description="Result of rotateProjectWebhookSecret. The secret is shown once.")
class RotateProjectWebhookSecretPayload:
    secret: str | None = strawberry.field(description="HMAC secret for X-Hub-Signature-256.")
    webhook_url: str | None = strawberry.field(description="URL to send push events to.")
    user_errors: list[UserError] = strawberry.field(description="Input problems.")


@strawberry.type
class BuildQueries:
    @strawberry.field(description="A build by id.")
    async def build(self, info: Info, id: strawberry.ID) -> Build:
        async with info.context.session() as s:
            row = await builds.get_build(
                s, await info.context.principal(), build_id=parse_id(id, "Build")
            )
        return Build.from_row(row)


@strawberry.type
class BuildMutations:
    @strawberry.mutation(description="Queue a build (idempotent with idempotencyKey).")
    async def trigger_build(self, info: Info, input: TriggerBuildInput) -> BuildPayload:
        project_id = parse_id(input.project_id, "Project")
        row, errors = await run_mutation(
            info,
            lambda uow: builds.trigger_build(
                uow,
                project_id=project_id,
                ref=input.ref,
                environment=input.environment,
                idempotency_key=input.idempotency_key,
            ),
        )
        return BuildPayload(build=Build.from_row(row) if row else None, user_errors=errors)

    @strawberry.mutation(description="Cancel a queued or running build (stops within 2 s).")
    async def cancel_build(self, info: Info, input: CancelBuildInput) -> BuildPayload:
        build_id = parse_id(input.build_id, "Build")
        row, errors = await run_mutation(
            info, lambda uow: builds.cancel_build(uow, build_id=build_id)
        )
        return BuildPayload(build=Build.from_row(row) if row else None, user_errors=errors)

    @strawberry.mutation(description="Store (or clear) the token for a private repository.")
    async def set_project_git_credential(
        self, info: Info, input: SetProjectGitCredentialInput
    ) -> SetProjectGitCredentialPayload:
        project_id = parse_id(input.project_id, "Project")
        row, errors = await run_mutation(
            info,
            lambda uow: project_secrets.set_git_credential(
                uow, project_id=project_id, token=input.token
            ),
        )
        return SetProjectGitCredentialPayload(ok=row is not None, user_errors=errors)

    @strawberry.mutation(description="New push-webhook secret; returns it and the URL once.")
    async def rotate_project_webhook_secret(
        self, info: Info, input: RotateProjectWebhookSecretInput
    ) -> RotateProjectWebhookSecretPayload:
        project_id = parse_id(input.project_id, "Project")
        new, errors = await run_mutation(
            info, lambda uow: project_secrets.rotate_webhook_secret(uow, project_id=project_id)
        )
        url = webhooks.webhook_url(info.context.deps.settings.public_url, input.project_id)
        return RotateProjectWebhookSecretPayload(
            secret=new.secret if new else None, webhook_url=url if new else None, user_errors=errors
        )


@strawberry.type
class BuildSubscriptions:
    @strawberry.subscription(
        description="Log lines after `after` (a line's seq), replayed then live, in batches; "
        "completes when the build ends. Reconnect with the last cursor to miss nothing. "
        "A client too slow to keep up gets SUBSCRIBER_LAGGED with the cursor to resume from."
    )
    async def build_logs(
        self, info: Info, build_id: strawberry.ID, after: str | None = None
    ) -> AsyncGenerator[BuildLogBatch, None]:
        principal = await info.context.principal()
        row_id = parse_id(build_id, "Build")
        async with info.context.session() as s:
            await builds.get_build(s, principal, build_id=row_id)
        deps = info.context.deps
        try:
            # Over websockets: the process's shared feed of this build (app/http/fanout.py).
            async for batch in build_logs.tail(
                deps.sessionmaker, deps.events, row_id, after=seq_cursor(after)
            ):
                yield BuildLogBatch(
                    lines=[BuildLogLine.from_line(ln) for ln in batch], cursor=str(batch[-1].seq)
                )
        except LogReaderLagged as exc:
            raise SubscriberLaggedError(
                "too slow; resume with the cursor", cursor=str(exc.cursor)
            ) from None

    @strawberry.subscription(
        description="The build's current status, then every status and step change; "
        "completes when the build ends."
    )
    async def build_events(
        self, info: Info, build_id: strawberry.ID
    ) -> AsyncGenerator[BuildEvent, None]:
        principal = await info.context.principal()
        row_id = parse_id(build_id, "Build")
        events = info.context.deps.events
        # Subscribe before reading the snapshot so no change falls in between.
        async with events.subscribe([builds.events_stream(row_id)]) as sub:
            async with info.context.session() as s:
                row = await builds.get_build(s, principal, build_id=row_id)
            current = BuildEvent.from_payload(builds.status_event(row))
            yield current
            while not current.status.is_terminal:
                try:
                    event = await sub.get(30.0)
                except SubscriberLagged:
                    raise SubscriberLaggedError("too slow; subscribe again") from None
                if event is None:
                    async with info.context.session() as s:
                        row = await builds.get_build(s, principal, build_id=row_id)
                    if row.status == current.status:
                        continue
                    current = BuildEvent.from_payload(builds.status_event(row))
                else:
                    current = BuildEvent.from_payload(event.payload)
                yield current
