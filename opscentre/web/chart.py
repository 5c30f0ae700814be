"""The terminal page's timeline as SVG shapes (drawn by the template, no JavaScript).

Lanes from the top: online (red where offline), faults (darker for more), paper (amber
low, red out), outbox depth (an area scaled to the deepest point), and the events as
ticks. Buckets come downsampled from `queries.timeline`; a gap is a time with no data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

POINTS = 240
WIDTH, LEFT, RIGHT = 960, 96, 12
LANE_H, GAP, AREA_H = 16, 6, 64
EVENT_COLOURS = {"fault": "#c62828", "warning": "#ef8f00", "recovered": "#2e7d32"}


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str
    title: str = ""


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    lanes: list[tuple[str, float]]  # label key, y of its middle
    rects: list[Rect] = field(default_factory=list)
    area: str = ""  # SVG path of the outbox depth
    outbox_max: int = 0
    ticks: list[tuple[float, str]] = field(default_factory=list)  # x, label
    events: list[Rect] = field(default_factory=list)
    empty: bool = True
    top: float = 0.0
    bottom: float = 0.0


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _ticks(start: dt.datetime, end: dt.datetime, tz: ZoneInfo, x: Any) -> list[tuple[float, str]]:
    days = max((end - start).days, 1)
    step = 1 if days <= 10 else 7 if days <= 70 else 14
    first = start.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    out, day = [], first + dt.timedelta(days=1)
    while day < end:
        if (day - first).days % step == 0:
            out.append((x(day), day.strftime("%m-%d")))
        day += dt.timedelta(days=1)
    return out


def build(tl: dict[str, Any], tz: ZoneInfo) -> Chart:
    start, end = _parse(tl["start"]), _parse(tl["end"])
    span = max((end - start).total_seconds(), 1.0)
    inner = WIDTH - LEFT - RIGHT
    bw = inner / max(int(tl["points"]), 1)

    def x(at: dt.datetime) -> float:
        return round(LEFT + inner * (at - start).total_seconds() / span, 1)

    y_online, y_fault, y_paper = 8.0, 8.0 + LANE_H + GAP, 8.0 + 2 * (LANE_H + GAP)
    y_area = y_paper + LANE_H + GAP
    y_events = y_area + AREA_H + GAP
    height = int(y_events + LANE_H + 22)
    rects: list[Rect] = []
    buckets = tl["buckets"]
    deepest = max((b["outbox"] for b in buckets), default=0)
    area: list[str] = []
    for b in buckets:
        bx, when = x(_parse(b["start"])), _parse(b["start"]).astimezone(tz).strftime(
            "%m-%d %H:%M")
        w = round(bw + 0.6, 1)  # a little overlap: no hairline gaps between buckets
        rects.append(Rect(bx, y_online, w, LANE_H, "#c62828" if b["offline"] else "#43a047",
                          f"{when} {'offline' if b['offline'] else 'online'}"))
        if b["faults"]:
            shade = "#c62828" if b["faults"] > 1 else "#e57373"
            rects.append(Rect(bx, y_fault, w, LANE_H, shade, f"{when} faults {b['faults']}"))
        if b["paper"] != "ok":
            rects.append(Rect(bx, y_paper, w, LANE_H,
                              "#c62828" if b["paper"] == "out" else "#ef8f00",
                              f"{when} paper {b['paper']}"))
        if deepest:
            top = y_area + AREA_H - AREA_H * b["outbox"] / deepest
            area.append(f"M{bx},{y_area + AREA_H}V{round(top, 1)}H{round(bx + w, 1)}"
                        f"V{y_area + AREA_H}Z")
    events = [Rect(x(_parse(e["at"])) - 1, y_events, 2, LANE_H,
                   EVENT_COLOURS.get(e["type"], "#607d8b"),
                   f"{_parse(e['at']).astimezone(tz).strftime('%m-%d %H:%M')} {e['type']}"
                   f" {e['device'] or ''}".strip())
              for e in tl["events"]]
    lanes = [("terminal.chart_online", y_online + LANE_H / 2),
             ("terminal.chart_faults", y_fault + LANE_H / 2),
             ("terminal.chart_paper", y_paper + LANE_H / 2),
             ("terminal.chart_outbox", y_area + AREA_H / 2),
             ("terminal.events", y_events + LANE_H / 2)]
    return Chart(WIDTH, height, lanes, rects, "".join(area), deepest,
                 _ticks(start, end, tz, x), events, empty=not buckets and not events,
                 top=4.0, bottom=y_events + LANE_H + 4)
