"""Synthetic platform data: contribution records derived from the synthetic citizens."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from synthetic.citizens import BY_ID, Citizen

ISSUER = "东莞市社会保险基金管理中心"
SCHEMES = (
    ("企业职工基本养老保险", 0.08),
    ("职工基本医疗保险", 0.02),
    ("失业保险", 0.002),
    ("工伤保险", 0.0),
    ("生育保险", 0.0),
)
GENDER = {"1": "男", "2": "女"}


def _month_add(year: int, month: int, delta: int) -> tuple[int, int]:
    idx = year * 12 + (month - 1) + delta
    return idx // 12, idx % 12 + 1


def months_between(since: date, until: tuple[int, int]) -> int:
    return max(0, (until[0] - since.year) * 12 + (until[1] - since.month) + 1)


def find_citizen(id_number: str) -> Citizen | None:
    c = BY_ID.get(id_number.upper())
    if c is None or not c.employer:
        return None
    return c


def contribution_record(c: Citizen, months: int, today: date) -> dict:
    """The platform's answer for a participation certificate over the last `months`."""
    end = _month_add(today.year, today.month, -1)
    start = _month_add(end[0], end[1], -(months - 1))
    rng = random.Random(c.id_number)
    rows = []
    totals = {"pension": 0.0, "medical": 0.0, "unemployment": 0.0}
    for k in range(months):
        y, m = _month_add(start[0], start[1], k)
        if (y, m) < (c.insured_since.year, c.insured_since.month):
            continue
        base = c.monthly_base + (300 if (y, m) >= (end[0], 7) else 0)
        row: dict[str, Any] = {
            "month": f"{y:04d}-{m:02d}",
            "base": base,
            "pension": round(base * 0.08, 2),
            "medical": round(base * 0.02, 2),
            "unemployment": round(base * 0.002, 2),
            "status": "已到账" if (y, m) != end or rng.random() > 0.3 else "已申报",
        }
        for key in totals:
            totals[key] += row[key]
        rows.append(row)
    total_months = months_between(c.insured_since, end)
    schemes = [
        {"scheme": name, "status": "参保缴费", "since": f"{c.insured_since:%Y-%m}",
         "months": total_months,
         "base": c.monthly_base}
        for name, _rate in SCHEMES
    ]
    return {
        "person": {"name": c.name, "gender": GENDER.get(c.gender, "未知")},
        "insured": {"status": "正常参保", "since": f"{c.insured_since:%Y-%m}",
                    "employer": c.employer, "region": "广东省东莞市"},
        "period": {"start": f"{start[0]:04d}-{start[1]:02d}", "end": f"{end[0]:04d}-{end[1]:02d}",
                   "months": months},
        "schemes": schemes,
        "months": rows,
        "totals": {k: round(v, 2) for k, v in totals.items()},
        "issuer": ISSUER,
        "issued_at": today.isoformat(),
    }
