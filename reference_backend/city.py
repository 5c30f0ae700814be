"""The reference "city platform": 广州市住房公积金 as another city's platform would serve it.

A second platform for the Bay Area zones (issue 17), deliberately unlike ours:

- OAuth2 client credentials (`POST /oauth/token`, client_secret_basic or _post), bearer
  tokens that expire (`--token-lifetime`, short in tests), `401 invalid_token` after;
- its own JSON: `{"code": 0, "message": "success", "data": {...}, "traceId": ...}`,
  camelCase and its own field names, business errors with HTTP 200 and a non-zero
  `code` (1001: no record);
- the terminal's outbox contract (`/api/v1/outbox/item|batch`, acknowledgements by
  idempotency key) for the records of its services (evaluations).

`python -m reference_backend.city --port 8710` (clients from $REFCITY_CLIENTS,
`ID:SECRET,...`; `$REFCITY_ADMIN_TOKEN` opens `/_admin/*` for tests).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import os
import random
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, unquote

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from synthetic.citizens import BY_ID, Citizen

CENTER = "广州住房公积金管理中心"
RATIO = 0.07  # unit and person each (Guangzhou allows 5-12 %)


class CityError(Exception):
    def __init__(self, status: int, body: dict[str, Any],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(str(body))
        self.status, self.body, self.headers = status, body, headers or {}


class DepositQuery(BaseModel):
    idCardNo: str = Field(min_length=15, max_length=18)  # noqa: N815 - the platform's names
    queryMonths: int = Field(default=12, ge=1, le=36)  # noqa: N815


class OutboxItem(BaseModel):
    key: str = Field(min_length=1, max_length=128)
    stream: str = Field(max_length=64)
    created: float
    payload: dict[str, Any]


class Batch(BaseModel):
    items: list[OutboxItem] = Field(max_length=1000)


@dataclass
class CityState:
    clients: dict[str, str]
    lifetime_s: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> client, exp
    tokens_issued: int = 0
    tokens_refused: int = 0  # 401 invalid_token answers
    queries: int = 0
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)  # outbox key -> record
    evaluations: list[dict[str, Any]] = field(default_factory=list)


def _month_add(year: int, month: int, delta: int) -> tuple[int, int]:
    idx = year * 12 + (month - 1) + delta
    return idx // 12, idx % 12 + 1


def deposit_detail(c: Citizen, months: int, today: date) -> dict[str, Any]:
    """The city's `data` for a citizen's deposits over the last `months` months."""
    end = _month_add(today.year, today.month, -1)
    start = _month_add(end[0], end[1], -(months - 1))
    rng = random.Random("gz" + c.id_number)
    base = c.monthly_base
    each = round(base * RATIO, 2)
    rows = []
    for k in range(months):
        y, m = _month_add(start[0], start[1], k)
        rows.append({"yearMonth": f"{y:04d}-{m:02d}", "unitAmt": each, "personAmt": each,
                     "totalAmt": round(each * 2, 2),
                     "bizType": "补缴" if rng.random() < 0.08 else "汇缴"})
    return {
        "personInfo": {"personName": c.name, "accountNo": f"44010{rng.randrange(10**9):09d}",
                       "accountState": "正常", "unitName": c.employer,
                       "depositBase": base, "depositRatio": f"{RATIO:.0%}+{RATIO:.0%}"},
        "beginMonth": f"{start[0]:04d}-{start[1]:02d}", "endMonth": f"{end[0]:04d}-{end[1]:02d}",
        "depositList": rows,
        "balance": round(each * 2 * (12 + rng.randrange(60)), 2),
        "centerName": CENTER,
        "queryDate": today.isoformat(),
    }


def _ok(data: Any) -> dict[str, Any]:
    return {"code": 0, "message": "success", "data": data, "traceId": secrets.token_hex(8)}


def _client_of(request: Request, form: dict[str, str]) -> tuple[str, str]:
    """client_secret_basic (Authorization: Basic) or client_secret_post (form)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            pair = base64.b64decode(auth[6:]).decode()
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        cid, _, secret = pair.partition(":")
        return unquote(cid), unquote(secret)
    return form.get("client_id", ""), form.get("client_secret", "")


