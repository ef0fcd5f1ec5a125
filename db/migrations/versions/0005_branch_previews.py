"""branch preview environments

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 21:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("environments", sa.Column("branch", sa.String(length=255), nullable=True))
    op.add_column("environments", sa.Column("template_id", sa.UUID(), nullable=True))
    op.add_column(
        "environments", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "environments", sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_foreign_key(
        op.f("fk_environments_template_id_environments"),
        "environments",
        "environments",
        ["template_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(
        "uq_environments_project_branch",
        "environments",
        ["project_id", "branch"],
        unique=True,
        postgresql_where=sa.text("branch IS NOT NULL"),
    )
    op.create_index(
        "ix_environments_preview_expiry",
        "environments",
        ["expires_at"],
        postgresql_where=sa.text("branch IS NOT NULL AND expired_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_environments_preview_expiry", table_name="environments")
    op.drop_index("uq_environments_project_branch", table_name="environments")
    op.drop_constraint(
        op.f("fk_environments_template_id_environments"), "environments", type_="foreignkey"
    )
    for column in ("expired_at", "expires_at", "template_id", "branch"):
        op.drop_column("environments", column)
