"""Remote help (issue 19): call records.

Revision ID: 0005_assist_calls
Revises: 0004_rollouts
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_assist_calls"
down_revision: str | Sequence[str] | None = "0004_rollouts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The types as they were at this revision (opscentre.db may change; this file may not).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime()  # naive UTC (opscentre.db.UTCDateTime)


def upgrade() -> None:
    op.create_table(
        "assist_calls",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("terminal", sa.String(64), nullable=False),
        sa.Column("site", sa.String(128), nullable=False),
        sa.Column("service", sa.String(128), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("requested_at", TIME, nullable=False),
        sa.Column("answered_at", TIME, nullable=True),
        sa.Column("ended_at", TIME, nullable=True),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("agents", JSON, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("end_reason", sa.String(32), nullable=False),
        sa.Column("hold_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assist_calls")),
    )
    op.create_index("ix_assist_calls_terminal", "assist_calls", ["terminal"])
    op.create_index("ix_assist_calls_requested_at", "assist_calls", ["requested_at"])


def downgrade() -> None:
    op.drop_table("assist_calls")
