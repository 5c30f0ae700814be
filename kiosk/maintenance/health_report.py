"""A health snapshot as a technician reads it in a shell: translated labels, one line per
device, consumables, outbox, packages; never a Python repr (`--json` is for machines)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from kiosk.i18n import Translator
from kiosk.maintenance.messages import device_name, message_text, metric_text, tr

# Which consumable each device's details speak for, and the level each detail means.
CONSUMABLES: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("receipt", "receipt_paper", (("paper_out", "out"), ("paper_low", "low"))),
    ("a4", "a4_paper", (("paper_out", "out"), ("media_jam", "jam"), ("paper_jam", "jam"),
                        ("paper_low", "low"))),
    ("a4", "toner", (("toner_out", "out"), ("toner_low", "low"))),
)


def duration(seconds: float | None, t: Translator) -> str:
    if seconds is None:
        return str(t("technician.duration.none"))
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    return (f"{d}d " if d else "") + f"{h:02d}:{s // 60:02d}:{s % 60:02d}"


def _mark(d: Mapping[str, Any], t: Translator) -> str:
    from kiosk.maintenance.health import WARNING_DETAILS

    if not d.get("fitted", True):
        level = "none"
    elif d.get("fault"):
        level = "fault"
    elif WARNING_DETAILS & set(d.get("details", ())):
        level = "warning"
    else:
        level = "ok"
    return str(t(f"technician.health.mark.{level}"))


def device_lines(devices: Sequence[Mapping[str, Any]], t: Translator) -> list[str]:
    sep = str(t("technician.sep"))
    rows = []
    for d in devices:
        parts = [tr(t, "maintenance.state.", str(d["state"]))]
        parts += [tr(t, "maintenance.detail.", x) for x in d.get("details", ())]
        parts += [metric_text(t, k, v) for k, v in sorted(dict(d.get("metrics") or {}).items())]
        message = message_text(t, str(d.get("message") or ""))
        if message:
            parts.append(message)
        rows.append((_mark(d, t), device_name(t, str(d["kind"])), sep.join(parts),
                     str(d.get("uri", ""))))
    wm = max((_width(r[0]) for r in rows), default=0)
    wn = max((_width(r[1]) for r in rows), default=0)
    return [f"  {_pad(m, wm)}  {_pad(n, wn)}  {text}   {uri}".rstrip()
            for m, n, text, uri in rows]


def consumable_line(devices: Sequence[Mapping[str, Any]], t: Translator) -> str | None:
    by_kind = {str(d["kind"]): d for d in devices if d.get("fitted", True)}
    parts = []
    for kind, name, levels in CONSUMABLES:
        d = by_kind.get(kind)
        if d is None:
            continue
        details = set(d.get("details", ()))
        if name == "toner" and not details & {"toner_low", "toner_out"}:
            continue  # a printer that does not report toner: say nothing rather than "ok"
        level = next((lv for flag, lv in levels if flag in details), "ok")
        if level == "ok" and ("status_unknown" in details or (
                d.get("fault") and str(d.get("state")) in ("offline", "no_device"))):
            level = "unknown"
        parts.append(f"{t(f'technician.health.consumable.{name}')} "
                     f"{t(f'technician.health.level.{level}')}")
    if not parts:
        return None
    return str(t("technician.health.consumables", items=str(t("technician.sep")).join(parts)))


def outbox_line(ob: Mapping[str, Any], t: Translator) -> str:
    if not ob.get("available"):
        return str(t("technician.health.no_outbox", error=ob.get("error", "")).strip())
    depth = {s: n for s, n in dict(ob.get("depth") or {}).items() if n}
    if depth:
        streams = str(t("technician.list_sep")).join(
            f"{tr(t, 'technician.stream.', s)} {n}" for s, n in sorted(depth.items()))
        line = str(t("technician.health.outbox", total=ob.get("total", 0), streams=streams,
                     oldest=duration(ob.get("oldest_age_s"), t), dead=ob.get("dead", 0),
                     dropped=ob.get("dropped", 0)))
    else:
        line = str(t("technician.health.outbox_empty", dead=ob.get("dead", 0),
                     dropped=ob.get("dropped", 0)))
    if ob.get("accepting") is False:
        line += "\n" + str(t("technician.health.outbox_refusing",
                             reason=ob.get("refusal") or "-"))
    return line


def packages_line(pk: Mapping[str, Any], t: Translator) -> str:
    def names(v: Any) -> str:
        if isinstance(v, (list, tuple)):
            return str(t("technician.list_sep")).join(map(str, v)) or str(t("technician.none"))
        return str(v) if v else str(t("technician.none"))

    line = str(t("technician.health.packages", active=names(pk.get("active"))))
    if pk.get("staged"):
        line += str(t("technician.health.packages_staged", staged=names(pk["staged"])))
    err = pk.get("last_error") or pk.get("error")
    if err:
        line += str(t("technician.health.packages_error", error=names(err)))
    return line


def render_health(snap: Mapping[str, Any], t: Translator) -> str:
    """The whole report, one fact per line."""
    disk = dict(snap.get("disk") or {})
    lines = [str(t("technician.health.title", terminal=snap.get("terminal", ""),
                   version=snap.get("app_version", ""),
                   uptime=duration(snap.get("uptime_s"), t),
                   system_uptime=duration(snap.get("system_uptime_s"), t)))]
    if "free_mb" in disk:
        lines.append(str(t("technician.health.disk", free=disk["free_mb"],
                           pct=disk.get("used_pct", "?"), path=disk.get("path", ""))))
    else:
        lines.append(str(t("technician.health.disk_error", path=disk.get("path", ""))))
    net = str(dict(snap.get("network") or {}).get("state", "unknown"))
    lines.append(str(t("technician.health.network", state=tr(t, "maintenance.net.", net))))
    devices = list(snap.get("devices") or ())
    lines.append(str(t("technician.health.devices")))
    lines += device_lines(devices, t)
    consumables = consumable_line(devices, t)
    if consumables:
        lines.append(consumables)
    lines.append(outbox_line(dict(snap.get("outbox") or {}), t))
    lines.append(packages_line(dict(snap.get("packages") or {}), t))
    last = snap.get("last_error")
    if last:
        at = datetime.fromtimestamp(float(last.get("at", 0))).strftime("%m-%d %H:%M:%S")
        lines.append(str(t("technician.health.last_error", at=at, logger=last.get("logger", ""),
                           message=last.get("message", ""))))
    else:
        lines.append(str(t("technician.health.no_last_error")))
    faults = [device_name(t, str(d["kind"])) for d in devices if d.get("fault")]
    lines.append(str(t("technician.health.summary_faults", n=len(faults),
                       devices=str(t("technician.list_sep")).join(faults))) if faults
                 else str(t("technician.health.summary_ok")))
    return "\n".join(lines)


def _width(text: str) -> int:
    """Columns a terminal gives `text` (CJK characters take two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))
