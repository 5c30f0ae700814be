"""Month ranges for period pickers: parse, clamp to what the platform allows, presets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
PRESETS = ("last_3", "last_6", "last_12", "last_24", "last_36", "this_year", "last_year")


class PeriodError(ValueError):
    """A period that cannot be offered or accepted; `key` is a translation key."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key, self.values = key, values


def month_index(text: str) -> int:
    """"2024-03" -> a month count (year * 12 + month - 1)."""
    m = _MONTH.match(str(text))
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise PeriodError("period.bad_month", value=text)
    return int(m.group(1)) * 12 + int(m.group(2)) - 1


def month_text(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_cn(text: str) -> str:
    return f"{text[:4]}年{text[5:7]}月"


@dataclass(frozen=True)
class Limits:
    """What the platform allows: months `earliest`..`latest`, at most `max_months` at once."""

    earliest: int
    latest: int
    max_months: int

    @classmethod
    def parse(cls, raw: Any) -> Limits:
        if not isinstance(raw, Mapping):
            raise PeriodError("period.no_limits")
        try:
            earliest, latest = month_index(raw["earliest"]), month_index(raw["latest"])
            max_months = int(raw.get("max_months", latest - earliest + 1))
        except (KeyError, TypeError, ValueError) as exc:
            raise PeriodError("period.no_limits") from exc
        if latest < earliest or max_months < 1:
            raise PeriodError("period.nothing_available")
        return cls(earliest, latest, max_months)

    def years(self) -> list[int]:
        """Years with at least one allowed month, newest first."""
        return list(range(self.latest // 12, self.earliest // 12 - 1, -1))


@dataclass(frozen=True)
class Period:
    start: int
    end: int

    @property
    def months(self) -> int:
        return self.end - self.start + 1

    def as_data(self, mode: str) -> dict[str, Any]:
        s, e = month_text(self.start), month_text(self.end)
        out: dict[str, Any] = {"start": s, "end": e, "months": self.months, "mode": mode,
                               "label": f"{month_cn(s)} 至 {month_cn(e)}"}
        if mode == "year":
            out["year"] = self.start // 12
            out["label"] = f"{self.start // 12}年度（{out['label']}）"
        return out


def year_period(year: int, limits: Limits) -> Period:
    """A calendar year clamped to the allowed months (a year may be partly available)."""
    start = max(year * 12, limits.earliest)
    end = min(year * 12 + 11, limits.latest)
    if start > end:
        raise PeriodError("period.year_unavailable", year=year)
    return Period(start, min(end, start + limits.max_months - 1))


def preset_period(preset: str, limits: Limits) -> Period:
    if preset.startswith("last_") and preset[5:].isdigit():
        n = min(int(preset[5:]), limits.max_months)
        return Period(max(limits.earliest, limits.latest - n + 1), limits.latest)
    if preset == "this_year":
        return year_period(limits.latest // 12, limits)
    if preset == "last_year":
        return year_period(limits.latest // 12 - 1, limits)
    raise PeriodError("period.bad_preset", preset=preset)


def check_range(start: str, end: str, limits: Limits) -> Period:
    """Validate a chosen range; the error key says what to change."""
    s, e = month_index(start), month_index(end)
    if s > e:
        raise PeriodError("period.start_after_end")
    if s < limits.earliest or e > limits.latest:
        raise PeriodError("period.outside_limits", earliest=month_cn(month_text(limits.earliest)),
                          latest=month_cn(month_text(limits.latest)))
    if e - s + 1 > limits.max_months:
        raise PeriodError("period.too_long", max=limits.max_months)
    return Period(s, e)
