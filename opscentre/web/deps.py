"""Who is asking and may they: request dependencies shared by the pages and the API.

A request is authenticated by `Authorization: Bearer TOKEN` (scripts) or by the session
cookie (browsers). A state-changing request on a session needs the session's CSRF token
(a form field `csrf` or the header `X-CSRF-Token`); a bearer token is not sent by the
browser on its own, so it needs none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from opscentre import auth
from opscentre.auth import Principal
from opscentre.web import i18n

SESSION_COOKIE = "kops_session"
LANG_COOKIE = "kops_lang"
LOGIN_CSRF_COOKIE = "kops_login_csrf"


class NeedLogin(Exception):
    """No valid session or token: a page redirects to the login, the API answers 401."""


class Denied(Exception):
    """Authenticated but not allowed: 403 (`key` says why)."""

    def __init__(self, key: str = "error.forbidden") -> None:
        super().__init__(key)
        self.key = key


def db_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as db:
        yield db


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def language(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE)
    if lang in i18n.LANGS:
        return lang
    return i18n.from_accept_language(request.headers.get("accept-language", ""))


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def current(request: Request, db: Annotated[Session, Depends(db_session)]) -> Principal | None:
    """The principal of this request, or None (cached on the request)."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    token = _bearer(request)
    if token is not None:
        who = auth.token_principal(db, token)
    else:
        who = auth.session_principal(db, request.cookies.get(SESSION_COOKIE, ""),
                                     request.app.state.policy)
    request.state.principal = who
    return who


def require(role: str) -> Callable[..., Principal]:
    """A dependency: the principal if it has at least `role`, else NeedLogin or Denied."""

    def dependency(request: Request, db: Annotated[Session, Depends(db_session)],
                   who: Annotated[Principal | None, Depends(current)]) -> Principal:
        if who is None:
            raise NeedLogin()
        if not who.can(role):
            auth.audit(db, who.actor, "access_denied", request.url.path,
                       client_address(request), {"method": request.method, "needs": role,
                                                 "role": who.role})
            db.commit()
            raise Denied()
        return who

    dependency.__name__ = f"require_{role}"
    return dependency


def csrf_header_ok(request: Request, who: Principal) -> bool:
    """API writes: a bearer token needs no CSRF token, a browser session does."""
    return who.kind == "token" or auth.csrf_ok(who, request.headers.get("x-csrf-token"))


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Any:
    """A page in the request's language, with the principal and helpers in its context."""
    lang = language(request)
    templates = request.app.state.templates
    who = getattr(request.state, "principal", None)
    return templates.TemplateResponse(request, name, {
        "lang": lang, "S": i18n.strings(lang), "who": who,
        "csrf": who.csrf if who is not None else "", "tz": request.app.state.tz, **context,
    }, status_code=status_code)
