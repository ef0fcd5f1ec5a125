"""Builds, their log lines, and de-duplicated push-webhook deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, IdMixin, TimestampMixin, utcnow
from db.enums import BuildStatus, BuildStep, BuildTrigger, LogStream


def _values(e: type[Any]) -> list[str]:
    return [m.value for m in e]


class Build(IdMixin, TimestampMixin, Base):
    __tablename__ = "builds"
    __table_args__ = (
        UniqueConstraint("project_id", "number", name="uq_builds_project_number"),
        UniqueConstraint("project_id", "idempotency_key", name="uq_builds_project_idempotency_key"),
        Index("ix_builds_project_created", "project_id", "created_at", "id"),
        # The reconciler and the concurrency check look for live builds only.
        Index("ix_builds_live", "status", postgresql_where="status in ('queued', 'running')"),
    )

    team_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("teams.id", ondelete="CASCADE"), nullable=False
    )
    project_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
    )
    environment_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("environments.id", ondelete="CASCADE"), nullable=False
    )
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    git_ref: Mapped[str] = mapped_column(String(255), nullable=False)
    commit_sha: Mapped[str | None] = mapped_column(String(40))
    trigger: Mapped[BuildTrigger] = mapped_column(
        Enum(BuildTrigger, name="build_trigger", values_callable=_values), nullable=False
    )
    status: Mapped[BuildStatus] = mapped_column(
        Enum(BuildStatus, name="build_status", values_callable=_values), nullable=False
    )
    current_step: Mapped[BuildStep | None] = mapped_column(
        Enum(BuildStep, name="build_step", values_callable=_values)
    )
    # Machine-readable cause of a failure (WORKER_LOST, STEP_FAILED, ...) and a sentence.
    reason: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text)
    # [{name, status, startedAt, finishedAt, durationMs, exitCode}], in run order.
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, default=list)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cache_hit: Mapped[bool | None] = mapped_column()
    artifact_uri: Mapped[str | None] = mapped_column(String(1024))
    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    artifact_size: Mapped[int | None] = mapped_column(BigInteger)
    framework: Mapped[str | None] = mapped_column(String(32))
    start_command: Mapped[str | None] = mapped_column(String(2048))
    last_log_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class BuildLogLine(Base):
    """One output line. (build_id, seq) is the key: re-inserting a batch is harmless."""

    __tablename__ = "build_log_lines"

    build_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("builds.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    stream: Mapped[LogStream] = mapped_column(
        Enum(LogStream, name="log_stream", values_callable=_values), nullable=False
    )
    step: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, nullable=False)
    truncated: Mapped[bool] = mapped_column(nullable=False, default=False)


class WebhookDelivery(Base):
    """A push delivery already handled; redeliveries of the same id build nothing."""

    __tablename__ = "webhook_deliveries"

    project_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    delivery_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    build_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("builds.id", ondelete="SET NULL")
    )
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, nullable=False
    )
