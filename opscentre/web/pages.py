"""The console's pages (server-rendered): login, fleet, one terminal, alerts, audit, users.

Every form carries the session's CSRF token; the login form, before there is a session,
a double-submit token (a cookie and the same value in the form).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from opscentre import auth
from opscentre.auth import AuthError, Principal
from opscentre.db import utcnow
from opscentre.web import actions, chart, fmt, queries
from opscentre.web.api import fleet_query, token_rows, user_rows
from opscentre.web.deps import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Denied,
    client_address,
    current,
    db_session,
    language,
    render,
    require,
)
from opscentre.web.i18n import LANGS
from opscentre.web.queries import AlertFilter, FleetQuery

router = APIRouter(include_in_schema=False)
Db = Annotated[Session, Depends(db_session)]
Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Csrf = Annotated[str, Form(max_length=128)]


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or bool(request.app.state.secure_cookies)


def _local_path(value: str | None, default: str = "/fleet") -> str:
    """A path on this console (never another site: `//host` and `\\` are refused)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _check_csrf(who: Principal, given: str) -> None:
    if not auth.csrf_ok(who, given):
        raise Denied("error.csrf")


# -- login, logout, language -------------------------------------------------------------------
@router.get("/login")
def login_page(request: Request, next: str | None = None, error: str | None = None) -> Any:
    token = secrets.token_urlsafe(24)
    resp = render(request, "login.html", next=_local_path(next), error=error,
                  login_csrf=token, status_code=200)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                    secure=_secure(request), path="/login")
    return resp


@router.post("/login")
def login(request: Request, db: Db, name: Annotated[str, Form(max_length=200)],
          password: Annotated[str, Form(max_length=auth.MAX_PASSWORD + 1)], csrf: Csrf,
          next: Annotated[str, Form(max_length=2000)] = "/fleet") -> Any:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected.encode(), csrf.encode()):
        raise Denied("error.csrf")
    try:
        _, raw = auth.login(db, name, password, client_address(request), request.app.state.policy)
    except AuthError as exc:
        token = secrets.token_urlsafe(24)
        resp = render(request, "login.html", status_code=exc.status, next=_local_path(next),
                      error=exc.key, login_csrf=token, user_name=name[:64])
        resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=_secure(request), path="/login")
        if exc.retry_after:
            resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    resp = _see_other(_local_path(next))
    resp.set_cookie(SESSION_COOKIE, raw, httponly=True, samesite="strict",
                    secure=_secure(request), path="/",
                    max_age=request.app.state.policy.session_max_s)
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return resp


@router.post("/logout")
def logout(request: Request, db: Db, who: Viewer, csrf: Csrf) -> Any:
    _check_csrf(who, csrf)
    auth.logout(db, who, client_address(request))
    resp = _see_other("/login")
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/lang")
def switch_language(to: Literal["zh_CN", "en"], back: str | None = None) -> Any:
    resp = _see_other(_local_path(back))
    resp.set_cookie(LANG_COOKIE, to if to in LANGS else LANGS[0], samesite="lax",
                    max_age=365 * 86400, path="/")
    return resp


@router.get("/")
def home(who: Annotated[Principal | None, Depends(current)]) -> Any:
    return _see_other("/fleet" if who else "/login")


# -- fleet, terminal ---------------------------------------------------------------------------
@router.get("/fleet")
def fleet(request: Request, db: Db, who: Viewer,
          fq: Annotated[FleetQuery, Depends(fleet_query)]) -> Any:
    rows, total = queries.fleet(db, fq)
    choices = queries.fleet_choices(db)
    if fq.fault not in (None, "any", "none") and fq.fault not in choices["devices"]:
        choices["devices"].append(fq.fault)  # the filter in use stays visible
    # per-row text made here, once: a Jinja filter per cell costs most of a 1,000-row page
    lang, tz, now = language(request), request.app.state.tz, utcnow()
    for r in rows:
        r["seen_ago"] = fmt.ago(r["last_seen"], lang, now)
        r["seen_local"] = fmt.local(r["last_seen"], tz)
        r["packages_text"] = ", ".join(r["packages"])
    return render(request, "fleet.html", rows=rows, total=total, fq=fq,
                  counts=queries.fleet_counts(db), choices=choices, urlencode=urlencode)


@router.get("/terminals/{tid}")
def terminal(request: Request, tid: str, db: Db, who: Viewer,
             days: Annotated[int, Query(ge=1, le=90)] = 7) -> Any:
    detail = queries.terminal_detail(db, tid)
    if detail is None:
        return render(request, "error.html", status_code=404, error="error.not_found")
    tl = queries.timeline(db, tid, days, chart.POINTS)
    return render(request, "terminal.html", t=detail, days=days,
                  chart=chart.build(tl, request.app.state.tz))


