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
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kiosk.fleet.protocol import Envelope
from opscentre import commands
from opscentre.db import UTCDateTime, from_unix, utcnow
from opscentre.health import (
    PAPER_LEVELS,
    Health,
    clean_device,
    read_health,
    summarise,
    text,
    worst,
)
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


_T = cast(Table, Terminal.__table__)
_GUESSED = and_(_T.c.online.is_(False),  # (no IN: an expanding list cannot be executemany'd)
               or_(*(_T.c.offline_reason == r for r in GUESSED_OFFLINE)))
_TOUCH = update(_T).where(_T.c.id == bindparam("b_id")).values(last_seen=case(
    (or_(_T.c.last_seen.is_(None), _T.c.last_seen < bindparam("b_seen", type_=UTCDateTime())),
     bindparam("b_seen", type_=UTCDateTime())), else_=_T.c.last_seen))


def _health_update() -> Any:
    at = bindparam("b_at", type_=UTCDateTime())
    received = bindparam("b_received", type_=UTCDateTime())
    problem = bindparam("b_pp", type_=_T.c.package_problem.type)
    return update(_T).where(
        _T.c.id == bindparam("b_id"),
        or_(_T.c.last_health_at.is_(None), _T.c.last_health_at < at,  # newest wins, or
            # nothing applied for two intervals: the terminal's clock went back (NTP)
            _T.c.last_seen < bindparam("b_quiet_since", type_=UTCDateTime())),
    ).values(
        last_seen=case((or_(_T.c.last_seen.is_(None), _T.c.last_seen < received), received),
                       else_=_T.c.last_seen),
        last_health_at=at, devices=bindparam("b_devices"),
        consumables=bindparam("b_consumables"), faults=bindparam("b_faults"),
        fault_count=bindparam("b_fault_count"), paper=bindparam("b_paper"),
        app_version=func.coalesce(func.nullif(bindparam("b_app", type_=_T.c.app_version.type),
                                              ""), _T.c.app_version),
        site=func.coalesce(func.nullif(bindparam("b_site", type_=_T.c.site.type), ""),
                           _T.c.site),
        packages=bindparam("b_packages"), disk=bindparam("b_disk"),
        outbox_depth=bindparam("b_depth"), outbox_oldest_age_s=bindparam("b_age"),
        uptime_s=bindparam("b_uptime"), health_interval_s=bindparam("b_interval"),
        maintenance=bindparam("b_maintenance"), clock_skew_s=bindparam("b_skew"),
        package_problem_at=case((_T.c.package_problem != problem,
                                 bindparam("b_ppat", type_=UTCDateTime())),
                                else_=_T.c.package_problem_at),
        package_problem=problem,
        # only silence made the centre call it offline: a health message ends that guess;
        # an offline the broker or the terminal stated waits for a new session
        online=case((_GUESSED, True), else_=_T.c.online),
        offline_reason=case((_GUESSED, ""), else_=_T.c.offline_reason),
        state_at=case((_GUESSED, received), else_=_T.c.state_at),
    )


