"""The JSON API under `/api/`: the same data as the pages, for scripts and checks.

Authentication: `Authorization: Bearer TOKEN` (`kiosk-ops token create NAME`) or the
browser's session (writes then need `X-CSRF-Token`). Viewers read, operators also
acknowledge alerts, admins also manage users and tokens and read the audit log.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from opscentre import auth
from opscentre.auth import AuthError, Principal
from opscentre.web import actions, queries
from opscentre.web.deps import client_address, csrf_header_ok, db_session, require
from opscentre.web.models import ApiToken, User
from opscentre.web.queries import MAX_ROWS, AlertFilter, FleetQuery, FleetSort, Order

router = APIRouter(prefix="/api", tags=["api"])
Db = Annotated[Session, Depends(db_session)]
Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def fleet_query(
    status: Annotated[Literal["online", "offline"] | None, Query()] = None,
    fault: Annotated[str | None, Query(max_length=32,
                                       description="any, none or a device kind")] = None,
    paper: Annotated[Literal["ok", "low", "out", "problem"] | None, Query()] = None,
    app_version: Annotated[str | None, Query(max_length=64)] = None,
    package: Annotated[str | None, Query(max_length=128,
                                         description="an active package, id@version")] = None,
    site: Annotated[str | None, Query(max_length=128)] = None,
    q: Annotated[str | None, Query(max_length=64, description="part of a terminal id")] = None,
    sort: FleetSort = "id",
    order: Order = "asc",
    limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> FleetQuery:
    """The fleet's filters and order, shared by `/fleet` and `/api/terminals`."""
    return FleetQuery(status=status, fault=fault or None, paper=paper,
                      app_version=app_version or None, package=package or None,
                      site=site or None, q=q or None, sort=sort, order=order, limit=limit,
                      offset=offset)


def _refuse(exc: AuthError) -> HTTPException:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return HTTPException(exc.status, detail=exc.key, headers=headers)


def _csrf(request: Request, who: Principal) -> None:
    if not csrf_header_ok(request, who):
        raise HTTPException(403, detail="error.csrf")


@router.get("/me", summary="Who the request is authenticated as")
def me(who: Viewer) -> dict[str, Any]:
    return {"name": who.name, "kind": who.kind, "role": who.role}


class TerminalSummary(BaseModel):
    """One terminal in `GET /api/terminals` (times are ISO 8601 in UTC)."""

    id: str
    site: str | None
    online: bool
    offline_reason: str | None = Field(description="will, stale, disconnect… while offline")
    state_at: str | None = Field(description="online or offline since")
    last_seen: str | None = Field(description="the last message of any kind")
    app_version: str
    packages: list[str] = Field(description="active flow packages, id@version")
    faults: list[str] = Field(description="device kinds in fault")
    fault_count: int
    paper: Literal["ok", "low", "out"]
    outbox_depth: int
    outbox_oldest_age_s: float | None
    clock_skew_s: float | None
    package_problem: str | None = Field(description="rejected or rolled_back")
    maintenance: bool
    open_alerts: int


def _json(data: Any, headers: dict[str, str] | None = None) -> Response:
    # The rows are plain JSON types already: json.dumps is ~10x faster for 1,000 rows than
    # FastAPI's generic encoder (the response_model documents them, it does not re-check).
    return Response(json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                    media_type="application/json", headers=headers)


@router.get("/terminals", response_model=list[TerminalSummary],
            summary="The fleet: filtered, sorted, paged (X-Total-Count)")
def terminals(db: Db, who: Viewer,
              fq: Annotated[FleetQuery, Depends(fleet_query)]) -> Response:
    rows, total = queries.fleet(db, fq)
    return _json(rows, {"X-Total-Count": str(total)})


@router.get("/fleet/summary", summary="Fleet-wide counts and the values filters can take")
def fleet_summary(db: Db, who: Viewer) -> dict[str, Any]:
    return {"counts": queries.fleet_counts(db), "choices": queries.fleet_choices(db)}


@router.get("/terminals/{tid}", summary="One terminal: devices, consumables, outbox, "
            "versions, open alerts, recent events")
def terminal(tid: str, db: Db, who: Viewer) -> dict[str, Any]:
    detail = queries.terminal_detail(db, tid)
    if detail is None:
        raise HTTPException(404, detail="error.not_found")
    return detail


@router.get("/terminals/{tid}/timeline", summary="Health over days, downsampled, and events")
def timeline(tid: str, db: Db, who: Viewer,
             days: Annotated[int, Query(ge=1, le=90)] = 7,
             points: Annotated[int, Query(ge=10, le=1000)] = 200) -> dict[str, Any]:
    if queries.terminal_detail(db, tid, events=0) is None:
        raise HTTPException(404, detail="error.not_found")
    return queries.timeline(db, tid, days, points)


