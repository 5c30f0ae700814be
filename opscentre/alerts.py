"""Alert rules over the terminals' current state: open → acknowledged → closed by itself.

Each pass reads the terminals, works out which conditions hold (rule, terminal, subject),
and moves the alerts:
- a condition must hold for its rule's hold time before an alert opens (a device that
  reports a fault for two seconds is not an alert); `offline` holds for
  `offline_after_s` counted from when the terminal went offline;
- an open or acknowledged alert closes by itself once its condition has been clear for
  `clear_hold_s` (hysteresis: a terminal that drops for a few seconds and comes back
  does not close and reopen its alert);
- a condition that comes back within `reopen_window_s` of its alert closing reopens that
  alert (counted in `flaps`) without a new notification: flapping is damped;
- an offline terminal's other alerts stay as they are (their condition is unknown).
Opening and closing queue notifications (`opscentre.notify`) in the same transaction.
One instance evaluates at a time (a PostgreSQL advisory lock; SQLite has one writer).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from opscentre.db import utcnow
from opscentre.models import Alert, AlertCondition, AlertState, Terminal
from opscentre.notify import enqueue
from opscentre.settings import AlertRules, NotifySettings

log = logging.getLogger(__name__)

ADVISORY_LOCK = 0x6B696F736B  # "kiosk": one evaluator at a time across instances
SEVERITY = {"offline": "critical", "device_fault": "critical", "paper_out": "critical",
            "paper_low": "warning", "outbox": "warning", "package": "warning",
            "clock_skew": "warning", "rollout": "critical"}

Key = tuple[str, str, str]  # rule, terminal, subject


@dataclass(frozen=True)
class Condition:
    rule: str
    terminal: str
    subject: str
    message: str
    detail: dict[str, Any]
    since: dt.datetime | None = None  # when it began, if the rule knows (offline)

    @property
    def key(self) -> Key:
        return self.rule, self.terminal, self.subject


@dataclass
class PassResult:
    opened: int = 0
    reopened: int = 0
    closed: int = 0
    evaluated: bool = True


COLUMNS = (Terminal.id, Terminal.online, Terminal.state_at, Terminal.offline_reason,
           Terminal.faults, Terminal.consumables, Terminal.outbox_depth,
           Terminal.outbox_oldest_age_s, Terminal.clock_skew_s, Terminal.package_problem)


def conditions(t: Any, rules: AlertRules) -> Iterator[Condition]:
    """The conditions that hold for one terminal row (see COLUMNS)."""
    if not t.online:
        if rules.enabled("offline") and t.state_at is not None:
            yield Condition("offline", t.id, "", f"offline ({t.offline_reason or 'unknown'})",
                            {"reason": t.offline_reason}, since=t.state_at)
        return
    if rules.enabled("device_fault"):
        for kind in t.faults or ():
            yield Condition("device_fault", t.id, str(kind)[:64], f"{kind}: fault", {})
    for kind, c in (t.consumables or {}).items():
        paper = c.get("paper") if isinstance(c, dict) else None
        if paper in ("out", "low") and rules.enabled(f"paper_{paper}"):
            yield Condition(f"paper_{paper}", t.id, str(kind)[:64], f"{kind}: paper {paper}",
                            {})
    age = t.outbox_oldest_age_s
    if rules.enabled("outbox") and (t.outbox_depth > rules.outbox_depth_max or (
            age is not None and age > rules.outbox_age_max_s)):
        yield Condition("outbox", t.id, "", f"outbox: {t.outbox_depth} waiting, oldest "
                        f"{int(age or 0)} s", {"depth": t.outbox_depth, "oldest_age_s": age})
    if rules.enabled("package") and t.package_problem:
        yield Condition("package", t.id, t.package_problem, f"package {t.package_problem}", {})
    skew = t.clock_skew_s
    if rules.enabled("clock_skew") and skew is not None and abs(skew) > rules.clock_skew_max_s:
        yield Condition("clock_skew", t.id, "", f"clock off by {skew:+.0f} s",
                        {"skew_s": skew})


# Rules about a terminal's own state: unknown while it is offline, so left as they are.
TERMINAL_RULES = ("device_fault", "paper_out", "paper_low", "outbox", "package", "clock_skew")


def fleet_conditions(session: Session) -> list[Condition]:
    """Conditions that are not one terminal's state: a rollout that halted by itself
    (`opscentre.rollouts`; filed under its first failing terminal)."""
    from opscentre import rollouts

    return rollouts.alert_conditions(session)


class AlertEngine:
    def __init__(self, rules: AlertRules, notify: NotifySettings | None = None) -> None:
        self.rules = rules
        self.notify = notify or NotifySettings()

    def evaluate(self, session: Session, now: dt.datetime | None = None) -> PassResult:
        """One pass in `session`'s transaction (the caller commits)."""
        now = now or utcnow()
        if not self._lock(session):
            return PassResult(evaluated=False)
        terminals = session.execute(select(*COLUMNS)).all()
        active = {c.key: c for t in terminals for c in conditions(t, self.rules)}
        active.update((c.key, c) for c in fleet_conditions(session))
        offline = {t.id for t in terminals if not t.online}
        live = {(a.rule, a.terminal_id, a.subject): a for a in session.scalars(
            select(Alert).where(Alert.state != AlertState.CLOSED.value).with_for_update())}
        held = {(c.rule, c.terminal_id, c.subject): c
                for c in session.scalars(select(AlertCondition))}
        result = PassResult()
        for key, cond in active.items():
            alert = live.get(key)
            if alert is not None:
                alert.clear_since = None
                if alert.message != cond.message:
                    alert.message, alert.detail = cond.message, cond.detail
                continue
            since = cond.since or self._held_since(session, held, key, now)
            if (now - since).total_seconds() >= self._hold(cond.rule):
                self._open(session, cond, now, result)
                if key in held:
                    session.delete(held.pop(key))
        for key, alert in live.items():
            if key in active or (alert.terminal_id in offline and alert.rule in TERMINAL_RULES):
                continue
            if alert.clear_since is None:
                alert.clear_since = now
            elif (now - alert.clear_since).total_seconds() >= self.rules.clear_hold_s:
                alert.state, alert.closed_at = AlertState.CLOSED.value, now
                enqueue(session, alert, "closed", self.notify, now)
                result.closed += 1
        gone = [k for k in held if k not in active]
        for k in gone:
            session.delete(held[k])
        session.flush()
        return result

    def _hold(self, rule: str) -> float:
        return self.rules.offline_after_s if rule == "offline" else self.rules.hold(rule)

    @staticmethod
    def _held_since(session: Session, held: dict[Key, AlertCondition], key: Key,
                    now: dt.datetime) -> dt.datetime:
        if key not in held:
            held[key] = AlertCondition(rule=key[0], terminal_id=key[1], subject=key[2],
                                       since=now)
            session.add(held[key])
        return held[key].since

    def _open(self, session: Session, cond: Condition, now: dt.datetime,
              result: PassResult) -> None:
        recent = session.scalars(
            select(Alert).where(Alert.rule == cond.rule, Alert.terminal_id == cond.terminal,
                                Alert.subject == cond.subject,
                                Alert.state == AlertState.CLOSED.value,
                                Alert.closed_at >= now - dt.timedelta(
                                    seconds=self.rules.reopen_window_s))
            .order_by(Alert.closed_at.desc()).limit(1)).first()
        if recent is not None:  # flapping: the same alert again, no new notification
            recent.state, recent.closed_at, recent.clear_since = \
                AlertState.OPEN.value, None, None
            recent.acked_at = recent.acked_by = None
            recent.flaps += 1
            recent.message, recent.detail = cond.message, cond.detail
            result.reopened += 1
            return
        alert = Alert(rule=cond.rule, terminal_id=cond.terminal, subject=cond.subject,
                      severity=SEVERITY.get(cond.rule, "warning"), state=AlertState.OPEN.value,
                      message=cond.message, detail=cond.detail, opened_at=now)
        session.add(alert)
        session.flush()  # its id, for the notification
        enqueue(session, alert, "opened", self.notify, now)
        result.opened += 1
        log.info("alert opened: %s %s %s", cond.rule, cond.terminal, cond.subject)

    @staticmethod
    def _lock(session: Session) -> bool:
        if session.get_bind().dialect.name != "postgresql":
            return True
        return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                    {"k": ADVISORY_LOCK}).scalar())



def run(engine: AlertEngine, sessions: sessionmaker[Session], stop: threading.Event,
        every_s: float = 2.0) -> None:
    """Evaluate every `every_s` until `stop`; a database outage skips passes."""
    while not stop.is_set():
        try:
            with sessions.begin() as s:
                engine.evaluate(s)
        except DBAPIError as exc:
            log.warning("alerts: pass skipped (%s)", type(exc.__cause__ or exc).__name__)
        stop.wait(every_s)
