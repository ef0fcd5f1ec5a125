"""Projects, their environments and encrypted environment variables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    true,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, IdMixin, TimestampMixin
from db.enums import EnvironmentKind, Framework


def _values(e: type[Framework] | type[EnvironmentKind]) -> list[str]:
    return [m.value for m in e]


class Project(IdMixin, TimestampMixin, Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("team_id", "slug"),)

    team_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("teams.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    slug: Mapped[str] = mapped_column(String(48), nullable=False)
    git_url: Mapped[str] = mapped_column(String(2048), nullable=False, default="")
    production_branch: Mapped[str] = mapped_column(String(255), nullable=False, default="main")
    root_directory: Mapped[str] = mapped_column(String(1024), nullable=False, default="")
    framework: Mapped[Framework] = mapped_column(
        Enum(Framework, name="framework", values_callable=_values), nullable=False
    )
    install_command: Mapped[str | None] = mapped_column(String(2048))
    build_command: Mapped[str | None] = mapped_column(String(2048))
    start_command: Mapped[str | None] = mapped_column(String(2048))
    output_directory: Mapped[str | None] = mapped_column(String(1024))
    health_check_path: Mapped[str] = mapped_column(String(1024), nullable=False, default="/")
    # Pushes deploy: the production branch to production, others to their preview.
    auto_deploy: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=true()
    )
    # Sealed by the SecretBox, never returned: the push-webhook HMAC secret and the
    # token used to clone a private repository.
    webhook_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    webhook_secret_key_id: Mapped[str | None] = mapped_column(String(128))
    git_credential: Mapped[bytes | None] = mapped_column(LargeBinary)
    git_credential_key_id: Mapped[str | None] = mapped_column(String(128))


class Environment(IdMixin, TimestampMixin, Base):
    __tablename__ = "environments"
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        # One preview environment per branch of a project.
        Index(
            "uq_environments_project_branch",
            "project_id",
            "branch",
            unique=True,
            postgresql_where="branch IS NOT NULL",
        ),
        # The cleanup job's scan: previews past their expiry, not yet cleaned up.
        Index(
            "ix_environments_preview_expiry",
            "expires_at",
            postgresql_where="branch IS NOT NULL AND expired_at IS NULL",
        ),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
    )
    # Denormalised so authorization never needs a join through projects.
    team_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("teams.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(48), nullable=False)
    kind: Mapped[EnvironmentKind] = mapped_column(
        Enum(EnvironmentKind, name="environment_kind", values_callable=_values), nullable=False
    )
    # Branch previews (app/domain/previews.py): the branch, the environment whose variables
    # they inherit (the project's "preview"), and when they stop serving.
    branch: Mapped[str | None] = mapped_column(String(255))
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("environments.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EnvironmentVariable(IdMixin, TimestampMixin, Base):
    """A variable whose value is sealed by the SecretBox and never returned by the API."""

    __tablename__ = "environment_variables"
    __table_args__ = (UniqueConstraint("environment_id", "key"),)

    environment_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("environments.id", ondelete="CASCADE"), nullable=False
    )
    team_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("teams.id", ondelete="CASCADE"), nullable=False
    )
    key: Mapped[str] = mapped_column(String(256), nullable=False)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    key_id: Mapped[str] = mapped_column(String(128), nullable=False)
    # HMAC-SHA256 of the value under a server key: lets clients tell whether a
    # value changed without the digest being usable to guess the value offline.
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
