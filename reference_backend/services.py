"""Business services of the reference platform: certificates, tax, property, fund, queue, guide.

All answers are derived from the synthetic citizens (`synthetic.services`). Errors
use the platform's error codes: 404 `no_record` / `no_loan` / `not_spouse` /
`appointment_not_found` (the terminal shows what to do next), 400 `period_out_of_range`.

Appointment QR codes read `GJZW:APPT:<token>` (`synthetic.services.appointment_qr`).
`POST /api/v1/queue/checkin` takes either `{"id_number": ...}` or `{"qr": ...}`. The
terminal's `qr` identify method resolves appointment codes to their holder through
`POST /api/v1/identity/qr/resolve` (reference_backend/identity.py).

Admin (X-Admin-Token, only when $REFBACKEND_ADMIN_TOKEN is set): `POST
/_admin/services/faults` injects failures on these routes (`status`: answer with
a status code; `stall`: wait before answering, to make the terminal time out;
`commit_then_error`: a ticket is issued, then the answer is lost),
`DELETE` clears them; `GET /_admin/services/state` counts tickets and documents.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from datetime import date, datetime
from typing import Any, Literal

from fastapi import Depends, Header, Request
from pydantic import BaseModel, Field

from kiosk.identity import mask_id_number, mask_name
from reference_backend.app import ApiError, Platform
from reference_backend.data import GENDER, find_citizen
from synthetic import guide as guide_data
from synthetic import services as syn
from synthetic.citizens import Citizen

MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
SS_MAX_MONTHS = 60
SS_ISSUER = "东莞市社会保险基金管理中心"
PROPERTY_ISSUER = "东莞市不动产登记中心"
FUND_ISSUER = "东莞市住房公积金管理中心"


class IdRequest(BaseModel):
    id_number: str = Field(min_length=15, max_length=18)


class PeriodRequest(IdRequest):
    start: str = Field(pattern=MONTH)
    end: str = Field(pattern=MONTH)


class StatementRequest(PeriodRequest):
    kind: Literal["participation", "payment_detail"] = "participation"


class PropertyRequest(IdRequest):
    spouse_id_number: str = Field(default="", max_length=18)


class CheckinRequest(BaseModel):
    id_number: str = Field(default="", max_length=18)
    qr: str = Field(default="", max_length=200)


class TicketRequest(BaseModel):
    appointment_id: str = Field(default="", max_length=40)
    category: str = Field(default="", max_length=16)
    id_number: str = Field(default="", max_length=18)


class Fault(BaseModel):
    prefix: str = "/api/v1/"
    mode: Literal["status", "stall", "commit_then_error"] = "status"
    status: int = Field(default=503, ge=400, le=599)
    stall_s: float = Field(default=3.0, ge=0, le=60)
    count: int = Field(default=1, ge=1)


class ServicesState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.faults: list[Fault] = []
        self.tickets: list[dict[str, Any]] = []
        self.issued: dict[str, int] = {}  # category -> tickets issued today
        self.documents: dict[str, int] = {}  # kind -> documents issued

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if path.startswith(f.prefix):
                    f.count -= 1
                    if f.count <= 0:
                        self.faults.remove(f)
                    return f
        return None


def _month(text: str) -> tuple[int, int]:
    return int(text[:4]), int(text[5:7])


def _mtext(ym: tuple[int, int]) -> str:
    return f"{ym[0]:04d}-{ym[1]:02d}"


def _check_period(req: PeriodRequest, earliest: str, latest: str, max_months: int) -> None:
    s, e = _month(req.start), _month(req.end)
    span = (e[0] - s[0]) * 12 + e[1] - s[1] + 1
    if s > e or req.start < earliest or req.end > latest or span > max_months:
        raise ApiError(400, "period_out_of_range")


def _known(id_number: str) -> Citizen:
    c = syn.citizen(id_number)
    if c is None:
        raise ApiError(404, "no_record")
    return c


def _person(c: Citizen) -> dict[str, str]:
    return {"name": c.name, "id_number": c.id_number, "gender": GENDER.get(c.gender, "未知")}


def register(platform: Platform) -> None:
    app, state = platform.app, platform.state
    ss = ServicesState()
    state.services = ss

    def fault_gate(request: Request) -> None:
        fault = ss.take_fault(request.url.path)
        if fault is None:
            return
        if fault.mode == "stall":
            time.sleep(fault.stall_s)
            return
        if fault.mode == "commit_then_error":  # writes apply, then the answer is lost
            request.state.fail_after_commit = fault.status
            return
        raise ApiError(fault.status, "injected")

    guard = [Depends(platform.terminal), Depends(fault_gate)]

    def issue(kind: str, c: Citizen, record: dict[str, Any]) -> dict[str, Any]:
        """Give a printed document its verification code (kept for /verify)."""
        code = "-".join(secrets.token_hex(2).upper() for _ in range(3))
        record["verify_code"] = code
        record["verify_url"] = f"{platform.public_url}/verify/{code}"
        record["issued_at"] = date.today().isoformat()
        with state.lock:
            state.certificates[code] = {
                "kind": kind, "terminal": "", "issued_at": record["issued_at"],
                "masked_name": mask_name(c.name), "masked_id": mask_id_number(c.id_number)}
        with ss.lock:
            ss.documents[kind] = ss.documents.get(kind, 0) + 1
        return record

    # -- social security ---------------------------------------------------------------
    def ss_limits(c: Citizen) -> dict[str, Any]:
        latest = syn.last_month(date.today())
        earliest = max((c.insured_since.year, c.insured_since.month),
                       (latest[0] - 15, latest[1]))  # the online archive keeps 15 years
        return {"earliest": _mtext(earliest), "latest": _mtext(latest),
                "max_months": SS_MAX_MONTHS}

    @app.post("/api/v1/social-security/options", dependencies=guard)
    def ss_options(req: IdRequest) -> dict[str, Any]:
        c = find_citizen(req.id_number)
        if c is None:
            raise ApiError(404, "no_record")
        return {"limits": ss_limits(c), "kinds": ["participation", "payment_detail"]}

    @app.post("/api/v1/social-security/statement", dependencies=guard)
    def ss_statement(req: StatementRequest) -> dict[str, Any]:
        c = find_citizen(req.id_number)
        if c is None:
            raise ApiError(404, "no_record")
        lim = ss_limits(c)
        _check_period(req, lim["earliest"], lim["latest"], lim["max_months"])
        rows, totals = [], dict.fromkeys(
            ("pension", "pension_employer", "medical", "medical_employer", "unemployment",
             "unemployment_employer", "injury_employer", "total"), 0.0)
        for y, m in syn._months(_month(req.start), _month(req.end)):
            base = c.monthly_base + (300 if m >= 7 and y >= 2024 else 0)
            row = {"month": f"{y:04d}-{m:02d}", "base": base,
                   "pension": round(base * 0.08, 2), "pension_employer": round(base * 0.15, 2),
                   "medical": round(base * 0.02, 2), "medical_employer": round(base * 0.06, 2),
                   "unemployment": round(base * 0.002, 2),
                   "unemployment_employer": round(base * 0.0048, 2),
                   "injury_employer": round(base * 0.004, 2), "status": "已到账",
                   "employer": c.employer}
            row["total"] = round(sum(v for k, v in row.items()
                                     if isinstance(v, float)), 2)
            for k in totals:
                totals[k] += float(row[k])  # type: ignore[arg-type]
            rows.append(row)
        total_months = syn._months((c.insured_since.year, c.insured_since.month),
                                   syn.last_month(date.today()))
        schemes = [{"scheme": name, "status": "参保缴费", "since": f"{c.insured_since:%Y-%m}",
                    "months": len(total_months), "base": c.monthly_base}
                   for name in ("企业职工基本养老保险", "职工基本医疗保险", "失业保险",
                                "工伤保险", "生育保险")]
        record = {
            "kind": req.kind,
            "title": "社会保险参保证明" if req.kind == "participation" else "社会保险个人缴费明细",
            "person": {"name": c.name, "gender": GENDER.get(c.gender, "未知")},
            "insured": {"status": "正常参保", "since": f"{c.insured_since:%Y-%m}",
                        "employer": c.employer, "region": "广东省东莞市"},
            "period": {"start": req.start, "end": req.end, "months": len(rows)},
            "schemes": schemes, "months": rows, "count": len(rows),
            "totals": {k: round(v, 2) for k, v in totals.items()}, "issuer": SS_ISSUER}
        return issue(f"ss_{req.kind}", c, record)

    # -- income tax ------------------------------------------------------------------------
    @app.post("/api/v1/tax/options", dependencies=guard)
    def tax_options(req: IdRequest) -> dict[str, Any]:
        c = _known(req.id_number)
        limits = syn.tax_limits(c, date.today())
        if limits is None:
            raise ApiError(404, "no_record")
        return {"limits": limits}

    @app.post("/api/v1/tax/records", dependencies=guard)
    def tax_records(req: PeriodRequest) -> dict[str, Any]:
        c = _known(req.id_number)
        limits = syn.tax_limits(c, date.today())
        if limits is None:
            raise ApiError(404, "no_record")
        _check_period(req, str(limits["earliest"]), str(limits["latest"]),
                      int(limits["max_months"]))  # type: ignore[call-overload]
        rows = syn.tax_rows(c, _month(req.start), _month(req.end))
        for seq, row in enumerate(rows, 1):
            row["seq"] = seq
        record: dict[str, Any] = {
            "person": _person(c), "period": {"start": req.start, "end": req.end},
            "rows": rows, "count": len(rows),
            "totals": {"income": round(sum((float(r["income"]) for r in rows), 0.0), 2),
                       "tax": round(sum((float(r["tax"]) for r in rows), 0.0), 2)},
            "authority": syn.TAX_AUTHORITY,
            "serial": f"GS{date.today():%Y%m%d}{secrets.randbelow(10**6):06d}"}
        if not rows:
            return record  # nothing to certify: the terminal offers another period
        return issue("tax_list", c, record)

    # -- property --------------------------------------------------------------------------
    @app.post("/api/v1/property/no-property", dependencies=guard)
    def no_property(req: PropertyRequest) -> dict[str, Any]:
        c = _known(req.id_number)
        people = [("本人", c)]
        if req.spouse_id_number:
            s = syn.citizen(req.spouse_id_number)
            if s is None or syn.SPOUSES.get(syn.key_of(c)) != syn.key_of(s):
                raise ApiError(404, "not_spouse")
            people.append(("配偶", s))
        found = [(role, p, syn.PROPERTY.get(syn.key_of(p), ())) for role, p in people]
        owners = [(role, p, props) for role, p, props in found if props]
        if owners:
            # No proof, and no addresses either: a kiosk screen is not the place for them.
            return {"result": "found",
                    "owners": [{"role": role, "masked_name": mask_name(p.name),
                                "count": len(props)} for role, p, props in owners],
                    "count": sum(len(props) for _, _, props in owners),
                    "advice_office": PROPERTY_ISSUER,
                    "advice_address": "南城街道元美路8号 D区 15–20号窗口",
                    "advice_hours": guide_data.HOURS}
        record = {"result": "none", "scope": "couple" if len(people) > 1 else "self",
                  "persons": [{"role": role, **_person(p)} for role, p in people],
                  "checked_until": date.today().isoformat(), "issuer": PROPERTY_ISSUER,
                  "serial": f"WF{date.today():%Y%m%d}{secrets.randbelow(10**6):06d}"}
        return issue("no_property", c, record)

    # -- provident fund --------------------------------------------------------------------
    def loan_or_404(c: Citizen) -> syn.Loan:
        loan = syn.loan_of(syn.key_of(c))
        if loan is None:
            raise ApiError(404, "no_loan")
        return loan

    def fund_limits(loan: syn.Loan) -> dict[str, Any]:
        return {"earliest": f"{loan.first_due:%Y-%m}",
                "latest": _mtext(syn.last_month(date.today())),
                "max_months": syn.FUND_MAX_MONTHS}

    @app.post("/api/v1/provident-fund/loan", dependencies=guard)
    def fund_loan(req: IdRequest) -> dict[str, Any]:
        c = _known(req.id_number)
        loan = loan_or_404(c)
        sched = syn.loan_schedule(loan, syn.last_month(date.today()))
        return {"loan": {"contract": loan.contract, "amount": loan.amount,
                         "rate": f"{loan.annual_rate * 100:.2f}%", "months": loan.months,
                         "bank": loan.bank, "first_due": loan.first_due.isoformat(),
                         "remaining": sched[-1]["remaining"] if sched else loan.amount,
                         "paid_count": len(sched)},
                "limits": fund_limits(loan)}

    @app.post("/api/v1/provident-fund/repayments", dependencies=guard)
    def fund_repayments(req: PeriodRequest) -> dict[str, Any]:
        c = _known(req.id_number)
        loan = loan_or_404(c)
        lim = fund_limits(loan)
        _check_period(req, lim["earliest"], lim["latest"], lim["max_months"])
        rows = [r for r in syn.loan_schedule(loan, _month(req.end))
                if str(r["month"]) >= req.start]
        record = {"person": _person(c),
                  "loan": {"contract": loan.contract, "amount": loan.amount,
                           "rate": f"{loan.annual_rate * 100:.2f}%", "months": loan.months,
                           "bank": loan.bank},
                  "period": {"start": req.start, "end": req.end}, "rows": rows,
                  "count": len(rows),
                  "totals": {k: round(sum((float(r[k]) for r in rows), 0.0), 2)
                             for k in ("principal", "interest", "amount")},
                  "remaining": rows[-1]["remaining"] if rows else loan.amount,
                  "issuer": FUND_ISSUER}
        return issue("fund_repayments", c, record)

    # -- queue -------------------------------------------------------------------------------
    def walk_in_categories() -> list[dict[str, Any]]:
        with ss.lock:
            return [{"id": k.id, "name": k.name, "name_i18n": k.name_i18n,
                     "window_area": k.window_area, "window_area_i18n": k.window_area_i18n,
                     "waiting": k.base_waiting + ss.issued.get(k.id, 0)}
                    for k in syn.CATEGORIES if k.walk_in]

    def appointment_for(req: CheckinRequest) -> tuple[str, Citizen | None]:
        if req.qr:
            token = req.qr[len(syn.QR_PREFIX):] if req.qr.startswith(syn.QR_PREFIX) else ""
            key = syn.BY_TOKEN.get(token)
            if key is None:
                raise ApiError(404, "appointment_not_found")
            return key, syn.BY_KEY[key]
        c = syn.citizen(req.id_number)
        if c is None:
            return "", None
        return syn.key_of(c), c

    @app.post("/api/v1/queue/checkin", dependencies=guard)
    def checkin(req: CheckinRequest) -> dict[str, Any]:
        if not req.id_number and not req.qr:
            raise ApiError(400, "id_number_or_qr_required")
        now = datetime.now()
        key, c = appointment_for(req)
        appt = syn.appointment(key, now) if key else None
        status = syn.checkin_status(appt, now)
        out: dict[str, Any] = {"status": status, "categories": walk_in_categories(),
                               "now": now.strftime("%H:%M")}
        if appt is not None:
            out["appointment"] = {k: v for k, v in appt.items() if not k.startswith("_")}
        if c is not None:
            out["holder"] = {"masked_name": mask_name(c.name),
                             "masked_id": mask_id_number(c.id_number)}
        return out

    @app.post("/api/v1/queue/tickets", dependencies=guard)
    def ticket(req: TicketRequest, request: Request, tid: str = Depends(platform.terminal),
               idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
        now = datetime.now()
        if req.appointment_id:
            key = syn.BY_TOKEN.get(req.appointment_id)
            appt = syn.appointment(key, now) if key else None
            if appt is None:
                raise ApiError(404, "appointment_not_found")
            if syn.checkin_status(appt, now) != "on_time":
                raise ApiError(400, "not_in_checkin_window")
            cat, kind = syn.CATEGORY[str(appt["category"])], "appointment"
        else:
            cat = syn.CATEGORY.get(req.category)  # type: ignore[assignment]
            if cat is None or not cat.walk_in:
                raise ApiError(400, "walk_in_not_allowed")
            kind = "walk_in"

        def produce() -> dict[str, Any]:
            with ss.lock:
                if req.appointment_id:
                    # One appointment, one number: checking in again (another visit, a
                    # lost ticket) gives the number already issued, marked as such.
                    for old in ss.tickets:
                        if old.get("appointment_id") == req.appointment_id:
                            again = {k: v for k, v in old.items() if k != "terminal"}
                            return {**again, "reissued": True}
                waiting = cat.base_waiting + ss.issued.get(cat.id, 0)
                ss.issued[cat.id] = ss.issued.get(cat.id, 0) + 1
                seq = 20 + ss.issued[cat.id]
                names = syn.KIND_NAMES[kind]
                out = {"number": f"{cat.prefix}{seq:03d}", "category": cat.id,
                       "category_name": cat.name, "category_name_i18n": cat.name_i18n,
                       "window_area": cat.window_area,
                       "window_area_i18n": cat.window_area_i18n,
                       "waiting": waiting, "kind": kind, "kind_name": names["zh_CN"],
                       "kind_name_i18n": {k: v for k, v in names.items() if k != "zh_CN"},
                       "issued_at": now.strftime("%Y-%m-%d %H:%M"),
                       "valid_note": syn.VALID_NOTE["zh_CN"],
                       "valid_note_i18n": {k: v for k, v in syn.VALID_NOTE.items()
                                           if k != "zh_CN"},
                       "reissued": False}
                if req.appointment_id:
                    out["appointment_id"] = req.appointment_id
                ss.tickets.append({"terminal": tid, **out})
                return out

        issued = platform.idempotent(tid, idempotency_key, produce)
        lost = getattr(request.state, "fail_after_commit", 0)
        if lost:
            raise ApiError(lost, "injected_after_commit")
        return issued

    # -- service guide -----------------------------------------------------------------------
    @app.get("/api/v1/guide/catalog", dependencies=guard)
    def guide_catalog() -> dict[str, Any]:
        return guide_data.catalog()

    # -- admin -------------------------------------------------------------------------------
    admin_token = os.environ.get("REFBACKEND_ADMIN_TOKEN", "")
    if not admin_token:
        return

    def admin(x_admin_token: str = Header(default="")) -> None:
        if not secrets.compare_digest(x_admin_token, admin_token):
            raise ApiError(403, "forbidden")

    @app.post("/_admin/services/faults", dependencies=[Depends(admin)], include_in_schema=False)
    def add_fault(fault: Fault) -> dict[str, Any]:
        with ss.lock:
            ss.faults.append(fault)
            return {"faults": len(ss.faults)}

    @app.delete("/_admin/services/faults", dependencies=[Depends(admin)],
                include_in_schema=False)
    def clear_faults() -> dict[str, Any]:
        with ss.lock:
            ss.faults.clear()
            return {"faults": 0}

    @app.get("/_admin/services/state", dependencies=[Depends(admin)], include_in_schema=False)
    def services_state() -> dict[str, Any]:
        with ss.lock:
            return {"tickets": list(ss.tickets), "documents": dict(ss.documents),
                    "faults": len(ss.faults)}