def create_city_app(clients: dict[str, str], *, token_lifetime_s: int = 300,
                    admin_token: str = "") -> FastAPI:
    app = FastAPI(title="广州市住房公积金 reference city platform", version="2.0")
    st = CityState(dict(clients), token_lifetime_s)
    app.state.city = st

    @app.exception_handler(CityError)
    async def _error(_: Request, exc: CityError) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return _ok({"status": "UP"})

    @app.post("/oauth/token")
    async def token(request: Request) -> JSONResponse:
        # form-urlencoded by hand: no multipart parser needed for a token request
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials":
            raise CityError(400, {"error": "unsupported_grant_type"})
        cid, secret = _client_of(request, form)
        known = st.clients.get(cid)
        if known is None or not secrets.compare_digest(known.encode(), secret.encode()):
            raise CityError(401, {"error": "invalid_client"},
                            {"WWW-Authenticate": 'Basic realm="city"'})
        access = secrets.token_urlsafe(24)
        with st.lock:
            st.tokens[access] = (cid, time.time() + st.lifetime_s)
            st.tokens_issued += 1
        body = {"access_token": access, "token_type": "Bearer", "expires_in": st.lifetime_s}
        if form.get("scope"):
            body["scope"] = form["scope"]
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def bearer(authorization: str = Header(default="")) -> str:
        scheme, _, access = authorization.partition(" ")
        with st.lock:
            held = st.tokens.get(access) if scheme.lower() == "bearer" else None
            if held is None or held[1] <= time.time():
                st.tokens_refused += 1
                raise CityError(401, {"code": 401, "message": "invalid_token", "data": None},
                                {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return held[0]

    @app.post("/gjj/v2/deposit/detail")
    def deposit(q: DepositQuery, client: str = Depends(bearer)) -> dict[str, Any]:
        with st.lock:
            st.queries += 1
        c = BY_ID.get(q.idCardNo.upper())
        if c is None or not c.employer:
            return {"code": 1001, "message": "未查询到缴存信息", "data": None,
                    "traceId": secrets.token_hex(8)}
        return _ok(deposit_detail(c, q.queryMonths, date.today()))

    def apply(client: str, item: OutboxItem) -> dict[str, Any]:
        with st.lock:
            if item.key in st.applied:
                return {"key": item.key, "status": "duplicate"}
            st.applied[item.key] = {"stream": item.stream, "client": client}
            if item.stream == "evaluation":
                st.evaluations.append(item.payload | {"client": client})
        return {"key": item.key, "status": "applied"}

    @app.post("/api/v1/outbox/batch")
    def outbox_batch(batch: Batch, client: str = Depends(bearer)) -> dict[str, Any]:
        return {"results": [apply(client, it) for it in batch.items]}

    @app.post("/api/v1/outbox/item")
    def outbox_item(item: OutboxItem, client: str = Depends(bearer)) -> dict[str, Any]:
        return apply(client, item)

    if admin_token:
        def admin(x_admin_token: str = Header(default="")) -> None:
            if not secrets.compare_digest(x_admin_token, admin_token):
                raise CityError(403, {"error": "forbidden"})

        @app.get("/_admin/state", dependencies=[Depends(admin)], include_in_schema=False)
        def admin_state() -> dict[str, Any]:
            with st.lock:
                return {"tokens_issued": st.tokens_issued, "tokens_refused": st.tokens_refused,
                        "queries": st.queries, "evaluations": list(st.evaluations),
                        "applied": len(st.applied)}

        @app.post("/_admin/revoke", dependencies=[Depends(admin)], include_in_schema=False)
        def admin_revoke() -> dict[str, Any]:
            """Forget every token (a key rotation, a restart): the next call gets a 401."""
            with st.lock:
                n = len(st.tokens)
                st.tokens.clear()
            return {"revoked": n}

    return app


def parse_clients(spec: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        cid, _, secret = item.partition(":")
        out[cid] = secret
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="reference_backend.city", description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8710)
    ap.add_argument("--token-lifetime", type=int, default=300, help="seconds")
    args = ap.parse_args(argv)
    clients = parse_clients(os.environ.get("REFCITY_CLIENTS", ""))
    if not clients:
        print("REFCITY_CLIENTS is empty (format: CLIENT_ID:SECRET,...)", file=sys.stderr)
        return 2
    import uvicorn

    app = create_city_app(clients, token_lifetime_s=args.token_lifetime,
                          admin_token=os.environ.get("REFCITY_ADMIN_TOKEN", ""))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