# -- alerts ------------------------------------------------------------------------------------
@router.get("/alerts")
def alerts(request: Request, db: Db, who: Viewer, state: AlertFilter = "live",
           terminal: Annotated[str | None, Query(max_length=64)] = None,
           rule: Annotated[str | None, Query(max_length=32)] = None,
           severity: Annotated[str | None, Query(max_length=16)] = None,
           offset: Annotated[int, Query(ge=0)] = 0) -> Any:
    rows, total = queries.alerts(db, state, terminal=terminal or None, rule=rule or None,
                                 severity=severity or None, offset=offset)
    return render(request, "alerts.html", rows=rows, total=total, state=state,
                  terminal=terminal or "", rule=rule or "", severity=severity or "",
                  offset=offset, choices=queries.alert_choices(db),
                  back=str(request.url.path) + ("?" + request.url.query
                                                if request.url.query else ""))


@router.post("/alerts/{alert_id}/ack")
def ack(request: Request, alert_id: int, db: Db, who: Operator, csrf: Csrf,
        back: Annotated[str, Form(max_length=2000)] = "/alerts") -> Any:
    _check_csrf(who, csrf)
    try:
        actions.acknowledge(db, alert_id, who, client_address(request))
    except AuthError as exc:
        return render(request, "error.html", status_code=exc.status, error=exc.key)
    return _see_other(_local_path(back, "/alerts"))


# -- audit, users and tokens (admin) -------------------------------------------------------------
@router.get("/audit")
def audit(request: Request, db: Db, who: Admin,
          action: Annotated[str | None, Query(max_length=32)] = None,
          actor: Annotated[str | None, Query(max_length=80)] = None,
          offset: Annotated[int, Query(ge=0)] = 0) -> Any:
    rows, total = queries.audit_log(db, action=action or None, actor=actor or None,
                                    offset=offset)
    return render(request, "audit.html", rows=rows, total=total, action=action or "",
                  actor=actor or "", offset=offset, actions=queries.audit_actions(db),
                  urlencode=urlencode)


def _admin_page(request: Request, db: Session, status_code: int = 200, **extra: Any) -> Any:
    return render(request, "users.html", status_code=status_code, users=user_rows(db),
                  tokens=token_rows(db), **extra)


@router.get("/admin")
def admin(request: Request, db: Db, who: Admin) -> Any:
    return _admin_page(request, db)


def _admin_change(request: Request, db: Session, who: Principal, csrf: str, fn: Any,
                  **done: Any) -> Any:
    _check_csrf(who, csrf)
    try:
        fn()
    except AuthError as exc:
        return _admin_page(request, db, status_code=exc.status, error=exc.key)
    if done:
        return _admin_page(request, db, **done)
    return _see_other("/admin")


@router.post("/admin/users")
def add_user(request: Request, db: Db, who: Admin, csrf: Csrf,
             name: Annotated[str, Form(max_length=200)],
             role: Annotated[str, Form(max_length=16)],
             password: Annotated[str, Form(max_length=auth.MAX_PASSWORD + 1)]) -> Any:
    return _admin_change(request, db, who, csrf, lambda: auth.add_user(
        db, name, role, password, by=who.actor, address=client_address(request)))


@router.post("/admin/users/{name}")
def change_user(request: Request, name: str, db: Db, who: Admin, csrf: Csrf,
                role: Annotated[str | None, Form(max_length=16)] = None,
                disabled: Annotated[Literal["0", "1"] | None, Form()] = None) -> Any:
    def change() -> None:
        if name == who.name:
            raise AuthError("auth.self_change", 409)
        if role:
            auth.set_role(db, name, role, by=who.actor, address=client_address(request))
        if disabled is not None:
            auth.set_disabled(db, name, disabled == "1", by=who.actor,
                              address=client_address(request))

    return _admin_change(request, db, who, csrf, change)


@router.post("/admin/tokens")
def add_token(request: Request, db: Db, who: Admin, csrf: Csrf,
              name: Annotated[str, Form(max_length=200)],
              role: Annotated[str, Form(max_length=16)] = "viewer") -> Any:
    created: dict[str, str] = {}

    def create() -> None:
        created["token"] = auth.create_token(db, name, role, by=who.actor,
                                             address=client_address(request))

    _check_csrf(who, csrf)
    try:
        create()
    except AuthError as exc:
        return _admin_page(request, db, status_code=exc.status, error=exc.key)
    resp = _admin_page(request, db, new_token=created["token"], new_token_name=name)
    resp.headers["Cache-Control"] = "no-store"  # the token is on this page once
    return resp


@router.post("/admin/tokens/{name}/revoke")
def revoke_token(request: Request, name: str, db: Db, who: Admin, csrf: Csrf) -> Any:
    return _admin_change(request, db, who, csrf, lambda: auth.revoke_token(
        db, name, by=who.actor, address=client_address(request)))


@router.get("/api-help")
def api_help(request: Request, who: Viewer) -> Response:
    paths = request.app.openapi().get("paths", {})
    endpoints = [(method.upper(), path, op.get("summary", ""))
                 for path, ops in paths.items() for method, op in ops.items()]
    return render(request, "api.html", endpoints=endpoints)
