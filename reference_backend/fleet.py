"""Fleet monitoring: terminal heartbeats and device-fault events; a status page for ops.

`POST /api/v1/fleet/heartbeat` (signed) stores the latest health of a terminal;
`POST /api/v1/fleet/events` (signed, Idempotency-Key) records a device entering or
leaving a fault. The same items also arrive through the outbox (streams `heartbeat`
and `telemetry`) when the outbox hands them to `state.outbox_sinks`.

`GET /fleet` is an HTML page listing every terminal: seen recently or silent, when it
was last seen, its app and package versions, outbox depth, current device faults and
recent events; `GET /fleet.json` is the same as data. Neither holds personal data.
With $REFBACKEND_FLEET_TOKEN set they need `?token=` (or header X-Fleet-Token).
"""

from __future__ import annotations

import html
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from fastapi import Depends, Header, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reference_backend.app import ApiError, Platform

MAX_DEVICES = 32
EVENTS_KEPT = 50
LEVELS = ("ok", "warning", "fault")


class DeviceBeat(BaseModel):
    model_config = ConfigDict(extra="allow")
    state: str = Field(max_length=32)
    details: list[str] = Field(default_factory=list, max_length=32)
    fault: bool = False
    fitted: bool = True
    message: str = Field(default="", max_length=300)


class HeartbeatBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    seq: int = Field(ge=0)
    sent_at: float
    boot: str = Field(default="", max_length=64)
    app_version: str = Field(default="", max_length=64)
    uptime_s: float = 0
    devices: dict[str, DeviceBeat] = Field(default_factory=dict)
    outbox: dict[str, Any] = Field(default_factory=dict)
    packages: dict[str, Any] = Field(default_factory=dict)
    last_error: dict[str, Any] | None = None


class FaultEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["fault", "warning", "recovered"]
    key: str = Field(min_length=8, max_length=128)
    device: str = Field(min_length=1, max_length=32)
    state: str = Field(default="", max_length=32)
    details: list[str] = Field(default_factory=list, max_length=32)
    message: str = Field(default="", max_length=300)
    at: float


@dataclass
class TerminalView:
    terminal: str
    last_seen: float = 0.0  # platform clock
    heartbeat: dict[str, Any] | None = None
    heartbeat_at: float = 0.0  # terminal clock (sent_at) of the newest heartbeat
    heartbeats: int = 0
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=EVENTS_KEPT))
    event_keys: set[str] = field(default_factory=set)

    def interval_s(self) -> float:
        hb = (self.heartbeat or {}).get("heartbeat") or {}
        try:
            return max(1.0, float(hb.get("interval_s", 60.0)))
        except (TypeError, ValueError):
            return 60.0

    def status(self, now: float) -> str:
        """`online` (seen within 3 intervals), `late` (within 10), else `silent`."""
        age = now - self.last_seen
        if age <= 3 * self.interval_s():
            return "online"
        return "late" if age <= 10 * self.interval_s() else "silent"

    def faults(self) -> list[dict[str, Any]]:
        return [{"device": k, **v} for k, v in sorted(self.devices.items())
                if v["level"] != "ok"]

    def to_dict(self, now: float) -> dict[str, Any]:
        hb = self.heartbeat or {}
        return {"terminal": self.terminal, "status": self.status(now),
                "last_seen": self.last_seen, "age_s": round(now - self.last_seen, 1),
                "heartbeats": self.heartbeats, "app_version": hb.get("app_version", ""),
                "uptime_s": hb.get("uptime_s"), "outbox": hb.get("outbox", {}),
                "packages": hb.get("packages", {}), "last_error": hb.get("last_error"),
                "faults": self.faults(), "events": list(self.events)[-10:],
                "maintenance": bool(hb.get("maintenance"))}


def _level(beat: DeviceBeat | dict[str, Any]) -> str:
    b = beat if isinstance(beat, DeviceBeat) else DeviceBeat.model_validate(beat)
    if not b.fitted:
        return "ok"
    if b.fault:
        return "fault"
    if {"paper_low", "toner_low", "status_unknown", "status_timeout"} & set(b.details):
        return "warning"
    return "ok"


