"""How times and durations read on the pages (in the console's time zone and language)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from opscentre.web import i18n

NONE = "—"


def local(value: str | dt.datetime | None, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    if not value:
        return NONE
    when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(tz).strftime(fmt)


def ago(value: str | None, lang: str, now: dt.datetime | None = None) -> str:
    """'3 分钟前' / '3 min ago' (the largest whole unit)."""
    if not value:
        return i18n.translate(lang, "time.never")
    now = now or dt.datetime.now(dt.UTC)
    secs = max(0, int((now - dt.datetime.fromisoformat(value)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return i18n.translate(lang, f"time.ago_{unit}", n=secs // size)
    return i18n.translate(lang, "time.ago_s", n=secs)


def duration(secs: float | None) -> str:
    if secs is None:
        return NONE
    s = int(secs)
    if s >= 86400:
        return f"{s // 86400}d {s % 86400 // 3600}h"
    return f"{s // 3600}h {s % 3600 // 60}m" if s >= 3600 else f"{s // 60}m {s % 60}s"
