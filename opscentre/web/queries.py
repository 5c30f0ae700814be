"""What the pages and the API show, as plain data: the same dicts feed both.

The fleet is filtered and sorted in SQL (one query for the rows, one grouped query for
their open alerts, one for the fleet-wide counts): never a query per terminal. Filters on
JSON members (a device in fault, an active package) are narrowed in SQL by the JSON text
and checked exactly in Python, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import String, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from opscentre.db import utcnow
from opscentre.models import Alert, AlertState, Event, HealthSample, Terminal
from opscentre.web.models import AuditEntry

FleetSort = Literal["id", "site", "status", "last_seen", "app_version", "faults", "paper",
                    "outbox", "alerts"]
Order = Literal["asc", "desc"]
AlertFilter = Literal["open", "acked", "closed", "live", "all"]
MAX_ROWS = 5000
PAPER_RANK = {"ok": 0, "low": 1, "out": 2}


@dataclass(frozen=True)
class FleetQuery:
    status: Literal["online", "offline"] | None = None
    fault: str | None = None  # "any", "none" or a device kind
    paper: Literal["ok", "low", "out", "problem"] | None = None
    app_version: str | None = None
    package: str | None = None  # an active package as the terminal reports it: id@version
    site: str | None = None
    q: str | None = None  # part of a terminal id
    sort: FleetSort = "id"
    order: Order = "asc"
    limit: int = 1000
    offset: int = 0

    def params(self, **change: Any) -> dict[str, str]:
        """The query-string parameters of this query (with `change` applied), for links."""
        out: dict[str, str] = {}
        for k in ("status", "fault", "paper", "app_version", "package", "site", "q", "sort",
                  "order", "offset"):
            v = change.get(k, getattr(self, k))
            if v not in (None, "", 0) and not (k == "sort" and v == "id") and not (
                    k == "order" and v == "asc"):
                out[k] = str(v)
        return out


def _like_member(column: Any, value: str) -> ColumnElement[bool]:
    """JSON text containing `"value"` (a prefilter: the exact test is in Python)."""
    esc = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return cast(column, String).like(f'%"{esc}"%', escape="\\")


def active_packages(packages: Any) -> list[str]:
    active = packages.get("active") if isinstance(packages, dict) else None
    return [str(p) for p in active] if isinstance(active, list) else []


def _conditions(fq: FleetQuery) -> list[ColumnElement[bool]]:
    t = Terminal
    conds: list[ColumnElement[bool]] = []
    if fq.status:
        conds.append(t.online.is_(fq.status == "online"))
    if fq.fault == "any":
        conds.append(t.fault_count > 0)
    elif fq.fault == "none":
        conds.append(t.fault_count == 0)
    elif fq.fault:
        conds.append(and_(t.fault_count > 0, _like_member(t.faults, fq.fault)))
    if fq.paper == "problem":
        conds.append(t.paper.in_(("low", "out")))
    elif fq.paper:
        conds.append(t.paper == fq.paper)
    if fq.app_version:
        conds.append(t.app_version == fq.app_version)
    if fq.package:
        conds.append(_like_member(t.packages, fq.package))
    if fq.site:
        conds.append(t.site == fq.site)
    if fq.q:
        esc = fq.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conds.append(t.id.like(f"%{esc}%", escape="\\"))
    return conds


def _open_alerts() -> Any:
    return (select(Alert.terminal_id, func.count().label("n"))
            .where(Alert.state != AlertState.CLOSED.value)
            .group_by(Alert.terminal_id).subquery())


def _sort_key(fq: FleetQuery, alerts: Any) -> list[Any]:
    t = Terminal
    paper_rank = case({"low": 1, "out": 2}, value=t.paper, else_=0)
    key: Any = {
        "id": t.id, "site": t.site, "status": t.online, "last_seen": t.last_seen,
        "app_version": t.app_version, "faults": t.fault_count, "paper": paper_rank,
        "outbox": t.outbox_depth, "alerts": func.coalesce(alerts.c.n, 0),
    }[fq.sort]
    key = key.desc() if fq.order == "desc" else key.asc()
    # NULLs (never seen) last either way; the id keeps equal rows in a stable order
    nulls = key.nulls_last() if fq.sort in ("site", "last_seen") else key
    return [nulls, t.id.asc()]


# What a fleet row needs: plain columns, not ORM objects (a quarter of the time for 1,000).
ROW_COLUMNS = (Terminal.id, Terminal.site, Terminal.online, Terminal.offline_reason,
               Terminal.state_at, Terminal.last_seen, Terminal.app_version, Terminal.packages,
               Terminal.faults, Terminal.fault_count, Terminal.paper, Terminal.outbox_depth,
               Terminal.outbox_oldest_age_s, Terminal.clock_skew_s, Terminal.package_problem,
               Terminal.maintenance)


def fleet(db: Session, fq: FleetQuery) -> tuple[list[dict[str, Any]], int]:
    """The terminals matching `fq` in its order (a page of them) and how many match."""
    alerts = _open_alerts()
    conds = _conditions(fq)
    n_alerts = func.coalesce(alerts.c.n, 0).label("open_alerts")
    stmt = (select(*ROW_COLUMNS, n_alerts)
            .outerjoin(alerts, alerts.c.terminal_id == Terminal.id)
            .where(*conds).order_by(*_sort_key(fq, alerts)))
    exact = bool(fq.package) or fq.fault not in (None, "any", "none")
    if not exact:  # the count and the page come straight from SQL
        total = db.scalar(select(func.count()).select_from(Terminal).where(*conds)) or 0
        rows = db.execute(stmt.limit(fq.limit).offset(fq.offset)).all()
        return [terminal_row(r, r[-1]) for r in rows], total
    matched = [r for r in db.execute(stmt).all()
               if (not fq.package or fq.package in active_packages(r.packages))
               and (fq.fault in (None, "any", "none") or fq.fault in (r.faults or []))]
    page = matched[fq.offset:fq.offset + fq.limit]
    return [terminal_row(r, r[-1]) for r in page], len(matched)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def terminal_row(values: Sequence[Any], open_alerts: int = 0) -> dict[str, Any]:
    """One terminal in the fleet list (API and page) from the values of `ROW_COLUMNS`
    (a result row as it is: unpacking it is twice as fast as reading it by name)."""
    (tid, site, online, reason, state_at, last_seen, app, packages, faults, nfaults, paper,
     depth, oldest, skew, problem, maintenance) = values[:16]
    return {
        "id": tid, "site": site, "online": bool(online), "offline_reason": reason or None,
        "state_at": state_at.isoformat() if state_at else None,
        "last_seen": last_seen.isoformat() if last_seen else None, "app_version": app,
        "packages": active_packages(packages), "faults": list(faults or []),
        "fault_count": nfaults, "paper": paper, "outbox_depth": depth,
        "outbox_oldest_age_s": oldest, "clock_skew_s": skew, "package_problem": problem or None,
        "maintenance": bool(maintenance), "open_alerts": int(open_alerts),
    }


def _values(t: Terminal) -> tuple[Any, ...]:
    return tuple(getattr(t, c.key) for c in ROW_COLUMNS)


def fleet_counts(db: Session) -> dict[str, int]:
    """Fleet-wide numbers for the header of the fleet page (one query)."""
    t = Terminal
    row = db.execute(select(
        func.count(), func.sum(case((t.online.is_(True), 1), else_=0)),
        func.sum(case((t.fault_count > 0, 1), else_=0)),
        func.sum(case((t.paper == "low", 1), else_=0)),
        func.sum(case((t.paper == "out", 1), else_=0)))).one()
    total, online, faults, low, out = (int(x or 0) for x in row)
    return {"total": total, "online": online, "offline": total - online,
            "with_faults": faults, "paper_low": low, "paper_out": out}


def fleet_choices(db: Session) -> dict[str, list[str]]:
    """The values the fleet's filters can take: sites, app versions, active packages and
    the devices in fault somewhere (distinct in SQL: a handful of rows, not the fleet)."""
    sites = db.scalars(select(Terminal.site).where(Terminal.site.is_not(None))
                       .distinct().order_by(Terminal.site)).all()
    versions = db.scalars(select(Terminal.app_version).where(Terminal.app_version != "")
                          .distinct().order_by(Terminal.app_version)).all()
    packages: set[str] = set()
    for pk in db.scalars(select(Terminal.packages).distinct()):
        packages.update(active_packages(pk))
    devices: set[str] = set()
    for faults in db.scalars(select(Terminal.faults).where(Terminal.fault_count > 0).distinct()):
        devices.update(str(d) for d in faults or [] if isinstance(d, str))
    return {"sites": [s for s in sites if s], "app_versions": list(versions),
            "packages": sorted(packages), "devices": sorted(devices)}


# -- one terminal ----------------------------------------------------------------------------
def terminal_detail(db: Session, tid: str, events: int = 50) -> dict[str, Any] | None:
    t = db.get(Terminal, tid)
    if t is None:
        return None
    open_alerts = alerts(db, "live", terminal=tid, limit=100)[0]
    # command answers are shown with their commands (opscentre.web.commands), not here
    recent = db.scalars(select(Event).where(Event.terminal_id == tid, Event.topic != "results")
                        .order_by(Event.at.desc(), Event.id.desc()).limit(events)).all()
    return terminal_row(_values(t), len(open_alerts)) | {
        "first_seen": _iso(t.first_seen), "last_health_at": _iso(t.last_health_at),
        "health_interval_s": t.health_interval_s, "uptime_s": t.uptime_s,
        "devices": dict(t.devices or {}), "consumables": dict(t.consumables or {}),
        "packages_reported": dict(t.packages or {}), "disk": dict(t.disk or {}),
        "package_problem_at": _iso(t.package_problem_at),
        "alerts": open_alerts, "events": [event_row(e) for e in recent],
    }


def event_row(e: Event) -> dict[str, Any]:
    body = e.body if isinstance(e.body, dict) else {}
    return {"id": e.id, "at": _iso(e.at), "received_at": _iso(e.received_at),
            "topic": e.topic, "type": e.type, "device": e.device or None, "body": body}


@dataclass(frozen=True)
class Bucket:
    start: dt.datetime
    samples: int
    offline: bool  # offline at any point of the bucket
    faults: int  # the most
    paper: str  # the worst
    outbox: int  # the most


def timeline(db: Session, tid: str, days: int, points: int,
             now: dt.datetime | None = None) -> dict[str, Any]:
    """Health over the last `days`, downsampled to at most `points` buckets, and the events."""
    end = now or utcnow()
    start = end - dt.timedelta(days=days)
    samples = db.execute(
        select(HealthSample.at, HealthSample.online, HealthSample.fault_count,
               HealthSample.paper, HealthSample.outbox_depth, HealthSample.samples)
        .where(HealthSample.terminal_id == tid, HealthSample.at >= start,
               HealthSample.at <= end)
        .order_by(HealthSample.at)).all()
    buckets = downsample(samples, start, end, points)
    events = db.scalars(select(Event).where(Event.terminal_id == tid, Event.at >= start,
                                            Event.at <= end, Event.topic != "results")
                        .order_by(Event.at).limit(2000)).all()
    return {"start": start.isoformat(), "end": end.isoformat(), "points": points,
            "buckets": [{"start": b.start.isoformat(), "samples": b.samples,
                         "offline": b.offline, "faults": b.faults, "paper": b.paper,
                         "outbox": b.outbox} for b in buckets],
            "events": [event_row(e) for e in events]}


def downsample(samples: Iterable[Sequence[Any]], start: dt.datetime, end: dt.datetime,
               points: int) -> list[Bucket]:
    """Fold (at, online, faults, paper, outbox, n) rows into equal time buckets.

    Each bucket keeps the worst of what it covers (offline, most faults, worst paper,
    deepest outbox): a short fault must not vanish between two points of the chart.
    """
    span = (end - start).total_seconds()
    width = max(span / max(points, 1), 1.0)
    acc: dict[int, list[Any]] = {}
    for at, online, faults, paper, outbox, n in samples:
        i = min(int((at - start).total_seconds() // width), points - 1)
        if i < 0:
            continue
        cur = acc.get(i)
        if cur is None:
            acc[i] = [int(n or 1), not online, int(faults or 0), paper or "ok", int(outbox or 0)]
            continue
        cur[0] += int(n or 1)
        cur[1] = cur[1] or not online
        cur[2] = max(cur[2], int(faults or 0))
        if PAPER_RANK.get(paper or "ok", 0) > PAPER_RANK.get(cur[3], 0):
            cur[3] = paper
        cur[4] = max(cur[4], int(outbox or 0))
    return [Bucket(start + dt.timedelta(seconds=i * width), *acc[i]) for i in sorted(acc)]


# -- alerts ------------------------------------------------------------------------------------
def alerts(db: Session, state: AlertFilter = "live", *, terminal: str | None = None,
           rule: str | None = None, severity: str | None = None, limit: int = 500,
           offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    conds: list[ColumnElement[bool]] = []
    if state == "live":
        conds.append(Alert.state != AlertState.CLOSED.value)
    elif state != "all":
        conds.append(Alert.state == state)
    if terminal:
        conds.append(Alert.terminal_id == terminal)
    if rule:
        conds.append(Alert.rule == rule)
    if severity:
        conds.append(Alert.severity == severity)
    total = db.scalar(select(func.count()).select_from(Alert).where(*conds)) or 0
    # open before acked before closed, newest first within each
    rank = case({"open": 0, "acked": 1}, value=Alert.state, else_=2)
    rows = db.scalars(select(Alert).where(*conds)
                      .order_by(rank, Alert.opened_at.desc(), Alert.id.desc())
                      .limit(limit).offset(offset)).all()
    return [alert_row(a) for a in rows], total


def alert_row(a: Alert) -> dict[str, Any]:
    return {"id": a.id, "rule": a.rule, "terminal": a.terminal_id, "subject": a.subject or None,
            "severity": a.severity, "state": a.state, "message": a.message,
            "detail": dict(a.detail or {}), "opened_at": _iso(a.opened_at),
            "acked_at": _iso(a.acked_at), "acked_by": a.acked_by,
            "closed_at": _iso(a.closed_at), "flaps": a.flaps}


def alert_choices(db: Session) -> dict[str, list[str]]:
    rules = db.scalars(select(Alert.rule).distinct().order_by(Alert.rule)).all()
    sev = db.scalars(select(Alert.severity).distinct().order_by(Alert.severity)).all()
    return {"rules": list(rules), "severities": list(sev)}


# -- audit -------------------------------------------------------------------------------------
def audit_log(db: Session, *, action: str | None = None, actor: str | None = None,
              limit: int = 200, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    conds: list[ColumnElement[bool]] = []
    if action:
        conds.append(AuditEntry.action == action)
    if actor:
        conds.append(or_(AuditEntry.actor == actor, AuditEntry.target == actor))
    total = db.scalar(select(func.count()).select_from(AuditEntry).where(*conds)) or 0
    rows = db.scalars(select(AuditEntry).where(*conds)
                      .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                      .limit(limit).offset(offset)).all()
    return [{"id": e.id, "at": _iso(e.at), "actor": e.actor, "action": e.action,
             "target": e.target, "address": e.address, "detail": dict(e.detail or {})}
            for e in rows], total


def audit_actions(db: Session) -> list[str]:
    return list(db.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
