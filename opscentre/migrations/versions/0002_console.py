"""Console: users, login sessions, API tokens, audit log.

Revision ID: 0002_console
Revises: 0001_centre
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_console"
down_revision: str | Sequence[str] | None = "0001_centre"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The types as they were at this revision (opscentre.db may change; this file may not).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime()  # naive UTC (opscentre.db.UTCDateTime)


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("last_login_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_users")),
        sa.UniqueConstraint("name", name=op.f("uq_console_users_name")),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("last_seen", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["console_users.id"], ondelete="CASCADE",
                                name=op.f("fk_console_sessions_user_id_console_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
    )
    op.create_index(op.f("ix_console_sessions_user_id"), "console_sessions", ["user_id"])
    op.create_index(op.f("ix_console_sessions_expires_at"), "console_sessions", ["expires_at"])
    op.create_table(
        "console_tokens",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("last_used_at", TIME, nullable=True),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_console_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_console_tokens_token_hash")),
    )
    op.create_table(
        "console_audit",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_audit")),
    )
    op.create_index(op.f("ix_console_audit_at"), "console_audit", ["at"])
    op.create_index("ix_console_audit_action_target_at", "console_audit",
                    ["action", "target", "at"])
    op.create_index("ix_console_audit_action_address_at", "console_audit",
                    ["action", "address", "at"])


def downgrade() -> None:
    op.drop_table("console_audit")
    op.drop_table("console_tokens")
    op.drop_table("console_sessions")
    op.drop_table("console_users")
