"""What the centre reads out of a terminal's health body and device events.

Terminals send the heartbeat's snapshot (`kiosk.heartbeat.heartbeat_payload`): devices
with state, details and fault flags, the outbox, package versions, uptime and disk. The
centre trusts none of its shapes: every field is read defensively and cut to what the
database holds, so a malformed body is a body with less in it, never an exception.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PAPER_LEVELS = ("ok", "low", "out")  # worse to the right
MAX_DEVICES = 32
MAX_DETAILS = 16
DEFAULT_INTERVAL_S = 60.0


def text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def clean_device(raw: Any) -> dict[str, Any] | None:
    """One device's health as stored: state, details, fault, fitted, message."""
    if not isinstance(raw, dict):
        return None
    details = raw.get("details")
    details = [d[:32] for d in details if isinstance(d, str)][:MAX_DETAILS] \
        if isinstance(details, list) else []
    return {"state": text(raw.get("state"), 32) or "unknown", "details": details,
            "fault": raw.get("fault") is True, "fitted": raw.get("fitted") is not False,
            "message": text(raw.get("message"), 200)}


def clean_devices(raw: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for kind, dev in list(mapping(raw).items())[:MAX_DEVICES]:
        d = clean_device(dev)
        if d is not None and kind:
            out[kind[:32]] = d
    return out


def paper_of(dev: dict[str, Any]) -> str:
    details = set(dev.get("details") or ())
    if not dev.get("fitted", True):
        return "ok"
    if "paper_out" in details:
        return "out"
    return "low" if "paper_low" in details else "ok"


def worst(levels: list[str]) -> str:
    return max(levels, key=PAPER_LEVELS.index, default="ok")


@dataclass(frozen=True)
class DeviceSummary:
    faults: tuple[str, ...]  # device kinds in fault
    paper: str  # the worst paper level of any printer
    consumables: dict[str, dict[str, str]]


def summarise(devices: dict[str, dict[str, Any]]) -> DeviceSummary:
    faults = tuple(sorted(k for k, d in devices.items() if d.get("fitted", True)
                          and d.get("fault")))
    consumables: dict[str, dict[str, str]] = {}
    for kind, d in devices.items():
        details = set(d.get("details") or ())
        c: dict[str, str] = {}
        if details & {"paper_low", "paper_out"} or kind in ("receipt", "a4"):
            c["paper"] = paper_of(d)
        if "toner_low" in details:
            c["toner"] = "low"
        if c:
            consumables[kind] = c
    paper = worst([c["paper"] for c in consumables.values() if "paper" in c])
    return DeviceSummary(faults, paper, consumables)


@dataclass(frozen=True)
class Health:
    """The parts of one health body the centre keeps."""

    devices: dict[str, dict[str, Any]]
    summary: DeviceSummary
    app_version: str
    packages: dict[str, Any]
    outbox_depth: int
    outbox_oldest_age_s: float | None
    uptime_s: float | None
    disk: dict[str, Any]
    interval_s: float
    package_problem: str  # "", "rejected" or "rolled_back"
    maintenance: bool
    site: str


def package_problem(packages: dict[str, Any]) -> str:
    """`rolled_back` when the terminal fell back from a set it could not load, `rejected`
    when it refused one (download, signature, check), "" when the last poll was clean."""
    err = packages.get("last_error")
    if not isinstance(err, dict):
        return ""
    return "rolled_back" if err.get("stage") == "load" else "rejected"


def _small(value: Any, keys: int = 16) -> dict[str, Any]:
    """A flat dict of short scalars (versions, disk figures): nothing nested or long."""
    out: dict[str, Any] = {}
    for k, v in list(mapping(value).items())[:keys]:
        if isinstance(v, str):
            out[k[:64]] = v[:128]
        elif isinstance(v, bool) or v is None or number(v) is not None:
            out[k[:64]] = v
        elif isinstance(v, list):
            out[k[:64]] = [x[:128] for x in v if isinstance(x, str)][:32]
        elif isinstance(v, dict) and k == "last_error":
            out[k] = {kk[:32]: (vv[:200] if isinstance(vv, str) else number(vv))
                      for kk, vv in list(v.items())[:8]}
    return out


ACTIVATION_COUNTERS = ("sessions", "error_screens", "faults")


def activation_counters(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the terminal counted since its package set was activated (the heartbeat's
    `activated_at`, `sessions`, `error_screens`, `faults`): the rollouts' health."""
    out: dict[str, Any] = {}
    for k in ACTIVATION_COUNTERS:
        n = number(body.get(k))
        if n is not None and n >= 0:
            out[k] = int(min(n, 2**31 - 1))
    if out:
        out["activated_at"] = text(body.get("activated_at"), 40) or None
    return out


def read_health(body: Mapping[str, Any]) -> Health:
    devices = clean_devices(body.get("devices"))
    outbox = mapping(body.get("outbox"))
    depth = number(outbox.get("total"))
    if depth is None:
        per_stream = mapping(outbox.get("depth"))
        depth = sum(n for n in (number(v) for v in per_stream.values()) if n is not None)
    hb = mapping(body.get("heartbeat"))
    interval = number(hb.get("interval_s")) or number(body.get("interval_s"))
    packages = _small(body.get("packages"))
    counters = activation_counters(body)
    if counters:
        packages["counters"] = counters
    return Health(
        devices=devices, summary=summarise(devices),
        app_version=text(body.get("app_version"), 64), packages=packages,
        outbox_depth=max(0, min(int(depth), 2**31 - 1)),
        outbox_oldest_age_s=number(outbox.get("oldest_age_s")),
        uptime_s=number(body.get("uptime_s")), disk=_small(body.get("disk")),
        interval_s=min(max(interval or DEFAULT_INTERVAL_S, 1.0), 86400.0),
        package_problem=package_problem(packages),
        maintenance=body.get("maintenance") is True, site=text(body.get("site"), 128),
    )
