"""The console's tables: users, their sessions, API tokens and the audit log.

On the centre's `Base` (`opscentre.db`), created by the console's own migration
(`opscentre/migrations/versions/0002_console.py`). Secrets are stored only as hashes:
passwords as argon2id, session ids and API tokens as SHA-256 of 32 random bytes (a fast
hash is enough for a random secret and lets the lookup use an index).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from opscentre.db import Base, BigId, Json, UTCDateTime, utcnow


class User(Base):
    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # viewer | operator | admin
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class LoginSession(Base):
    """A signed-in browser: the cookie holds the secret, this row only its hash."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("console_users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))  # per-session token for every form
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    address: Mapped[str] = mapped_column(String(64), default="")


class ApiToken(Base):
    """A bearer token for scripts (`kiosk-ops token create NAME`), shown once at creation."""

    __tablename__ = "console_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Who did what: logins (and failed ones), logouts, acknowledgements, user and token
    changes. Failed logins are also what the login rate limit counts (by account and by
    address), so the limit holds across several console instances and restarts."""

    __tablename__ = "console_audit"
    __table_args__ = (
        Index("ix_console_audit_action_target_at", "action", "target", "at"),
        Index("ix_console_audit_action_address_at", "action", "address", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80), default="")  # user name or token:NAME
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(128), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
