"""Remote commands (issue 16): commands, their attachments and the chunks in transit.

Revision ID: 0003_commands
Revises: 0002_console
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_commands"
down_revision: str | Sequence[str] | None = "0002_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The types as they were at this revision (opscentre.db may change; this file may not).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime()  # naive UTC (opscentre.db.UTCDateTime)


def upgrade() -> None:
    op.create_table(
        "commands",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("args", JSON, nullable=False),
        sa.Column("operator", sa.String(128), nullable=False),
        sa.Column("issued_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("batch", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("result", JSON, nullable=False),
        sa.Column("history", JSON, nullable=False),
        sa.Column("sent_at", TIME, nullable=True),
        sa.Column("updated_at", TIME, nullable=True),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("audit_id", ID, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commands")),
    )
    op.create_index("ix_commands_terminal_id_issued_at", "commands", ["terminal_id", "issued_at"])
    op.create_index("ix_commands_state_expires_at", "commands", ["state", "expires_at"])
    op.create_index(op.f("ix_commands_issued_at"), "commands", ["issued_at"])
    op.create_index(op.f("ix_commands_batch"), "commands", ["batch"])
    op.create_table(
        "command_files",
        sa.Column("command_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("problem", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("completed_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(["command_id"], ["commands.id"], ondelete="CASCADE",
                                name=op.f("fk_command_files_command_id_commands")),
        sa.PrimaryKeyConstraint("command_id", name=op.f("pk_command_files")),
    )
    op.create_table(
        "command_chunks",
        sa.Column("command_id", sa.String(64), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["command_id"], ["command_files.command_id"],
                                ondelete="CASCADE",
                                name=op.f("fk_command_chunks_command_id_command_files")),
        sa.PrimaryKeyConstraint("command_id", "n", name=op.f("pk_command_chunks")),
    )


def downgrade() -> None:
    op.drop_table("command_chunks")
    op.drop_table("command_files")
    op.drop_table("commands")
