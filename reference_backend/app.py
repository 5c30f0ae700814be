"""The reference platform API (FastAPI)."""

from __future__ import annotations

import importlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from kiosk.identity import mask_id_number, mask_name
from reference_backend.auth import AuthFailure, Verifier, request_target
from reference_backend.data import contribution_record, find_citizen

if TYPE_CHECKING:
    from reference_backend.outbox import OutboxState
    from reference_backend.services import ServicesState


class ApiError(Exception):
    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status, self.code = status, code


class CertificateRequest(BaseModel):
    id_number: str = Field(min_length=15, max_length=18)
    kind: Literal["participation", "payment_detail"] = "participation"
    months: int = Field(default=12, ge=1, le=60)


class EvaluationRequest(BaseModel):
    service: str = Field(max_length=64)
    stars: int = Field(ge=1, le=5)
    tags: list[str] = Field(default_factory=list, max_length=10)
    terminal_id: str = Field(default="", max_length=64)
    session: str = Field(default="", max_length=64)
    ticket: str = Field(default="", max_length=16)  # the queue number rated (好差评)


@dataclass
class Platform:
    """What an area's routes need: shared state, the terminal-auth dependency, idempotency."""

    app: FastAPI
    state: State
    terminal: Any  # FastAPI dependency returning the authenticated terminal id
    idempotent: Any  # idempotent(tid, key, produce) -> stored or new result
    public_url: str


# Areas that add routes: modules with `register(platform: Platform) -> None`.
# (Fleet monitoring left the platform for the fleet channel and the operations centre.)
ROUTE_MODULES: tuple[str, ...] = ("reference_backend.outbox",)

ROUTE_MODULES += ("reference_backend.services",)  # business services (issue 8)
ROUTE_MODULES += ("reference_backend.identity",)  # QR identity codes, face photos (issue 5)
ROUTE_MODULES += ("reference_backend.seal", "reference_backend.verification")  # e-seals (18)
ROUTE_MODULES += ("reference_backend.generic",)  # generic catalog services (issue 17)
ROUTE_MODULES += ("reference_backend.authorisation",)  # acting for someone else (issue 18)


class State:
    """Everything the platform remembers (in memory; a demo server, not a database)."""

    # Set by the route modules' register() (ROUTE_MODULES), each for its own routes.
    services: ServicesState
    outbox: OutboxState
    reference_catalog: dict[str, Any]
    outbox_sinks: dict[str, Callable[..., Any]]  # stream -> consumer of delivered items
    qr_tokens: dict[str, tuple[str, float]]  # token -> (citizen key, expires_at epoch s)

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.certificates: dict[str, dict[str, Any]] = {}
        self.evaluations: list[dict[str, Any]] = []
        self.idempotent: dict[tuple[str, str], Any] = {}
        self.request_count = 0


def create_app(terminals: dict[str, bytes], public_url: str = "http://127.0.0.1:8700",
               admin_token: str = "") -> FastAPI:
    app = FastAPI(title="莞家政务 reference platform API", version="1.0",
                  description=(
                      "Reference implementation of the government service platform's terminal "
                      "API. Every /api request is signed: HMAC-SHA256 with the terminal's "
                      "secret over METHOD, the request target exactly as sent (raw path and query, "
                      "never decoded), unix timestamp, nonce and SHA-256 of the "
                      "body, joined by LF; headers X-Terminal-Id, X-Timestamp, X-Nonce, "
                      "X-Signature. Stale timestamps (>300 s) and replayed nonces get 401. "
                      "Writes take an Idempotency-Key header and are applied once."))
    verifier = Verifier(terminals)
    state = State()
    app.state.platform = state

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.code}, status_code=exc.status)

    async def terminal(request: Request) -> str:
        body = await request.body()
        try:  # the raw target as received, never the decoded path (issue 13 item 7)
            tid = verifier.verify(request.method, request_target(request.scope),
                                  dict(request.headers), body)
        except AuthFailure as exc:
            raise ApiError(401, exc.code) from None
        with state.lock:
            state.request_count += 1
        return tid

    def idempotent(tid: str, key: str | None, produce: Any) -> Any:
        if not key:
            raise ApiError(400, "idempotency_key_required")
        with state.lock:
            if (tid, key) in state.idempotent:
                return state.idempotent[(tid, key)]
            result = produce()
            state.idempotent[(tid, key)] = result
            return result

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/social-security/certificate")
    def certificate(req: CertificateRequest, tid: str = Depends(terminal)) -> dict[str, Any]:
        citizen = find_citizen(req.id_number)
        if citizen is None:
            raise ApiError(404, "no_record")
        record = contribution_record(citizen, req.months, date.today())
        code = "-".join(secrets.token_hex(2).upper() for _ in range(3))
        record["verify_code"] = code
        record["verify_url"] = f"{public_url}/verify/{code}"
        with state.lock:
            state.certificates[code] = {
                "kind": req.kind, "terminal": tid, "issued_at": record["issued_at"],
                "masked_name": mask_name(citizen.name),
                "masked_id": mask_id_number(citizen.id_number),
            }
        return record

    @app.post("/api/v1/evaluations", status_code=201)
    def evaluation(req: EvaluationRequest, tid: str = Depends(terminal),
                   idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
        def produce() -> dict[str, Any]:
            item = req.model_dump() | {"terminal": tid, "id": len(state.evaluations) + 1}
            state.evaluations.append(item)
            return {"id": item["id"], "accepted": True}

        return idempotent(tid, idempotency_key, produce)

    # /verify/{code}: the public verification page (reference_backend/verification.py)

    platform = Platform(app, state, terminal, idempotent, public_url)
    for name in ROUTE_MODULES:
        importlib.import_module(name).register(platform)

    if admin_token:
        def admin(x_admin_token: str = Header(default="")) -> None:
            if not secrets.compare_digest(x_admin_token, admin_token):
                raise ApiError(403, "forbidden")

        @app.get("/_admin/state", dependencies=[Depends(admin)], include_in_schema=False)
        def admin_state() -> dict[str, Any]:
            with state.lock:
                return {"evaluations": list(state.evaluations),
                        "certificates": len(state.certificates),
                        "requests": state.request_count}

    return app