class Fleet:
    """Latest state per terminal (in memory, like the rest of the reference platform)."""

    def __init__(self, clock: Any = time.time) -> None:
        self.lock = threading.Lock()
        self.terminals: dict[str, TerminalView] = {}
        self.clock = clock

    def _view(self, tid: str) -> TerminalView:
        view = self.terminals.get(tid)
        if view is None:
            view = self.terminals[tid] = TerminalView(tid)
        return view

    def heartbeat(self, tid: str, body: HeartbeatBody) -> dict[str, Any]:
        if len(body.devices) > MAX_DEVICES:
            raise ApiError(422, "too_many_devices")
        with self.lock:
            view = self._view(tid)
            view.last_seen = self.clock()
            view.heartbeats += 1
            if body.sent_at >= view.heartbeat_at:  # a late replay never hides newer news
                view.heartbeat_at = body.sent_at
                view.heartbeat = body.model_dump()
                for kind, beat in body.devices.items():
                    cur = view.devices.get(kind)
                    if cur is None or cur["at"] <= body.sent_at:
                        view.devices[kind] = {"level": _level(beat), "state": beat.state,
                                              "details": list(beat.details),
                                              "message": beat.message, "at": body.sent_at}
            return {"accepted": True, "status": view.status(self.clock())}

    def event(self, tid: str, ev: FaultEvent) -> dict[str, Any]:
        with self.lock:
            view = self._view(tid)
            view.last_seen = self.clock()
            if ev.key in view.event_keys:
                return {"accepted": True, "duplicate": True}
            view.event_keys.add(ev.key)
            view.events.append(ev.model_dump() | {"received": round(self.clock(), 3)})
            cur = view.devices.get(ev.device)
            if cur is None or cur["at"] <= ev.at:
                level = "ok" if ev.type == "recovered" else ev.type
                view.devices[ev.device] = {"level": level, "state": ev.state,
                                           "details": list(ev.details), "message": ev.message,
                                           "at": ev.at}
            return {"accepted": True, "duplicate": False}

    def ingest(self, tid: str, stream: str, payload: Any) -> str:
        """An item delivered through the outbox (stream `heartbeat` or `telemetry`).

        Returns "" when taken (or not a fleet item), else a permanent error code.
        """
        if not isinstance(payload, dict):
            return "payload_not_object"
        try:
            if stream == "heartbeat":
                self.heartbeat(tid, HeartbeatBody.model_validate(payload))
            elif stream == "telemetry" and payload.get("type") in ("fault", "warning",
                                                                   "recovered"):
                self.event(tid, FaultEvent.model_validate(payload))
        except ValidationError:
            return f"invalid_{stream}"
        except ApiError as exc:
            return exc.code
        return ""

    def snapshot(self) -> list[dict[str, Any]]:
        now = self.clock()
        with self.lock:
            views = list(self.terminals.values())
            rows = [v.to_dict(now) for v in views]
        order = {"fault": 0, "warning": 1, "ok": 2}
        return sorted(rows, key=lambda r: (min((order[f["level"]] for f in r["faults"]),
                                               default=2), r["terminal"]))


# -- the page --------------------------------------------------------------------------------
_CSS = """
body{font-family:'WenQuanYi Zen Hei',sans-serif;margin:24px;color:#1d2733}
h1{font-size:22px} table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #d5dbe3;padding:6px 10px;text-align:left;vertical-align:top}
th{background:#eef2f7} .online{color:#167a3a} .late{color:#b26a00} .silent{color:#b3261e}
.fault{color:#b3261e} .warning{color:#b26a00} .none{color:#6b7785} small{color:#6b7785}
"""


