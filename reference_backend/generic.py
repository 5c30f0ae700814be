"""Generic services of the reference platform: one certificate and one query endpoint that
serve every generated catalog service (flowpacks/gba, issue 17).

A generated flow asks for its service id and the field ids its screen or certificate
shows; the platform answers with synthetic values for the synthetic citizen, derived
from the citizen's own data where there is one (employer, contribution base, insured
since, address) and otherwise drawn from a generator seeded by citizen, service and field,
so the same person gets the same answer every time.

    POST /api/v1/generic/certificate  {service, id_number, fields} -> {service, person,
         fields, as_of, serial, verify_code, verify_url, issued_at}   (a verifiable document)
    POST /api/v1/generic/query        {service, id_number, fields} -> {service, fields, as_of}

Errors: 404 `no_record` (a person the platform does not know), 404 `unknown_service` (not
a service of the catalog, or not of that shape), 400 `unknown_field`. A certificate's
issuing office (its e-seal, reference_backend/seal.py) is the service's department.
"""

from __future__ import annotations

import functools
import random
import secrets
import tomllib
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from fastapi import Depends
from pydantic import BaseModel, Field

from kiosk.identity import mask_id_number, mask_name
from reference_backend.app import ApiError, Platform
from reference_backend.data import GENDER, find_citizen
from synthetic import services as syn
from synthetic.citizens import Citizen


class GenericRequest(BaseModel):
    service: str = Field(pattern=r"^[a-z0-9][a-z0-9_]{0,63}$")
    id_number: str = Field(min_length=15, max_length=18)
    fields: list[str] = Field(default_factory=list, max_length=24)


def _months_since(c: Citizen, today: date) -> int:
    y, m = syn.last_month(today)
    return max(0, (y - c.insured_since.year) * 12 + (m - c.insured_since.month) + 1)


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _retire(c: Citizen) -> str:
    years = 60 if c.gender == "1" else 55
    return f"{c.birth.year + years:04d}-{c.birth.month:02d}"


def _married(c: Citizen) -> bool:
    key = syn.key_of(c)
    return key in syn.SPOUSES or key in syn.SPOUSES.values()


Value = Callable[[Citizen, random.Random, date], str]

VALUES: dict[str, Value] = {
    "employer": lambda c, r, t: c.employer,
    "insured_status": lambda c, r, t: "正常参保",
    "insured_since": lambda c, r, t: f"{c.insured_since:%Y-%m}",
    "paid_months": lambda c, r, t: str(_months_since(c, t)),
    "monthly_base": lambda c, r, t: _money(c.monthly_base),
    "pension_balance": lambda c, r, t: _money(c.monthly_base * 0.08 * _months_since(c, t) * 1.12),
    "retire_date": lambda c, r, t: _retire(c),
    "pension_monthly": lambda c, r, t: _money(r.randint(2800, 5200)),
    "unemployment_months": lambda c, r, t: "0",
    "unemployment_amount": lambda c, r, t: _money(0),
    "card_no": lambda c, r, t: c.ss_card_no,
    "card_status": lambda c, r, t: "正常使用",
    "card_bank": lambda c, r, t: r.choice(("中国工商银行", "中国农业银行", "中国建设银行",
                                           "东莞银行", "东莞农村商业银行")),
    "medical_status": lambda c, r, t: "正常参保",
    "medical_since": lambda c, r, t: f"{c.insured_since:%Y-%m}",
    "medical_balance": lambda c, r, t: _money(c.monthly_base * 0.02 * r.randint(12, 60)),
    "birth_allowance": lambda c, r, t: _money(0),
    "residence_address": lambda c, r, t: c.address,
    "marital_status": lambda c, r, t: "已婚" if _married(c) else "未婚",
    "fund_account": lambda c, r, t: f"1219{c.birth:%y%m%d}{c.seq:03d}{r.randint(10, 99)}",
    "fund_status": lambda c, r, t: "正常缴存",
    "fund_since": lambda c, r, t: f"{c.insured_since:%Y-%m}",
    "fund_base": lambda c, r, t: _money(c.monthly_base),
    "fund_monthly": lambda c, r, t: _money(c.monthly_base * 0.2),
    "fund_balance": lambda c, r, t: _money(c.monthly_base * 0.2 * _months_since(c, t) * 0.35),
    "tax_year": lambda c, r, t: str(t.year - 1),
    "income_total": lambda c, r, t: _money(c.monthly_base * 12 * 1.3),
    "tax_total": lambda c, r, t: _money(max(0.0, (c.monthly_base * 1.3 - 5000) * 12 * 0.03)),
    "property_count": lambda c, r, t: str(len(syn.PROPERTY.get(syn.key_of(c), ()))),
    "household_address": lambda c, r, t: c.address,
    "household_type": lambda c, r, t: "非农业家庭户口",
    "household_head": lambda c, r, t: mask_name(c.name),
    "permit_no": lambda c, r, t: f"C{r.randint(10**7, 10**8 - 1)}",
    "permit_valid_to": lambda c, r, t: f"{t.year + r.randint(1, 9)}-{r.randint(1, 12):02d}-01",
    "license_class": lambda c, r, t: "C1",
    "license_status": lambda c, r, t: "正常",
    "license_valid_to": lambda c, r, t: f"{t.year + r.randint(1, 6)}-{c.birth:%m-%d}",
    "penalty_points": lambda c, r, t: str(r.choice((0, 0, 1, 3, 6))),
    "vehicle_plate": lambda c, r, t: f"粤S{r.choice('ABCDEFGHJK')}{r.randint(10000, 99999)}",
    "violations": lambda c, r, t: str(r.choice((0, 0, 1, 2))),
    "account_balance": lambda c, r, t: _money(r.randint(0, 40000) / 100),
    "business_status": lambda c, r, t: r.choice(("已办结", "受理中", "已办结")),
    "school": lambda c, r, t: r.choice(("东莞市第一中学", "东莞市南城阳光实验小学",
                                        "东莞市电子科技学校")),
    "student_status": lambda c, r, t: "在读",
    "business_name": lambda c, r, t: c.employer,
    "credit_code": lambda c, r, t: "91441900" + "".join(r.choice("0123456789ABCDEFGHJK")
                                                        for _ in range(10)),
    "injury_status": lambda c, r, t: "无工伤认定记录",
}


