"""deployment logs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 20:25:40.891994
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployment_log_lines",
        sa.Column("deployment_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        # The type belongs to 0002 (build logs): reuse it, never create or drop it here.
        sa.Column(
            "stream",
            postgresql.ENUM("stdout", "stderr", "system", name="log_stream", create_type=False),
            nullable=False,
        ),
        sa.Column("replica", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_deployment_log_lines_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("deployment_id", "seq", name=op.f("pk_deployment_log_lines")),
    )


def downgrade() -> None:
    op.drop_table("deployment_log_lines")
