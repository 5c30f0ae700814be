"""A synthetic fleet put into the centre's database through the centre's own ingest.

Each terminal's `state` and `health` messages are fleet-protocol envelopes shaped like the
terminal's heartbeat (`kiosk.heartbeat.heartbeat_payload`), applied by
`opscentre.apply.Applier` as the ingest does; the alerts are opened by the centre's rules
(`opscentre.alerts.AlertEngine`, holds set to zero). No personal data: ids, sites and
versions are invented.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from kiosk.fleet.protocol import Envelope
from opscentre.alerts import AlertEngine
from opscentre.apply import Applier, Message
from opscentre.settings import RULES, AlertRules

SITES = ("东城服务中心", "南城地铁站", "松山湖银行网点", "虎门镇服务中心", "长安镇服务中心",
         "塘厦地铁站", "莞城行政服务中心", "厚街农商银行")
APP_VERSIONS = ("1.4.0", "1.4.0", "1.4.0", "1.3.2")
PACKAGES = ("builtin@2026.11.1", "builtin@2026.11.1", "builtin@2026.10.4")


@dataclass(frozen=True)
class Fleet:
    ids: list[str]
    paper_out: list[str]
    paper_low: list[str]
    faulty: list[str]
    offline: list[str]
    history: str  # the terminal with days of health history


def _device(state: str = "online", details: tuple[str, ...] = (), fault: bool = False
            ) -> dict[str, Any]:
    return {"state": state, "details": list(details), "fault": fault, "fitted": True,
            "message": ""}


def health_body(tid: str, at: float, *, paper: str = "ok", fault: str = "",
                outbox: int = 0, app: str = "1.4.0", package: str = PACKAGES[0],
                site: str = "", seq: int = 0) -> dict[str, Any]:
    """A heartbeat body as the terminal sends it (kiosk.heartbeat.heartbeat_payload)."""
    paper_details = {"ok": (), "low": ("paper_low",), "out": ("paper_out",)}[paper]
    devices = {
        "idcard": _device(), "sscard": _device(), "scanner": _device(), "camera": _device(),
        "receipt": _device("user_error" if paper == "out" else "online", paper_details),
        "a4": _device(),
    }
    if fault:  # a jammed receipt printer still reports its paper
        devices[fault] = _device("hardware_error", ("cutter_jam", *paper_details)
                                 if fault == "receipt" else ("no_response",), fault=True)
    return {
        "seq": seq, "boot": f"b-{tid}", "sent_at": at, "terminal": tid, "app_version": app,
        "uptime_s": 3600 * 20 + seq * 60, "devices": devices,
        "outbox": {"available": True, "total": outbox, "depth": {"telemetry": outbox},
                   "oldest_age_s": 40.0 * outbox if outbox else None, "dead": 0},
        "packages": {"active": [package]}, "network": {"state": "online"},
        "disk": {"path": "/var/lib/kiosk", "total_mb": 60000, "free_mb": 41000,
                 "used_pct": 31.7},
        "last_error": None, "heartbeat": {"interval_s": 60.0}, "site": site,
    }


def _msg(kind: str, tid: str, typ: str, body: dict[str, Any], at: dt.datetime) -> Message:
    return Message(kind, Envelope(terminal=tid, type=typ, body=body, at=at.timestamp()), at)


def _history(tid: str, site: str, end: dt.datetime, days: int) -> Iterator[Message]:
    """Health every 5 minutes for `days`: paper running low then out and refilled, a
    receipt-printer fault for an hour, an outbox that backs up while the link was poor."""
    start = end - dt.timedelta(days=days)
    steps = days * 24 * 12
    for i in range(steps):
        at = start + dt.timedelta(minutes=5 * i)
        frac = i / steps
        paper = "low" if 0.55 < frac < 0.7 else "out" if 0.7 <= frac < 0.74 else "ok"
        fault = "receipt" if 0.3 < frac < 0.31 else ""
        outbox = int(30 * (frac - 0.45) / 0.05) if 0.45 < frac < 0.5 else 0
        yield _msg("health", tid, "health", health_body(tid, at.timestamp(), paper=paper,
                                                          fault=fault, outbox=outbox,
                                                          site=site, seq=i), at)
    yield _msg("events", tid, "fault", {"device": "receipt", "state": "hardware_error",
                                         "details": ["cutter_jam"], "message": "cutter jam"},
               start + dt.timedelta(days=days * 0.3))
    yield _msg("events", tid, "recovered", {"device": "receipt", "state": "online",
                                             "details": []},
               start + dt.timedelta(days=days * 0.31))
    yield _msg("events", tid, "warning", {"device": "receipt", "state": "online",
                                           "details": ["paper_low"]},
               start + dt.timedelta(days=days * 0.55))


def seed_fleet(db: Session, n: int = 1000, *, seed: int = 15, history_days: int = 3,
               now: dt.datetime | None = None) -> Fleet:
    """`n` terminals through the ingest (committed), with alerts opened by the rules."""
    rng = random.Random(seed)
    now = now or dt.datetime.now(dt.UTC)
    ids = [f"DG-{i:04d}" for i in range(1, n + 1)]
    history = ids[min(6, n - 1)]
    fleet = Fleet(ids, [], [], [], [], history)
    messages: list[Message] = []
    for i, tid in enumerate(ids):
        site = SITES[i % len(SITES)]
        connected = now - dt.timedelta(hours=rng.randint(1, 72))
        messages.append(_msg("state", tid, "online", {
            "online": True, "session": f"s-{tid}", "app_version": APP_VERSIONS[i % 4],
            "site": site}, connected))
        r = rng.random()
        paper = "out" if r < 0.03 else "low" if r < 0.09 else "ok"
        fault = rng.choice(("receipt", "a4", "camera", "sscard")) if rng.random() < 0.04 else ""
        if tid == history:
            paper, fault = "out", "receipt"
            messages.extend(_history(tid, site, now - dt.timedelta(minutes=5), history_days))
        outbox = rng.choice((0, 0, 0, 0, 2, 7, 31)) if rng.random() < 0.2 else 0
        gone = now - dt.timedelta(minutes=rng.randint(3, 600))
        offline = tid != history and rng.random() < 0.06
        # an offline terminal's last health came shortly before its link died
        at = (gone if offline else now) - dt.timedelta(seconds=rng.randint(5, 55))
        messages.append(_msg("health", tid, "health", health_body(
            tid, at.timestamp(), paper=paper, fault=fault, outbox=outbox,
            app=APP_VERSIONS[i % 4], package=PACKAGES[i % 3], site=site), at))
        if paper == "out":
            fleet.paper_out.append(tid)
        elif paper == "low":
            fleet.paper_low.append(tid)
        if fault:
            fleet.faulty.append(tid)
        if offline:
            messages.append(_msg("state", tid, "offline", {
                "online": False, "session": f"s-{tid}", "reason": "will"}, gone))
            fleet.offline.append(tid)
    applier = Applier()
    for i in range(0, len(messages), 2000):
        applier.apply(db, messages[i:i + 2000])
        db.commit()
    rules = AlertRules.model_validate({"offline_after_s": 0, "hold_s": dict.fromkeys(
        [r for r in RULES if r != "offline"], 0.0)})
    AlertEngine(rules).evaluate(db, now)
    db.commit()
    return fleet
