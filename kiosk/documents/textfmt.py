"""Placeholders in templates: `{record.person.name|name}`, `{amount|money}`.

Paths walk nested dicts and lists (`periods.0.start`). Filters are a fixed set of
pure functions: templates are data and can never run code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from kiosk.identity import mask_id_number, mask_name

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.]*)(?:\|([a-z_]+))?\}")


class TemplateError(ValueError):
    pass


def lookup(data: Mapping[str, Any], path: str) -> Any:
    cur: Any = data
    for part in path.split("."):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, (list, tuple)) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            raise TemplateError(f"no value at {path!r}")
    return cur


def _money(v: Any) -> str:
    return f"{float(v):,.2f}"


def _date_cn(v: Any) -> str:
    if isinstance(v, (date, datetime)):
        d = v
    else:
        s = str(v)
        d = datetime.strptime(s[:10], "%Y-%m-%d") if "-" in s else datetime.strptime(s, "%Y%m%d")
    return f"{d.year}年{d.month:02d}月{d.day:02d}日"


def _month_cn(v: Any) -> str:
    s = str(v)
    return f"{s[:4]}年{s[5:7]}月" if len(s) >= 7 else s


FILTERS: dict[str, Callable[[Any], str]] = {
    "mask_id": lambda v: mask_id_number(str(v)),
    "mask_name": lambda v: mask_name(str(v)),
    "money": _money,
    "date": _date_cn,
    "month": _month_cn,
    "upper": lambda v: str(v).upper(),
    "int": lambda v: str(int(v)),
}


def render(text: str, data: Mapping[str, Any], *, masked: bool = False) -> str:
    """Fill placeholders. The `name` filter masks only when `masked` (screen previews)."""

    def sub(m: re.Match[str]) -> str:
        value = lookup(data, m.group(1))
        flt = m.group(2)
        if flt == "name":
            return mask_name(str(value)) if masked else str(value)
        if flt:
            if flt not in FILTERS:
                raise TemplateError(f"unknown filter {flt!r}")
            return FILTERS[flt](value)
        return "" if value is None else str(value)

    return _PLACEHOLDER.sub(sub, text)


def placeholders(text: str) -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in _PLACEHOLDER.finditer(text)]