def _ago(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 90:
        return f"{s} s"
    if s < 5400:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"


def render_page(rows: list[dict[str, Any]], now: float) -> str:
    e = html.escape
    body = []
    for r in rows:
        seen = datetime.fromtimestamp(r["last_seen"]).strftime("%Y-%m-%d %H:%M:%S")
        faults = "".join(
            f"<li class='{e(f['level'])}' data-device='{e(f['device'])}'>{e(f['device'])}: "
            f"{e(f['state'])} {e(' '.join(f['details']))}</li>" for f in r["faults"])
        events = "".join(
            f"<li>{datetime.fromtimestamp(ev['at']).strftime('%H:%M:%S')} {e(ev['device'])} "
            f"{e(ev['type'])} {e(' '.join(ev['details']))}</li>" for ev in r["events"][-5:])
        ob = r["outbox"] or {}
        depth = ob.get("total", "–") if ob.get("available", True) else "–"
        pk = r["packages"].get("active") or []
        body.append(
            f"<tr class='terminal' data-terminal='{e(r['terminal'])}' "
            f"data-status='{e(r['status'])}'>"
            f"<td><b>{e(r['terminal'])}</b></td>"
            f"<td class='{e(r['status'])}'>{e(r['status'])}"
            f"{'<br><small>maintenance</small>' if r['maintenance'] else ''}</td>"
            f"<td>{seen}<br><small>{_ago(r['age_s'])} ago</small></td>"
            f"<td>{e(str(r['app_version']))}<br><small>{e(', '.join(map(str, pk)))}</small></td>"
            f"<td>{e(str(depth))}</td>"
            f"<td>{'<ul>' + faults + '</ul>' if faults else '<span class=none>none</span>'}</td>"
            f"<td><ul>{events}</ul></td></tr>")
    table = ("<table><thead><tr><th>Terminal</th><th>Status</th><th>Last seen</th>"
             "<th>Version / packages</th><th>Outbox</th><th>Faults</th><th>Recent events</th>"
             "</tr></thead><tbody>" + "".join(body) + "</tbody></table>") if rows else \
        "<p id='empty'>No terminal has reported yet.</p>"
    faulty = sum(1 for r in rows if any(f["level"] == "fault" for f in r["faults"]))
    silent = sum(1 for r in rows if r["status"] == "silent")
    stamp = datetime.fromtimestamp(now).strftime("%Y-%m-%d %H:%M:%S")
    return ("<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
            "<meta http-equiv='refresh' content='30'><title>莞家政务 终端运行状态 Fleet</title>"
            f"<style>{_CSS}</style></head><body><h1>终端运行状态 Fleet status</h1>"
            f"<p id='summary'>{len(rows)} terminal(s), {faulty} with faults, {silent} silent "
            f"<small>({stamp})</small></p>{table}</body></html>")


def register(platform: Platform) -> None:
    app, state = platform.app, platform.state
    fleet = Fleet()
    state.fleet = fleet
    sinks = getattr(state, "outbox_sinks", None)
    if sinks is None:
        sinks = state.outbox_sinks = {}
    sinks["heartbeat"] = fleet.ingest
    sinks["telemetry"] = fleet.ingest

    @app.post("/api/v1/fleet/heartbeat")
    def heartbeat(body: HeartbeatBody, tid: str = Depends(platform.terminal)) -> dict[str, Any]:
        return fleet.heartbeat(tid, body)

    @app.post("/api/v1/fleet/events", status_code=201)
    def event(body: FaultEvent, tid: str = Depends(platform.terminal),
              idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
        if not idempotency_key or idempotency_key != body.key:
            raise ApiError(400, "idempotency_key_required")
        return fleet.event(tid, body)

    token = os.environ.get("REFBACKEND_FLEET_TOKEN", "")

    def viewer(q: str = Query(default="", alias="token"),
               x_fleet_token: str = Header(default="")) -> None:
        if token and not (secrets.compare_digest(q, token)
                          or secrets.compare_digest(x_fleet_token, token)):
            raise ApiError(403, "forbidden")

    @app.get("/fleet", response_class=HTMLResponse, dependencies=[Depends(viewer)])
    def page() -> HTMLResponse:
        return HTMLResponse(render_page(fleet.snapshot(), fleet.clock()))

    @app.get("/fleet.json", dependencies=[Depends(viewer)])
    def data() -> dict[str, Any]:
        return {"at": fleet.clock(), "terminals": fleet.snapshot()}
