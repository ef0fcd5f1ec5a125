"""Deployments (a build released to an environment with a strategy) and their timelines."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, IdMixin, TimestampMixin, utcnow
from db.enums import DeploymentEventKind, DeploymentStatus, DeploymentStrategy, LogStream


def _values(e: type[Any]) -> list[str]:
    return [m.value for m in e]


class Deployment(IdMixin, TimestampMixin, Base):
    __tablename__ = "deployments"
    __table_args__ = (
        UniqueConstraint("project_id", "number", name="uq_deployments_project_number"),
        UniqueConstraint(
            "project_id", "idempotency_key", name="uq_deployments_project_idempotency_key"
        ),
        CheckConstraint("traffic_weight between 0 and 100", name="weight"),
        Index("ix_deployments_project_created", "project_id", "created_at", "id"),
        # Routes are rebuilt per environment from the deployments still holding a release.
        Index("ix_deployments_environment_live", "environment_id", "status"),
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
    build_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("builds.id", ondelete="CASCADE"), nullable=False
    )
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    strategy: Mapped[DeploymentStrategy] = mapped_column(
        Enum(DeploymentStrategy, name="deployment_strategy", values_callable=_values),
        nullable=False,
    )
    status: Mapped[DeploymentStatus] = mapped_column(
        Enum(DeploymentStatus, name="deployment_status", values_callable=_values), nullable=False
    )
    # What the router sends to this deployment right now (DB first, then the route table).
    traffic_weight: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # CANARY: the weight to start with.
    canary_weight: Mapped[int | None] = mapped_column(Integer)
    replicas: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    # The running release: its id in the runtime and "host:port" per replica. Null upstreams
    # means nothing of it runs (not started yet, or stopped).
    release_id: Mapped[str | None] = mapped_column(String(64))
    # none_as_null: Python None must be SQL NULL (not JSON null), or "IS NOT NULL" checks
    # would count released deployments as still holding a release.
    upstreams: Mapped[list[str] | None] = mapped_column(JSONB(none_as_null=True))
    # The release is kept warm for instant rollback until then.
    retained_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The deployment that served before this one (automatic rollback goes back to it).
    previous_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("deployments.id", ondelete="SET NULL")
    )
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_event_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class DeploymentEvent(Base):
    """One entry of a deployment's timeline; (deployment_id, seq) is the resume cursor."""

    __tablename__ = "deployment_events"

    deployment_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    kind: Mapped[DeploymentEventKind] = mapped_column(
        Enum(DeploymentEventKind, name="deployment_event_kind", values_callable=_values),
        nullable=False,
    )
    status: Mapped[DeploymentStatus] = mapped_column(
        Enum(DeploymentStatus, name="deployment_status", values_callable=_values), nullable=False
    )
    step: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)


class DeploymentLogLine(Base):
    """One line of a running release's output, numbered per deployment (`seq`, the cursor).

    (deployment_id, seq) is the key: re-inserting a batch is harmless.
    """

    __tablename__ = "deployment_log_lines"

    deployment_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    # SYSTEM: a notice of the runtime (e.g. lines dropped because the pipeline was slow).
    stream: Mapped[LogStream] = mapped_column(
        Enum(LogStream, name="log_stream", values_callable=_values), nullable=False
    )
    replica: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    text: Mapped[str] = mapped_column(Text, nullable=False)