def answer_fields(c: Citizen, service: str, fields: list[str], today: date) -> dict[str, str]:
    """The synthetic value of every field asked for (the same for the same person)."""
    unknown = [f for f in fields if f not in VALUES]
    if unknown:
        raise ApiError(400, "unknown_field")
    return {f: VALUES[f](c, random.Random(f"{c.id_number}:{service}:{f}"), today)
            for f in fields}


@functools.cache
def catalog() -> dict[str, dict[str, str]]:
    """The generated services this platform serves: service id -> shape and issuing office
    (the catalog's data table, flowpacks/gba/src/services.toml)."""
    from flowpacks import GBA_DIR

    table = tomllib.loads((GBA_DIR / "src" / "services.toml").read_text("utf-8"))
    offices = {d: row["title"]["zh_CN"] for d, row in table["departments"].items()}
    return {s["id"]: {"shape": s["shape"], "office": offices[s["department"]]}
            for s in table["services"]}


def register(platform: Platform) -> None:
    app, state = platform.app, platform.state
    guard = [Depends(platform.terminal)]

    def citizen(req: GenericRequest, shape: str) -> Citizen:
        if catalog().get(req.service, {}).get("shape") != shape:
            raise ApiError(404, "unknown_service")
        c = find_citizen(req.id_number)
        if c is None:
            raise ApiError(404, "no_record")
        return c

    @app.post("/api/v1/generic/query", dependencies=guard)
    def generic_query(req: GenericRequest) -> dict[str, Any]:
        c = citizen(req, "query")
        today = date.today()
        return {"service": req.service, "fields": answer_fields(c, req.service, req.fields, today),
                "as_of": datetime.now().strftime("%Y-%m-%d %H:%M")}

    @app.post("/api/v1/generic/certificate", dependencies=guard)
    def generic_certificate(req: GenericRequest) -> dict[str, Any]:
        c = citizen(req, "certificate")
        today = date.today()
        code = "-".join(secrets.token_hex(2).upper() for _ in range(3))
        record = {
            "service": req.service,
            "person": {"name": c.name, "gender": GENDER.get(c.gender, "未知")},
            "fields": answer_fields(c, req.service, req.fields, today),
            "as_of": today.isoformat(), "issued_at": today.isoformat(),
            "serial": f"GB{today:%Y%m%d}{secrets.randbelow(10**6):06d}",
            "verify_code": code, "verify_url": f"{platform.public_url}/verify/{code}"}
        with state.lock:
            state.certificates[code] = {
                "kind": req.service, "office": catalog()[req.service]["office"],
                "terminal": "", "issued_at": record["issued_at"],
                "masked_name": mask_name(c.name), "masked_id": mask_id_number(c.id_number)}
        return record
