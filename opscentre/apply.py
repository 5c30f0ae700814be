"""Apply decoded fleet messages to the database, once each, in batches.

One batch is one transaction: the ingest acknowledges the batch's messages to the broker
only after it committed, so a crash or a database outage loses nothing (the broker
delivers again) and a message delivered twice changes nothing the second time:
- events and results: unique by (terminal, message id), inserted with ON CONFLICT DO
  NOTHING, and only a new row changes the terminal;
- health: fields change only for a snapshot newer than the one applied; samples are
  unique by (terminal, resolution, time);
- state: ordered by the terminal's `session` (one per MQTT connection) and the message
  time, so an old session's last will arriving late never marks a reconnected terminal
  offline, and an online message of a session that already ended never marks it online.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kiosk.fleet.protocol import Envelope
from opscentre.db import from_unix, utcnow
from opscentre.health import PAPER_LEVELS, clean_device, read_health, summarise, text, worst
from opscentre.models import Event, HealthSample, IngestCounter, Terminal

log = logging.getLogger(__name__)

# Offline reasons a health message may overturn: the centre's own guess. An offline
# that the broker or the terminal stated (last will, goodbye) only a new session ends.
GUESSED_OFFLINE = ("stale", "")
PACKAGE_EVENTS = {"package_rejected": "rejected", "package_rolled_back": "rolled_back",
                  "package_activated": ""}
DEVICE_EVENTS = ("fault", "warning", "recovered")


@dataclass(frozen=True)
class Message:
    """A decoded message with the topic kind it came on and when the centre got it."""

    kind: str  # state | health | events | results
    env: Envelope
    received: dt.datetime


@dataclass
class BatchResult:
    applied: Counter[str] = field(default_factory=Counter)  # by kind
    ignored: Counter[str] = field(default_factory=Counter)  # duplicates, old states…
    changed: set[str] = field(default_factory=set)  # terminals whose state changed


@dataclass(frozen=True)
class SamplePolicy:
    """How much health history a terminal-day costs (see `models.HealthSample`)."""

    raw_every_s: float = 300.0  # a raw sample at least this often, and at every change
    raw_keep_s: float = 2 * 86400.0  # then rolled up into …
    rollup_s: int = 3600  # … samples of this many seconds
    rollup_keep_s: float = 90 * 86400.0  # deleted after this
    events_keep_s: float = 180 * 86400.0


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else \
        sqlite.insert


class Applier:
    """Applies batches of messages; keeps a small cache of the last sample per terminal."""

    def __init__(self, policy: SamplePolicy | None = None) -> None:
        self.policy = policy or SamplePolicy()
        self._last_sample: dict[str, tuple[dt.datetime, tuple[Any, ...]]] = {}
        self._known: set[str] = set()

    # -- the batch ---------------------------------------------------------------------------
    def apply(self, session: Session, messages: Sequence[Message],
              dropped: Counter[tuple[str, str]] | None = None) -> BatchResult:
        """Apply `messages` (and count `dropped` (kind, reason)) in `session`'s transaction."""
        result = BatchResult()
        pending_samples: list[dict[str, Any]] = []
        if dropped:
            self.count(session, dropped)
        ids = sorted({m.env.terminal for m in messages})
        terminals = self._terminals(session, ids)
        for m in sorted(messages, key=lambda m: (m.env.terminal, m.env.at)):
            t = terminals[m.env.terminal]
            t.last_seen = m.received if t.last_seen is None else max(t.last_seen, m.received)
            if m.kind == "state":
                ok = self._state(t, m)
            elif m.kind == "health":
                ok = self._health(t, m, pending_samples)
            else:
                ok = self._event(session, t, m)
            (result.applied if ok else result.ignored)[m.kind] += 1
            if ok and m.kind != "health":
                result.changed.add(t.id)
        if pending_samples:
            session.execute(_insert(session)(HealthSample).values(pending_samples)
                            .on_conflict_do_nothing())
        session.flush()
        return result

    def forget(self) -> None:
        """Drop caches (after a rolled-back transaction they may describe unsaved rows)."""
        self._last_sample.clear()
        self._known.clear()

    def _terminals(self, session: Session, ids: list[str]) -> dict[str, Terminal]:
        new = [i for i in ids if i not in self._known]
        if new:  # a terminal seen for the first time gets its row (another instance may race)
            session.execute(_insert(session)(Terminal)
                            .values([{"id": i, "first_seen": utcnow()} for i in new])
                            .on_conflict_do_nothing())
        q = select(Terminal).where(Terminal.id.in_(ids)).order_by(Terminal.id)
        if session.get_bind().dialect.name == "postgresql":
            q = q.with_for_update()  # locked in id order: two instances cannot deadlock
        rows = {t.id: t for t in session.scalars(q)}
        self._known.update(rows)
        return rows

    @staticmethod
    def count(session: Session, dropped: Counter[tuple[str, str]]) -> None:
        ins = _insert(session)
        now = utcnow()
        for (kind, reason), n in sorted(dropped.items()):
            stmt = ins(IngestCounter).values(kind=kind[:16], reason=reason[:32], count=n,
                                             last_at=now)
            session.execute(stmt.on_conflict_do_update(
                index_elements=["kind", "reason"],
                set_={"count": IngestCounter.count + n, "last_at": now}))

    # -- state -------------------------------------------------------------------------------
    def _state(self, t: Terminal, m: Message) -> bool:
        body = m.env.body
        online = body.get("online")
        if not isinstance(online, bool):
            return False
        session = text(body.get("session"), 64)
        at = from_unix(m.env.at)
        newer = t.state_msg_at is None or at >= t.state_msg_at
        if online:
            ended = bool(session) and session == t.session and not t.online
            if ended or not newer:
                return False  # a late copy of a session that is over, or an old message
            t.online, t.offline_reason = True, ""
            t.app_version = text(body.get("app_version"), 64) or t.app_version
            t.site = text(body.get("site"), 128) or t.site
        else:
            # the current session's end (its will carries the time it connected) or newer
            if not (bool(session) and session == t.session) and not newer:
                return False
            if not t.online and t.offline_reason not in GUESSED_OFFLINE \
                    and session == t.session:
                return False  # already offline for this session
            t.online = False
            t.offline_reason = text(body.get("reason"), 16) or "offline"
        t.session = session
        t.state_msg_at = at if t.state_msg_at is None else max(at, t.state_msg_at)
        t.state_at = m.received
        return True

    # -- health ------------------------------------------------------------------------------
    def _health(self, t: Terminal, m: Message, samples: list[dict[str, Any]]) -> bool:
        at = from_unix(m.env.at)
        h = read_health(m.env.body)
        newest = t.last_health_at is None or at > t.last_health_at
        if newest:
            t.last_health_at = at
            t.devices, t.consumables = h.devices, h.summary.consumables
            t.faults, t.fault_count, t.paper = list(h.summary.faults), \
                len(h.summary.faults), h.summary.paper
            t.app_version = h.app_version or t.app_version
            t.packages, t.disk = h.packages, h.disk
            t.outbox_depth, t.outbox_oldest_age_s = h.outbox_depth, h.outbox_oldest_age_s
            t.uptime_s, t.health_interval_s, t.maintenance = h.uptime_s, h.interval_s, \
                h.maintenance
            t.site = h.site or t.site
            t.clock_skew_s = round((at - m.received).total_seconds(), 3)
            if h.package_problem != t.package_problem:
                t.package_problem = h.package_problem
                t.package_problem_at = at if h.package_problem else None
            if not t.online and t.offline_reason in GUESSED_OFFLINE:
                t.online, t.offline_reason, t.state_at = True, "", m.received
        key = (h.summary.faults, h.summary.paper, h.outbox_depth > 0, t.online)
        last = self._last_sample.get(t.id)
        if last is None or key != last[1] or \
                abs((at - last[0]).total_seconds()) >= self.policy.raw_every_s:
            self._last_sample[t.id] = (at, key)
            samples.append({"terminal_id": t.id, "at": at, "resolution": 0, "samples": 1,
                            "online": t.online, "fault_count": len(h.summary.faults),
                            "paper": h.summary.paper, "outbox_depth": h.outbox_depth,
                            "outbox_oldest_age_s": h.outbox_oldest_age_s,
                            "faults": list(h.summary.faults)})
        return newest

    # -- events and results --------------------------------------------------------------------
    def _event(self, session: Session, t: Terminal, m: Message) -> bool:
        env = m.env
        device = text(env.body.get("device"), 32)
        at = from_unix(env.at)
        row = session.execute(
            _insert(session)(Event).values(
                terminal_id=t.id, message_id=env.id, topic=m.kind, type=env.type[:64],
                device=device, at=at, received_at=m.received, body=dict(env.body))
            .on_conflict_do_nothing().returning(Event.id)).first()
        if row is None:
            return False  # applied before: a QoS 1 duplicate
        if m.kind != "events":
            return True
        if env.type in DEVICE_EVENTS and device and \
                (t.last_health_at is None or at > t.last_health_at):
            self._device_event(t, device, env)
        if env.type in PACKAGE_EVENTS:
            t.package_problem = PACKAGE_EVENTS[env.type]
            t.package_problem_at = at if t.package_problem else None
        return True

    @staticmethod
    def _device_event(t: Terminal, device: str, env: Envelope) -> None:
        """An event newer than the last snapshot updates that device until the next one."""
        d = clean_device({**env.body, "fault": env.type == "fault"}) or {}
        devices = {**(t.devices or {}), device: d}
        s = summarise(devices)
        t.devices, t.consumables = devices, s.consumables
        t.faults, t.fault_count, t.paper = list(s.faults), len(s.faults), s.paper


