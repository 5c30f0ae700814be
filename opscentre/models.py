"""The centre's tables: terminals, health samples, events, alerts, notifications, counters.

Nothing here holds personal data: the fleet channel refuses it (`kiosk.fleet.protocol`).
The console's own tables (users, sessions, API tokens, audit) live in `opscentre.web.models`
on the same `Base`.

Health history stays small by policy (`opscentre.ingest.SamplePolicy`): a raw sample is
kept when something changed or every few minutes, raw samples are rolled up into hourly
ones after two days, and hourly ones are deleted after ninety.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from opscentre.db import Base, BigId, Json, UTCDateTime, utcnow


class AlertState(str, enum.Enum):
    OPEN = "open"
    ACKED = "acked"
    CLOSED = "closed"


class NotificationState(str, enum.Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # after the last attempt: shown to ops, never dropped


class Terminal(Base):
    """The newest known state of one terminal (one row each; history is elsewhere)."""

    __tablename__ = "terminals"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str | None] = mapped_column(String(128), index=True)
    online: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # why the terminal is offline: "will" (the broker's last will), "stale" (no health for
    # too long), "disconnect" (the terminal said goodbye); "" while online
    offline_reason: Mapped[str] = mapped_column(String(16), default="")
    session: Mapped[str] = mapped_column(String(64), default="")  # connection of the state
    state_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # online/offline since
    # terminal clock of the newest state message applied: orders state messages that two
    # centre instances may receive out of order (a last will carries its connect time)
    state_msg_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    last_health_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # terminal clock
    health_interval_s: Mapped[float] = mapped_column(Float, default=60.0)
    app_version: Mapped[str] = mapped_column(String(64), default="", index=True)
    packages: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    devices: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    consumables: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    faults: Mapped[list[str]] = mapped_column(Json, default=list)  # device kinds in fault
    fault_count: Mapped[int] = mapped_column(Integer, default=0, index=True)
    paper: Mapped[str] = mapped_column(String(8), default="ok", index=True)  # ok | low | out
    outbox_depth: Mapped[int] = mapped_column(Integer, default=0)
    outbox_oldest_age_s: Mapped[float | None] = mapped_column(Float)
    clock_skew_s: Mapped[float | None] = mapped_column(Float)  # terminal clock − centre clock
    uptime_s: Mapped[float | None] = mapped_column(Float)
    disk: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    package_problem: Mapped[str] = mapped_column(String(32), default="")  # rejected | rolled_back
    package_problem_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    maintenance: Mapped[bool] = mapped_column(Boolean, default=False)


class HealthSample(Base):
    """One point of a terminal's health timeline: raw (resolution 0) or a rollup."""

    __tablename__ = "health_samples"
    __table_args__ = (UniqueConstraint("terminal_id", "resolution", "at"),
                      # the roll-up and retention pass: old raw samples across the fleet
                      Index("ix_health_samples_resolution_at", "resolution", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    terminal_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("terminals.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # start of the bucket for rollups
    resolution: Mapped[int] = mapped_column(Integer, default=0)  # seconds a rollup covers
    samples: Mapped[int] = mapped_column(Integer, default=1)  # health messages it stands for
    online: Mapped[bool] = mapped_column(Boolean, default=True)
    fault_count: Mapped[int] = mapped_column(Integer, default=0)  # the most in the bucket
    paper: Mapped[str] = mapped_column(String(8), default="ok")  # the worst in the bucket
    outbox_depth: Mapped[int] = mapped_column(Integer, default=0)  # the most in the bucket
    outbox_oldest_age_s: Mapped[float | None] = mapped_column(Float)
    faults: Mapped[list[str] | None] = mapped_column(Json)  # device kinds, raw samples only


class Event(Base):
    """A message applied once: fault/warning/recovered/package events and, for issue 16,
    command results. (terminal, message id) is unique, so a QoS 1 duplicate is a no-op."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("terminal_id", "message_id"),
                      Index("ix_events_terminal_id_at", "terminal_id", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    terminal_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("terminals.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(128))
    topic: Mapped[str] = mapped_column(String(16), default="events")  # events | results
    type: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(32), default="")
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # terminal clock
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    body: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class Alert(Base):
    """One alert: a rule firing for a terminal (and subject, e.g. a device kind)."""

    __tablename__ = "alerts"
    __table_args__ = (
        # At most one alert not closed per (rule, terminal, subject), whichever centre
        # instance evaluates the rules: a second insert fails instead of a duplicate alert.
        Index("uq_alerts_live", "rule", "terminal_id", "subject", unique=True,
              sqlite_where=text("state != 'closed'"),
              postgresql_where=text("state != 'closed'")),
        Index("ix_alerts_state_opened_at", "state", "opened_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(32))
    terminal_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("terminals.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(64), default="")
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    state: Mapped[str] = mapped_column(String(8), default=AlertState.OPEN.value)
    message: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    acked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acked_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # damping: the condition must stay clear this long before the alert closes, and a
    # condition that returns soon after a close reopens the alert instead of a new one
    clear_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    flaps: Mapped[int] = mapped_column(Integer, default=0)


class AlertCondition(Base):
    """A condition seen but not yet alerted on (held for its rule's delay), per subject."""

    __tablename__ = "alert_conditions"

    rule: Mapped[str] = mapped_column(String(32), primary_key=True)
    terminal_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("terminals.id", ondelete="CASCADE"), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    """A message to send (webhook or e-mail), retried from here until delivered or failed."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_state_next_try", "state", "next_try"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("alerts.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # webhook | email
    target: Mapped[str] = mapped_column(String(512))  # URL or address list
    payload: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    state: Mapped[str] = mapped_column(String(12), default=NotificationState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")


class IngestCounter(Base):
    """Messages dropped (or otherwise counted) by the ingest, by topic kind and reason."""

    __tablename__ = "ingest_counters"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # state | health | …
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)  # not_json | …
    count: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), default=0)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- remote commands (issue 16; opscentre.commands) ------------------------------------------
class CommandState(str, enum.Enum):
    """A command's state at the centre: the terminal's answers (`kiosk.fleet.
    commands_protocol.State`) plus the centre's own before the first answer."""

    ISSUED = "issued"  # stored and signed; the broker has not acknowledged it (yet)
    SENT = "sent"  # the broker acknowledged the publish (PUBACK)
    UNSENT = "unsent"  # never published (no broker, refused): nothing will answer
    RECEIVED = "received"
    PENDING = "pending"  # waiting for the citizen's session to end
    RUNNING = "running"
    DONE = "done"
    REFUSED = "refused"
    FAILED = "failed"
    EXPIRED = "expired"


class Command(Base):
    """One signed command to one terminal, its newest state and its result (the result's
    attachment, a screenshot or a log bundle, is in `CommandFile`)."""

    __tablename__ = "commands"
    __table_args__ = (Index("ix_commands_terminal_id_issued_at", "terminal_id", "issued_at"),
                      Index("ix_commands_state_expires_at", "state", "expires_at"))

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # no foreign key: a terminal provisioned but never heard from can still be commanded
    terminal_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    args: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    operator: Mapped[str] = mapped_column(String(128))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(32), default="")
    batch: Mapped[str] = mapped_column(String(32), default="", index=True)  # bulk commands
    state: Mapped[str] = mapped_column(String(16), default=CommandState.ISSUED.value)
    reason: Mapped[str] = mapped_column(String(64), default="")  # a refusal's key, …
    detail: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # every answer in order: [{"state", "reason", "at" (terminal), "received" (centre)}]
    history: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # last answer applied
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # reached a final state
    audit_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))


class CommandFile(Base):
    """A command's attachment (screenshot, log bundle): put together from its chunks."""

    __tablename__ = "command_files"

    command_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("commands.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    chunks: Mapped[int] = mapped_column(Integer)
    received: Mapped[int] = mapped_column(Integer, default=0)  # distinct chunks so far
    problem: Mapped[str] = mapped_column(String(64), default="")  # chunks that do not join
    data: Mapped[bytes | None] = mapped_column(LargeBinary)  # once complete and checked
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CommandChunk(Base):
    """One chunk of an attachment until all are in (then joined and deleted)."""

    __tablename__ = "command_chunks"

    command_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("command_files.command_id", ondelete="CASCADE"),
        primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[str] = mapped_column(Text)  # base64 as it came


# -- remote help (issue 19; opscentre.assist) -------------------------------------------------
class AssistCall(Base):
    """One call for remote help: who, when, what came of it. Nothing of the screen, the
    citizen's answers or the media (docs/assist.md, *Call record*)."""

    __tablename__ = "assist_calls"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the terminal's uuid
    terminal: Mapped[str] = mapped_column(String(64), index=True)
    site: Mapped[str] = mapped_column(String(128), default="")
    service: Mapped[str] = mapped_column(String(128), default="")  # flow id
    lang: Mapped[str] = mapped_column(String(8), default="")
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    agent: Mapped[str] = mapped_column(String(64), default="")  # who ended it
    agents: Mapped[list[str]] = mapped_column(Json, default=list)  # everyone who held it
    outcome: Mapped[str] = mapped_column(String(16), default="")
    end_reason: Mapped[str] = mapped_column(String(32), default="")
    hold_s: Mapped[float] = mapped_column(Float, default=0.0)
