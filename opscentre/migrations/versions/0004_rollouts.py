"""Guarded package rollouts (issue 16): rollouts and their waves.

Revision ID: 0004_rollouts
Revises: 0003_commands
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_rollouts"
down_revision: str | Sequence[str] | None = "0003_commands"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The types as they were at this revision (opscentre.db may change; this file may not).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime()  # naive UTC (opscentre.db.UTCDateTime)
LIVE = sa.text("state IN ('running', 'halted')")


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("package", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("target", sa.String(256), nullable=False),
        sa.Column("min_app_version", sa.String(64), nullable=False),
        sa.Column("previous_version", sa.String(64), nullable=False),
        sa.Column("waves", JSON, nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("soak_s", sa.Float(), nullable=False),
        sa.Column("min_reported", sa.Float(), nullable=False),
        sa.Column("thresholds", JSON, nullable=False),
        sa.Column("baseline", JSON, nullable=False),
        sa.Column("halt_reason", sa.String(64), nullable=False),
        sa.Column("halt_detail", JSON, nullable=False),
        sa.Column("halted_at", TIME, nullable=True),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollouts")),
    )
    # one live (running or halted) rollout per package, whichever instance starts it
    op.create_index("uq_rollouts_live", "rollouts", ["package"], unique=True,
                    sqlite_where=LIVE, postgresql_where=LIVE)
    op.create_index("ix_rollouts_state", "rollouts", ["state"])
    op.create_table(
        "rollout_waves",
        sa.Column("rollout_id", ID, nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("published_at", TIME, nullable=True),
        sa.Column("ready_at", TIME, nullable=True),
        sa.Column("passed_at", TIME, nullable=True),
        sa.Column("targets_version", sa.Integer(), nullable=False),
        sa.Column("stats", JSON, nullable=False),
        sa.ForeignKeyConstraint(["rollout_id"], ["rollouts.id"], ondelete="CASCADE",
                                name=op.f("fk_rollout_waves_rollout_id_rollouts")),
        sa.PrimaryKeyConstraint("rollout_id", "index", name=op.f("pk_rollout_waves")),
    )


def downgrade() -> None:
    op.drop_table("rollout_waves")
    op.drop_index("ix_rollouts_state", table_name="rollouts")
    op.drop_index("uq_rollouts_live", table_name="rollouts")
    op.drop_table("rollouts")