# -- history upkeep ------------------------------------------------------------------------
def _bucket(at: dt.datetime, seconds: int) -> dt.datetime:
    epoch = int(at.timestamp())
    return from_unix(epoch - epoch % seconds)


def compact(session: Session, policy: SamplePolicy, now: dt.datetime | None = None,
            chunk: int = 5000) -> int:
    """Roll raw samples older than the policy's window into buckets; delete what expired.

    Raw rows are taken with DELETE … RETURNING, so two instances compacting at once never
    count a sample twice. Returns how many raw samples were rolled up."""
    now = now or utcnow()
    cutoff = _bucket(now - dt.timedelta(seconds=policy.raw_keep_s), policy.rollup_s)
    done = 0
    while True:
        ids = select(HealthSample.id).where(HealthSample.resolution == 0,
                                            HealthSample.at < cutoff).limit(chunk)
        rows = session.execute(
            delete(HealthSample).where(HealthSample.id.in_(ids.scalar_subquery()))
            .returning(HealthSample.terminal_id, HealthSample.at, HealthSample.samples,
                       HealthSample.online, HealthSample.fault_count, HealthSample.paper,
                       HealthSample.outbox_depth, HealthSample.outbox_oldest_age_s)).all()
        if not rows:
            break
        _merge_rollups(session, rows, policy.rollup_s)
        done += len(rows)
    session.execute(delete(HealthSample).where(
        HealthSample.resolution == policy.rollup_s,
        HealthSample.at < now - dt.timedelta(seconds=policy.rollup_keep_s)))
    session.execute(delete(Event).where(
        Event.received_at < now - dt.timedelta(seconds=policy.events_keep_s)))
    return done


