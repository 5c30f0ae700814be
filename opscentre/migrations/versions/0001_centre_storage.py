"""Centre storage: terminals, health samples, events, alerts, alert conditions,
notifications, ingest counters.

Revision ID: 0001_centre
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_centre"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The types as they were at this revision (opscentre.db may change; this file may not).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime()  # naive UTC (opscentre.db.UTCDateTime)
LIVE = "state != 'closed'"


def upgrade() -> None:
    op.create_table(
        "terminals",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("site", sa.String(128), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("offline_reason", sa.String(16), nullable=False),
        sa.Column("session", sa.String(64), nullable=False),
        sa.Column("state_at", TIME, nullable=True),
        sa.Column("state_msg_at", TIME, nullable=True),
        sa.Column("first_seen", TIME, nullable=False),
        sa.Column("last_seen", TIME, nullable=True),
        sa.Column("last_health_at", TIME, nullable=True),
        sa.Column("health_interval_s", sa.Float(), nullable=False),
        sa.Column("app_version", sa.String(64), nullable=False),
        sa.Column("packages", JSON, nullable=False),
        sa.Column("devices", JSON, nullable=False),
        sa.Column("consumables", JSON, nullable=False),
        sa.Column("faults", JSON, nullable=False),
        sa.Column("fault_count", sa.Integer(), nullable=False),
        sa.Column("paper", sa.String(8), nullable=False),
        sa.Column("outbox_depth", sa.Integer(), nullable=False),
        sa.Column("outbox_oldest_age_s", sa.Float(), nullable=True),
        sa.Column("clock_skew_s", sa.Float(), nullable=True),
        sa.Column("uptime_s", sa.Float(), nullable=True),
        sa.Column("disk", JSON, nullable=False),
        sa.Column("package_problem", sa.String(32), nullable=False),
        sa.Column("package_problem_at", TIME, nullable=True),
        sa.Column("maintenance", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terminals")),
    )
    for col in ("app_version", "fault_count", "last_seen", "online", "paper", "site"):
        op.create_index(op.f(f"ix_terminals_{col}"), "terminals", [col])

    op.create_table(
        "health_samples",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("resolution", sa.Integer(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("fault_count", sa.Integer(), nullable=False),
        sa.Column("paper", sa.String(8), nullable=False),
        sa.Column("outbox_depth", sa.Integer(), nullable=False),
        sa.Column("outbox_oldest_age_s", sa.Float(), nullable=True),
        sa.Column("faults", JSON, nullable=True),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"], ondelete="CASCADE",
                                name=op.f("fk_health_samples_terminal_id_terminals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_samples")),
        sa.UniqueConstraint("terminal_id", "resolution", "at",
                            name=op.f("uq_health_samples_terminal_id_resolution_at")),
    )
    op.create_index("ix_health_samples_resolution_at", "health_samples", ["resolution", "at"])

    op.create_table(
        "events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("topic", sa.String(16), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("device", sa.String(32), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("body", JSON, nullable=False),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"], ondelete="CASCADE",
                                name=op.f("fk_events_terminal_id_terminals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("terminal_id", "message_id",
                            name=op.f("uq_events_terminal_id_message_id")),
    )
    op.create_index("ix_events_terminal_id_at", "events", ["terminal_id", "at"])

    op.create_table(
        "alerts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("acked_at", TIME, nullable=True),
        sa.Column("acked_by", sa.String(64), nullable=True),
        sa.Column("closed_at", TIME, nullable=True),
        sa.Column("clear_since", TIME, nullable=True),
        sa.Column("flaps", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"], ondelete="CASCADE",
                                name=op.f("fk_alerts_terminal_id_terminals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_state_opened_at", "alerts", ["state", "opened_at"])
    op.create_index(op.f("ix_alerts_terminal_id"), "alerts", ["terminal_id"])
    op.create_index("uq_alerts_live", "alerts", ["rule", "terminal_id", "subject"], unique=True,
                    sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE))

    op.create_table(
        "alert_conditions",
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("since", TIME, nullable=False),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"], ondelete="CASCADE",
                                name=op.f("fk_alert_conditions_terminal_id_terminals")),
        sa.PrimaryKeyConstraint("rule", "terminal_id", "subject",
                                name=op.f("pk_alert_conditions")),
    )

    op.create_table(
        "notifications",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("alert_id", ID, nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try", TIME, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("delivered_at", TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="SET NULL",
                                name=op.f("fk_notifications_alert_id_alerts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(op.f("ix_notifications_alert_id"), "notifications", ["alert_id"])
    op.create_index("ix_notifications_state_next_try", "notifications", ["state", "next_try"])

    op.create_table(
        "ingest_counters",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("count", ID, nullable=False),
        sa.Column("last_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("kind", "reason", name=op.f("pk_ingest_counters")),
    )


def downgrade() -> None:
    for table in ("ingest_counters", "notifications", "alert_conditions", "alerts", "events",
                  "health_samples", "terminals"):
        op.drop_table(table)
