"""The console's FastAPI application: routers, templates, error pages, security headers.

No CDN: the page's CSS and script are files of this package, and the
Content-Security-Policy allows nothing else (FastAPI's Swagger UI, which loads from a CDN,
is off; `/api/openapi.json` and the `/api-help` page describe the API).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException

from opscentre.auth import LoginPolicy

HERE = Path(__file__).parent
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'")


def _templates(tz: ZoneInfo) -> Jinja2Templates:
    from opscentre.web import fmt, i18n

    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env

    def local(value: str | dt.datetime | None, form: str = "%Y-%m-%d %H:%M:%S") -> str:
        return fmt.local(value, tz, form)

    env.filters.update(local=local, duration=fmt.duration)
    env.globals.update(ago=fmt.ago, word=i18n.word)  # word(lang, "dev", "receipt")
    return templates


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/")


def create_app(sessionmaker: sessionmaker[Session], settings: Any = None) -> FastAPI:
    """The console on `sessionmaker`'s database.

    `settings` may carry (all optional): `login_policy` (auth.LoginPolicy), `timezone`
    (IANA name for the pages, default Asia/Shanghai), `secure_cookies` (force the Secure
    flag behind a TLS-terminating proxy; over https it is set anyway).
    """
    from opscentre.web import api, assist, commands, pages, rollouts
    from opscentre.web.deps import Denied, NeedLogin, render

    app = FastAPI(title="莞家政务 operations centre API", version="1",
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",
                  description="The fleet, terminals, alerts, users, tokens and the audit log. "
                  "Authenticate with `Authorization: Bearer TOKEN` (`kiosk-ops token create "
                  "NAME`). Roles: viewer reads, operator also acknowledges, admin also "
                  "manages users and tokens.")
    tz = ZoneInfo(getattr(settings, "timezone", None) or "Asia/Shanghai")
    app.state.sessionmaker = sessionmaker
    app.state.settings = settings
    app.state.policy = getattr(settings, "login_policy", None) or LoginPolicy()
    app.state.secure_cookies = bool(getattr(settings, "secure_cookies", False))
    app.state.tz = tz
    app.state.templates = _templates(tz)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    commands.register(app)  # remote commands: pages, /api/commands (issue 16)
    rollouts.register(app)  # guarded package rollouts: pages, /api/rollouts (issue 16)
    assist.register(app)  # remote help: sockets, agent page, /api/assist (issue 19)

    @app.exception_handler(NeedLogin)
    def need_login(request: Request, exc: NeedLogin) -> Response:
        if not _wants_html(request):
            return JSONResponse({"detail": "auth.required"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        if request.method != "GET":
            return RedirectResponse("/login", status_code=303)
        target = request.url.path + ("?" + request.url.query if request.url.query else "")
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(Denied)
    def denied(request: Request, exc: Denied) -> Response:
        if not _wants_html(request):
            return JSONResponse({"detail": exc.key}, status_code=403)
        return render(request, "error.html", status_code=403, error=exc.key)

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")}
                    for e in exc.errors()]
        if not _wants_html(request):
            return JSONResponse({"detail": problems}, status_code=422)
        text = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}"
                         for e in problems)
        return render(request, "error.html", status_code=400,
                      error="error.bad_request", error_detail=text)

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException) -> Response:
        if not _wants_html(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                                headers=exc.headers)
        key = "error.not_found" if exc.status_code == 404 else str(exc.detail)
        return render(request, "error.html", status_code=exc.status_code,
                      error=key)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        resp: Response = await call_next(request)
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        if not request.url.path.startswith("/static/"):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    return app