def _merge_rollups(session: Session, rows: Iterable[Any], seconds: int) -> None:
    groups: dict[tuple[str, dt.datetime], dict[str, Any]] = {}
    for r in rows:
        key = (r.terminal_id, _bucket(r.at, seconds))
        g = groups.setdefault(key, {"samples": 0, "online": True, "fault_count": 0,
                                    "paper": "ok", "outbox_depth": 0,
                                    "outbox_oldest_age_s": None})
        _fold(g, r._mapping)
    existing = {(s.terminal_id, s.at): s for s in session.scalars(
        select(HealthSample).where(
            HealthSample.resolution == seconds,
            HealthSample.terminal_id.in_({k[0] for k in groups}),
            HealthSample.at.in_({k[1] for k in groups})))}
    for (terminal, at), g in groups.items():
        s = existing.get((terminal, at))
        if s is None:
            session.add(HealthSample(terminal_id=terminal, at=at, resolution=seconds,
                                     faults=None, **g))
        else:
            _fold(g, {c: getattr(s, c) for c in g})
            for c, v in g.items():
                setattr(s, c, v)
    session.flush()


def _fold(into: dict[str, Any], r: Any) -> None:
    into["samples"] += r["samples"]
    into["online"] = into["online"] and r["online"]
    into["fault_count"] = max(into["fault_count"], r["fault_count"])
    into["paper"] = worst([into["paper"], r["paper"] if r["paper"] in PAPER_LEVELS else "ok"])
    into["outbox_depth"] = max(into["outbox_depth"], r["outbox_depth"])
    ages = [a for a in (into["outbox_oldest_age_s"], r["outbox_oldest_age_s"]) if a is not None]
    into["outbox_oldest_age_s"] = max(ages) if ages else None