_HEALTH = _health_update()


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
        """Apply `messages` (and count `dropped` (kind, reason)) in `session`'s transaction.

        Health, the bulk of the traffic, is applied set-based (one UPDATE per message,
        executed as one batch, "newer than the last snapshot" in its WHERE); state and
        events, which need the row's current values, go through ORM objects."""
        result = BatchResult()
        if dropped:
            self.count(session, dropped)
        if not messages:
            return result
        ids = sorted({m.env.terminal for m in messages})
        self._ensure(session, ids)
        health = sorted((m for m in messages if m.kind == "health"),
                        key=lambda m: (m.env.terminal, m.env.at))
        if health:
            self._health(session, health)
            result.applied["health"] += len(health)
        others = sorted((m for m in messages if m.kind != "health"),
                        key=lambda m: (m.env.terminal, m.env.at))
        if others:
            self._touch(session, others)  # health sets last_seen in its own UPDATE
            terminals = self._terminals(session, sorted({m.env.terminal for m in others}))
            for m in others:
                t = terminals[m.env.terminal]
                ok = self._state(t, m) if m.kind == "state" else self._event(session, t, m)
                (result.applied if ok else result.ignored)[m.kind] += 1
                if ok:
                    result.changed.add(t.id)
        session.flush()
        return result

    def forget(self) -> None:
        """Drop caches (after a rolled-back transaction they may describe unsaved rows)."""
        self._last_sample.clear()
        self._known.clear()

    def _ensure(self, session: Session, ids: list[str]) -> None:
        """Rows for terminals seen for the first time (another instance may race: fine),
        then, on PostgreSQL, the batch's rows locked in id order: two instances applying
        overlapping batches wait for each other instead of deadlocking."""
        new = [i for i in ids if i not in self._known]
        if new:
            session.execute(_insert(session)(Terminal)
                            .values([{"id": i, "first_seen": utcnow()} for i in new])
                            .on_conflict_do_nothing())
        if session.get_bind().dialect.name == "postgresql":
            session.execute(select(Terminal.id).where(Terminal.id.in_(ids))
                            .order_by(Terminal.id).with_for_update())
        self._known.update(new)

    @staticmethod
    def _touch(session: Session, messages: Sequence[Message]) -> None:
        """last_seen: the newest time the centre heard from each terminal (an old health
        snapshot delivered late does not count: `_health` sets it for the ones applied)."""
        newest: dict[str, dt.datetime] = {}
        for m in messages:
            if m.env.terminal not in newest or m.received > newest[m.env.terminal]:
                newest[m.env.terminal] = m.received
        session.execute(_TOUCH, [{"b_id": k, "b_seen": v} for k, v in sorted(newest.items())])

    def _terminals(self, session: Session, ids: list[str]) -> dict[str, Terminal]:
        q = select(Terminal).where(Terminal.id.in_(ids)).order_by(Terminal.id)
        return {t.id: t for t in session.scalars(q)}

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

    # -- health ------------------------------------------------------------------------------
    def _health(self, session: Session, messages: list[Message]) -> None:
        rows, samples = [], []
        for m in messages:
            at = from_unix(m.env.at)
            h = read_health(m.env.body)
            s = h.summary
            rows.append({
                "b_id": m.env.terminal, "b_at": at, "b_received": m.received,
                "b_quiet_since": m.received - dt.timedelta(seconds=2 * h.interval_s),
                "b_devices": h.devices, "b_consumables": s.consumables,
                "b_faults": list(s.faults), "b_fault_count": len(s.faults), "b_paper": s.paper,
                "b_app": h.app_version, "b_site": h.site, "b_packages": h.packages,
                "b_disk": h.disk, "b_depth": h.outbox_depth, "b_age": h.outbox_oldest_age_s,
                "b_uptime": h.uptime_s, "b_interval": h.interval_s,
                "b_maintenance": h.maintenance,
                "b_skew": round((at - m.received).total_seconds(), 3),
                "b_pp": h.package_problem, "b_ppat": at if h.package_problem else None})
            sample = self._sample(m.env.terminal, at, h)
            if sample is not None:
                samples.append(sample)
        session.execute(_HEALTH, rows)
        if samples:
            session.execute(_insert(session)(HealthSample).values(samples)
                            .on_conflict_do_nothing())

    def _sample(self, terminal: str, at: dt.datetime, h: Health) -> dict[str, Any] | None:
        """A raw sample when something changed or the last one is old (the policy)."""
        s = h.summary
        key = (s.faults, s.paper, h.outbox_depth > 0)
        last = self._last_sample.get(terminal)
        if last is not None and key == last[1] and \
                abs((at - last[0]).total_seconds()) < self.policy.raw_every_s:
            return None
        self._last_sample[terminal] = (at, key)
        # a health message is sent only over a live link: the terminal was online then
        return {"terminal_id": terminal, "at": at, "resolution": 0, "samples": 1,
                "online": True, "fault_count": len(s.faults), "paper": s.paper,
                "outbox_depth": h.outbox_depth, "outbox_oldest_age_s": h.outbox_oldest_age_s,
                "faults": list(s.faults)}

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

    # -- events and results --------------------------------------------------------------------
    def _event(self, session: Session, t: Terminal, m: Message) -> bool:
        env = m.env
        device = text(env.body.get("device"), 32)
        at = from_unix(env.at)
        body = commands.stored_result(env.body) if m.kind == "results" else dict(env.body)
        row = session.execute(
            _insert(session)(Event).values(
                terminal_id=t.id, message_id=env.id, topic=m.kind, type=env.type[:64],
                device=device, at=at, received_at=m.received, body=body)
            .on_conflict_do_nothing().returning(Event.id)).first()
        if row is None:
            return False  # applied before: a QoS 1 duplicate
        if m.kind == "results":  # a command's answer (issue 16), in this transaction
            commands.apply_result(session, t.id, env, m.received)
            return True
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
