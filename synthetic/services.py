"""Invented platform facts about the synthetic citizens, for the business flows.

Marriages, property, provident-fund loans, tax withholding and appointments are
derived deterministically from `synthetic.citizens`, so tests can name outcomes:

- chen: married to huang, neither owns property; appointment (社会保险) now -> on time
- huang: appointment (不动产登记, appointment only) in three hours -> too early, no walk-in
- wang: owns a flat (no-property proof refused); tax appointment in three hours -> too early;
  no taxed income in 2020
- li: owns a flat; retired-age employee; fund appointment two hours ago -> too late
- ouyang: provident-fund loan since 2022 and the flat it bought; no appointment
- nobody: unknown to every register (no record found)
- zhou: an ID card that expired in 2024 (refused by identify, except for a queue ticket)
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from synthetic.citizens import BY_ID, BY_KEY, Citizen

SPOUSES = {"chen": "huang", "huang": "chen"}


@dataclass(frozen=True)
class Property:
    location: str
    area_m2: float
    certificate: str
    registered: date


PROPERTY: dict[str, tuple[Property, ...]] = {
    "wang": (Property("东莞市虎门镇连升路203号3座1102", 96.5, "粤（2015）东莞不动产权第0123456号",
                      date(2015, 8, 12)),),
    "li": (Property("东莞市莞城街道可园南路12号2栋501", 78.2, "粤（2009）东莞不动产权第0045678号",
                    date(2009, 3, 30)),),
    "ouyang": (Property("东莞市松山湖园区新城路9号5栋2103", 89.0,
                        "粤（2022）东莞不动产权第0987654号", date(2022, 3, 18)),),
}


@dataclass(frozen=True)
class Loan:
    contract: str
    amount: float
    annual_rate: float
    months: int
    first_due: date  # first repayment date (day of month = repayment day)
    bank: str


LOANS = {
    "ouyang": Loan("DGGJJ-2022-031877", 600000.0, 0.031, 360, date(2022, 4, 20),
                   "中国建设银行东莞松山湖支行"),
}


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    prefix: str
    window_area: str
    walk_in: bool
    base_waiting: int
    # The platform's display texts in English and Traditional Chinese (`x_i18n` beside `x`).
    name_en: str = ""
    name_hk: str = ""

    @property
    def name_i18n(self) -> dict[str, str]:
        return {"en": self.name_en, "zh_HK": self.name_hk}

    @property
    def window_area_i18n(self) -> dict[str, str]:
        zone, _, windows = self.window_area.partition("区 ")
        span = windows.removesuffix("号窗口")
        return {"en": f"Zone {zone}, windows {span}", "zh_HK": f"{zone}區 {span}號窗口"}


CATEGORIES = (
    Category("ss", "社会保险", "A", "A区 1–6号窗口", True, 4, "Social insurance", "社會保險"),
    Category("hf", "住房公积金", "B", "B区 7–10号窗口", True, 2, "Housing provident fund",
             "住房公積金"),
    Category("tax", "税务", "C", "C区 11–14号窗口", True, 6, "Tax", "稅務"),
    Category("re", "不动产登记", "D", "D区 15–20号窗口", False, 3, "Real estate registration",
             "不動產登記"),
    Category("ee", "出入境", "E", "E区 21–24号窗口", False, 5, "Exit and entry", "出入境"),
)
KIND_NAMES = {"appointment": {"zh_CN": "预约取号", "en": "Appointment", "zh_HK": "預約取號"},
              "walk_in": {"zh_CN": "现场取号", "en": "Walk-in", "zh_HK": "現場取號"}}
VALID_NOTE = {"zh_CN": "当日有效，过号请重新取号",
              "en": "Valid today only; if your number is passed, take a new one",
              "zh_HK": "當日有效，過號請重新取號"}
CATEGORY = {c.id: c for c in CATEGORIES}

# key -> (category, minutes from now). Check-in opens 30 min before and closes 15 min after.
APPOINTMENTS = {"chen": ("ss", 5), "huang": ("re", 180), "wang": ("tax", 180),
                "li": ("hf", -120)}
EARLY_MIN, LATE_MIN = 30, 15
QR_PREFIX = "GJZW:APPT:"


def citizen(id_number: str) -> Citizen | None:
    return BY_ID.get(id_number.upper())


def appointment_token(key: str) -> str:
    """The token in an appointment QR code (the code itself reads `GJZW:APPT:<token>`)."""
    return "YY" + hashlib.sha256(f"appointment:{key}".encode()).hexdigest()[:14].upper()


def appointment_qr(key: str) -> str:
    return QR_PREFIX + appointment_token(key)


BY_TOKEN = {appointment_token(k): k for k in APPOINTMENTS}


def appointment(key: str, now: datetime) -> dict[str, object] | None:
    if key not in APPOINTMENTS:
        return None
    cat, offset = APPOINTMENTS[key]
    slot = (now + timedelta(minutes=offset)).replace(second=0, microsecond=0)
    c = CATEGORY[cat]
    return {"id": appointment_token(key), "category": cat, "category_name": c.name,
            "category_name_i18n": c.name_i18n, "window_area_i18n": c.window_area_i18n,
            "time": slot.strftime("%H:%M"), "date": slot.strftime("%Y-%m-%d"),
            "opens": (slot - timedelta(minutes=EARLY_MIN)).strftime("%H:%M"),
            "closes": (slot + timedelta(minutes=LATE_MIN)).strftime("%H:%M"),
            "walk_in": c.walk_in, "window_area": c.window_area,
            "_slot": slot.isoformat()}


def checkin_status(appt: dict[str, object] | None, now: datetime) -> str:
    if appt is None:
        return "none"
    slot = datetime.fromisoformat(str(appt["_slot"]))
    if now < slot - timedelta(minutes=EARLY_MIN):
        return "early"
    if now > slot + timedelta(minutes=LATE_MIN):
        return "late"
    return "on_time"


# -- income tax --------------------------------------------------------------------------
TAX_EARLIEST = (2019, 1)  # records under the 2019 individual income tax law
TAX_MAX_MONTHS = 36
TAX_AUTHORITY = "国家税务总局东莞市税务局"
# Months without any taxed income (between two jobs): a period with no records at all.
TAX_GAPS = {"wang": ((2020, 1), (2020, 12))}


def _months(start: tuple[int, int], end: tuple[int, int]) -> list[tuple[int, int]]:
    out, (y, m) = [], start
    while (y, m) <= end:
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def last_month(today: date) -> tuple[int, int]:
    return (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)


def tax_limits(c: Citizen, today: date) -> dict[str, object] | None:
    if not c.employer:
        return None
    first = max(TAX_EARLIEST, (c.insured_since.year, c.insured_since.month))
    latest = last_month(today)
    return {"earliest": f"{first[0]:04d}-{first[1]:02d}",
            "latest": f"{latest[0]:04d}-{latest[1]:02d}", "max_months": TAX_MAX_MONTHS}


def _salary(c: Citizen, y: int, m: int) -> float:
    rng = random.Random(f"{c.id_number}:{y}:{m}")
    bonus = c.monthly_base * 1.5 if m == 1 else 0.0  # a year-end bonus paid in January
    return round(c.monthly_base * 1.45 + rng.randint(-4, 8) * 50 + bonus, 2)


def _cumulative_tax(taxable: float) -> float:
    """Cumulative withholding over a year (2019 table, annual brackets)."""
    brackets = ((36000, 0.03, 0), (144000, 0.10, 2520), (300000, 0.20, 16920),
                (420000, 0.25, 31920), (660000, 0.30, 52920), (960000, 0.35, 85920),
                (float("inf"), 0.45, 181920))
    for top, rate, quick in brackets:
        if taxable <= top:
            return max(0.0, taxable * rate - quick)
    return 0.0  # pragma: no cover


def tax_rows(c: Citizen, start: tuple[int, int],
             end: tuple[int, int]) -> list[dict[str, Any]]:
    """One row per income item and month: wages every month, occasional service fees."""
    rows: list[dict[str, Any]] = []
    for y, m in _months(start, end):
        if (y, m) < (c.insured_since.year, c.insured_since.month):
            continue
        gap = TAX_GAPS.get(key_of(c))
        if gap is not None and gap[0] <= (y, m) <= gap[1]:
            continue
        # cumulative withholding within the year up to this month
        ytd_income = sum(_salary(c, y, k) for k in range(1, m + 1))
        prev_income = ytd_income - _salary(c, y, m)
        deductions = 5000 + c.monthly_base * 0.105  # basic + social insurance (individual)
        due = _cumulative_tax(max(0.0, ytd_income - deductions * m))
        before = _cumulative_tax(max(0.0, prev_income - deductions * (m - 1)))
        rows.append({"period": f"{y:04d}-{m:02d}", "item": "工资薪金", "agent": c.employer,
                     "income": _salary(c, y, m), "tax": round(due - before, 2),
                     "paid_on": f"{y + (m == 12):04d}-{m % 12 + 1:02d}-15"})
        rng = random.Random(f"{c.id_number}:fee:{y}:{m}")
        if rng.random() < 0.18:
            fee = float(rng.choice((1200, 2500, 3800, 5000)))
            taxable = fee - 800 if fee <= 4000 else fee * 0.8
            rows.append({"period": f"{y:04d}-{m:02d}", "item": "劳务报酬",
                         "agent": "东莞市职业技能培训中心", "income": fee,
                         "tax": round(taxable * 0.2, 2),
                         "paid_on": f"{y + (m == 12):04d}-{m % 12 + 1:02d}-15"})
    return rows


# -- provident-fund loan ---------------------------------------------------------------------
FUND_MAX_MONTHS = 24


def loan_schedule(loan: Loan, until: tuple[int, int]) -> list[dict[str, Any]]:
    """Equal monthly instalments (等额本息) from the first due date up to `until`."""
    r = loan.annual_rate / 12
    pay = loan.amount * r * (1 + r) ** loan.months / ((1 + r) ** loan.months - 1)
    remaining = loan.amount
    rows: list[dict[str, Any]] = []
    first = (loan.first_due.year, loan.first_due.month)
    for k, (y, m) in enumerate(_months(first, until)):
        interest = round(remaining * r, 2)
        principal = round(pay - interest, 2)
        remaining = round(remaining - principal, 2)
        rows.append({"month": f"{y:04d}-{m:02d}",
                     "due": f"{y:04d}-{m:02d}-{loan.first_due.day:02d}", "seq": k + 1,
                     "principal": principal, "interest": interest,
                     "amount": round(principal + interest, 2), "remaining": remaining,
                     "status": "已还款"})
    return rows


def loan_of(key: str) -> Loan | None:
    return LOANS.get(key)


def key_of(c: Citizen) -> str:
    return next(k for k, v in BY_KEY.items() if v is c)
