"""Acting for someone else (亲友代办) on the reference platform.

A principal authorises an agent in the government app (授权代办) and gets a numeric code
for one or more services; the agent types it at the terminal.

* `POST /api/v1/authorisation/resolve {"code", "service", "agent_id_number"}` names the
  principal (`principal`: name, id_number, gender — the terminal prints them on the
  certificate and asks the service about them), the `scope` (service ids and
  `scope_text`), `expires_at` and a `reference`; or 404 `auth_code_unknown`,
  `auth_code_expired`, `auth_code_out_of_scope`, `auth_code_self` (the agent's own code).
* `POST /api/v1/authorisation/agency {"service", "principal_id_number",
  "agent_id_number", "method": "id_card"|"authorisation", "reference", "signature"}`
  records that an agent acted for a principal, with the agent's handwritten signature
  (SVG path data in 0..1 units of the pad); 400 `signature_invalid` when the path is not
  one. Answers `{"id", "accepted"}`.
* With $REFBACKEND_ADMIN_TOKEN set, `GET /_admin/authorisation/agencies` lists the records
  (the tests check what arrived).

Demo codes (`DEMO_CODES`) name synthetic citizens and never change: 20261218 lets an agent
get 黄志强's no-property proof; 20240101 has expired; 31415926 is for the tax list only.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import Depends, Header
from pydantic import BaseModel, Field

from kiosk.identity import mask_id_number
from reference_backend.app import ApiError, Platform
from reference_backend.data import GENDER, find_citizen
from synthetic.citizens import BY_KEY

SERVICE_NAMES = {"no_property": "无房证明查询打印", "tax_list": "个人所得税纳税记录打印",
                 "ss_certificate": "社保参保证明打印"}
# An SVG path of move-to / line-to commands, as the terminal's signature step writes it.
_NUM = r"-?\d+(?:\.\d+)?(?:e-?\d+)?"
SIGNATURE_PATH = re.compile(rf"^(?:M{_NUM} {_NUM}(?: L{_NUM} {_NUM})*\s*)+$")
MIN_SIGNATURE_POINTS = 8


@dataclass(frozen=True)
class Grant:
    principal: str  # synthetic citizen key
    scope: tuple[str, ...]
    expires_at: datetime


def _far() -> datetime:
    return datetime(2100, 1, 1)


DEMO_CODES: dict[str, Grant] = {
    "20261218": Grant("huang", ("no_property",), _far()),
    "20240101": Grant("huang", ("no_property",), datetime(2024, 1, 2)),
    "31415926": Grant("huang", ("tax_list",), _far()),
    "27182818": Grant("chen", ("no_property",), _far()),  # 陈晓梅's own: refused to her
}


class ResolveRequest(BaseModel):
    code: str = Field(pattern=r"^[0-9]{6,12}$")
    service: str = Field(max_length=64)
    agent_id_number: str = Field(min_length=15, max_length=18)


class AgencyRequest(BaseModel):
    service: str = Field(max_length=64)
    principal_id_number: str = Field(min_length=15, max_length=18)
    agent_id_number: str = Field(min_length=15, max_length=18)
    method: Literal["id_card", "authorisation"]
    reference: str = Field(default="", max_length=64)
    signature: str = Field(max_length=200_000)


class AgencyState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.references: dict[str, tuple[str, str]] = {}  # reference -> (principal, service)
        self.records: list[dict[str, Any]] = []


def signature_points(path: str) -> int:
    """How many points an SVG signature path holds; -1 when it is not one."""
    if not SIGNATURE_PATH.match(path.strip()):
        return -1
    return len(re.findall(rf"[ML]{_NUM} {_NUM}", path))


def register(platform: Platform) -> None:
    app, state = platform.app, platform.state
    st = AgencyState()
    state.agency = st  # type: ignore[attr-defined]  # this module's own state
    guard = [Depends(platform.terminal)]

    @app.post("/api/v1/authorisation/resolve", dependencies=guard)
    def resolve(req: ResolveRequest) -> dict[str, Any]:
        grant = DEMO_CODES.get(req.code)
        if grant is None:
            raise ApiError(404, "auth_code_unknown")
        if grant.expires_at < datetime.now():
            raise ApiError(404, "auth_code_expired")
        if req.service not in grant.scope:
            raise ApiError(404, "auth_code_out_of_scope")
        c = BY_KEY[grant.principal]
        if c.id_number == req.agent_id_number.upper():
            raise ApiError(404, "auth_code_self")
        reference = f"SQ{datetime.now():%Y%m%d}{secrets.randbelow(10**6):06d}"
        with st.lock:
            st.references[reference] = (c.id_number, req.service)
        valid = min(grant.expires_at, datetime.now() + timedelta(days=30))
        return {"principal": {"name": c.name, "id_number": c.id_number, "gender": c.gender,
                              "gender_text": GENDER.get(c.gender, "未知")},
                "scope": list(grant.scope),
                "scope_text": "、".join(SERVICE_NAMES.get(s, s) for s in grant.scope),
                "expires_at": valid.strftime("%Y-%m-%d %H:%M"), "reference": reference}

    @app.post("/api/v1/authorisation/agency", status_code=201)
    def agency(req: AgencyRequest, tid: str = Depends(platform.terminal)) -> dict[str, Any]:
        if find_citizen(req.principal_id_number) is None:
            raise ApiError(404, "no_record")
        if req.principal_id_number == req.agent_id_number:
            raise ApiError(404, "auth_code_self")
        if req.method == "authorisation":
            with st.lock:
                granted = st.references.get(req.reference)
            if granted != (req.principal_id_number, req.service):
                raise ApiError(404, "auth_code_unknown")
        points = signature_points(req.signature)
        if points < MIN_SIGNATURE_POINTS:
            raise ApiError(400, "signature_invalid")
        with st.lock:
            item = {"id": len(st.records) + 1, "terminal": tid, "service": req.service,
                    "principal": mask_id_number(req.principal_id_number),
                    "agent": mask_id_number(req.agent_id_number), "method": req.method,
                    "reference": req.reference, "signature": req.signature,
                    "signature_points": points}
            st.records.append(item)
        return {"id": item["id"], "accepted": True}

    admin_token = os.environ.get("REFBACKEND_ADMIN_TOKEN", "")
    if admin_token:
        def admin(x_admin_token: str = Header(default="")) -> None:
            if not secrets.compare_digest(x_admin_token, admin_token):
                raise ApiError(403, "forbidden")

        @app.get("/_admin/authorisation/agencies", dependencies=[Depends(admin)],
                 include_in_schema=False)
        def agencies() -> list[dict[str, Any]]:
            with st.lock:
                return list(st.records)