@router.get("/alerts", summary="Alerts: open, acked, closed (X-Total-Count)")
def alerts(db: Db, who: Viewer, response: Response,
           state: AlertFilter = "live",
           terminal: Annotated[str | None, Query(max_length=64)] = None,
           rule: Annotated[str | None, Query(max_length=32)] = None,
           severity: Annotated[str | None, Query(max_length=16)] = None,
           limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 500,
           offset: Annotated[int, Query(ge=0)] = 0) -> list[dict[str, Any]]:
    rows, total = queries.alerts(db, state, terminal=terminal, rule=rule, severity=severity,
                                 limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(total)
    return rows


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert (operator)")
def ack(alert_id: int, request: Request, db: Db, who: Operator) -> dict[str, Any]:
    _csrf(request, who)
    try:
        alert = actions.acknowledge(db, alert_id, who, client_address(request))
    except AuthError as exc:
        raise _refuse(exc) from None
    return queries.alert_row(alert)


@router.get("/audit", summary="The audit log, newest first (admin)")
def audit(db: Db, who: Admin, response: Response,
          action: Annotated[str | None, Query(max_length=32)] = None,
          actor: Annotated[str | None, Query(max_length=80)] = None,
          limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 200,
          offset: Annotated[int, Query(ge=0)] = 0) -> list[dict[str, Any]]:
    rows, total = queries.audit_log(db, action=action, actor=actor, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(total)
    return rows


# -- users and tokens (admin) ---------------------------------------------------------------
class NewUser(BaseModel):
    name: str = Field(max_length=64)
    role: Literal["viewer", "agent", "operator", "admin"]
    password: str = Field(max_length=auth.MAX_PASSWORD)


class UserChange(BaseModel):
    role: Literal["viewer", "agent", "operator", "admin"] | None = None
    disabled: bool | None = None


class NewToken(BaseModel):
    name: str = Field(max_length=64)
    role: Literal["viewer", "agent", "operator", "admin"] = "viewer"


def user_rows(db: Session) -> list[dict[str, Any]]:
    return [{"name": u.name, "role": u.role, "disabled": u.disabled,
             "created_at": u.created_at.isoformat(),
             "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None}
            for u in db.scalars(select(User).order_by(User.name))]


def token_rows(db: Session) -> list[dict[str, Any]]:
    return [{"name": t.name, "role": t.role, "created_at": t.created_at.isoformat(),
             "created_by": t.created_by,
             "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
             "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None}
            for t in db.scalars(select(ApiToken).order_by(ApiToken.name))]


@router.get("/users", summary="Console users (admin)")
def users(db: Db, who: Admin) -> list[dict[str, Any]]:
    return user_rows(db)


@router.post("/users", status_code=201, summary="Add a user (admin)")
def add_user(body: NewUser, request: Request, db: Db, who: Admin) -> dict[str, Any]:
    _csrf(request, who)
    try:
        auth.add_user(db, body.name, body.role, body.password, by=who.actor,
                      address=client_address(request))
    except AuthError as exc:
        raise _refuse(exc) from None
    return {"name": body.name, "role": body.role}


@router.patch("/users/{name}", summary="Change a user's role or disable it (admin)")
def change_user(name: str, body: UserChange, request: Request, db: Db,
                who: Admin) -> dict[str, Any]:
    _csrf(request, who)
    if who.kind == "user" and name == who.name:
        raise HTTPException(409, detail="auth.self_change")  # never lock out the last admin
    try:
        if body.role is not None:
            auth.set_role(db, name, body.role, by=who.actor, address=client_address(request))
        if body.disabled is not None:
            auth.set_disabled(db, name, body.disabled, by=who.actor,
                              address=client_address(request))
    except AuthError as exc:
        raise _refuse(exc) from None
    return next(u for u in user_rows(db) if u["name"] == name)


@router.get("/tokens", summary="API tokens, without their values (admin)")
def tokens(db: Db, who: Admin) -> list[dict[str, Any]]:
    return token_rows(db)


@router.post("/tokens", status_code=201, summary="Create a token: its value is shown once")
def add_token(body: NewToken, request: Request, db: Db, who: Admin) -> dict[str, Any]:
    _csrf(request, who)
    try:
        raw = auth.create_token(db, body.name, body.role, by=who.actor,
                                address=client_address(request))
    except AuthError as exc:
        raise _refuse(exc) from None
    return {"name": body.name, "role": body.role, "token": raw}


@router.delete("/tokens/{name}", summary="Revoke a token (admin)")
def revoke(name: str, request: Request, db: Db, who: Admin) -> dict[str, Any]:
    _csrf(request, who)
    try:
        auth.revoke_token(db, name, by=who.actor, address=client_address(request))
    except AuthError as exc:
        raise _refuse(exc) from None
    return {"name": name, "revoked": True}
