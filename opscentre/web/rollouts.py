"""The console's rollout pages and `/api/rollouts`: start, watch, halt, resume, roll back.

Viewers read; operators (and admins) act, every action with the session's CSRF token
(forms) or `X-CSRF-Token` (session API writes), audited by `opscentre.rollouts`. The live
page re-fetches its counts every few seconds (`rollouts.js`; without it a reload shows
the same). `attach` gives the app the centre's `Publisher` and, for the embedded stack,
serves the repository folder at `/repo/` (terminals fetch TUF metadata and archives
there; it holds no private key).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from opscentre import auth, rollouts
from opscentre.auth import Principal
from opscentre.rollouts import Publisher, RolloutError, StartSpec
from opscentre.settings import RolloutSettings
from opscentre.web.deps import (
    Denied,
    client_address,
    csrf_header_ok,
    db_session,
    language,
    require,
)
from opscentre.web.deps import render as _render
from opscentre.web.models import AuditEntry
from opscentre.web.rollout_words import words

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["rollouts"])
Db = Annotated[Session, Depends(db_session)]
Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Csrf = Annotated[str, Form(max_length=128)]
LIVE_EVERY_MS = 3000


def register(app: FastAPI) -> None:
    app.include_router(api)
    app.include_router(pages)


def attach(app: FastAPI, publisher: Publisher) -> None:
    """The centre's repository for the pages (and served at /repo/ when configured so)."""
    app.state.rollouts = publisher
    if publisher.settings.serve_repository and publisher.repo_dir is not None:
        publisher.repo_dir.mkdir(parents=True, exist_ok=True)
        app.mount("/repo", StaticFiles(directory=str(publisher.repo_dir)), name="repo")


def publisher_of(request: Request) -> Publisher:
    found = getattr(request.app.state, "rollouts", None)
    return found if isinstance(found, Publisher) else Publisher(RolloutSettings())


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Any:
    return _render(request, name, status_code=status_code, R=words(language(request)),
                   **context)


def _found(db: Session, rid: int) -> rollouts.Rollout:
    r = db.get(rollouts.Rollout, rid)
    if r is None:
        raise RolloutError("rollout.error.not_found", 404, str(rid))
    return r


def history(db: Session, rid: int) -> list[dict[str, Any]]:
    return [{"id": a.id, "at": a.at.isoformat(), "actor": a.actor, "action": a.action,
             "detail": a.detail}
            for a in db.scalars(select(AuditEntry).where(AuditEntry.target == f"rollout:{rid}")
                                .order_by(AuditEntry.id.desc()).limit(100))]


def candidates(db: Session, publisher: Publisher) -> list[str]:
    """Versions an operator may start: archives in the inbox, targets in the repository;
    not of a package with a live rollout."""
    from kiosk.flows.package import VERSION, version_key

    labels = set(rollouts.inbox_archives(publisher.settings))
    if publisher.configured:
        try:
            labels |= {f"{tf.custom.get('package')}@{tf.custom.get('version')}"
                       for tf in publisher.targets().values()}
        except RolloutError:
            pass
    live = set(db.scalars(select(rollouts.Rollout.package).where(
        rollouts.Rollout.state.in_(rollouts.LIVE))))
    ok = [lb for lb in labels if lb.partition("@")[0] not in live and
          VERSION.match(lb.partition("@")[2])]
    return sorted(ok, key=lambda lb: (lb.partition("@")[0],
                                      [-n for n in version_key(lb.partition("@")[2])]))


def _start_spec(publisher: Publisher, label: str, waves: str | None, soak_s: float | None,
                thresholds: dict[str, float | None]) -> StartSpec:
    archive = rollouts.inbox_archives(publisher.settings).get(label)
    try:
        return StartSpec.parse(label, publisher.settings, waves=waves, soak_s=soak_s,
                               archive=archive,
                               thresholds={k: v for k, v in thresholds.items() if v is not None})
    except ValueError as exc:
        raise RolloutError("rollout.error.bad_request", 400, str(exc)) from None


# -- pages --------------------------------------------------------------------------------------
@pages.get("/rollouts")
def rollout_list(request: Request, db: Db, who: Viewer, error: str | None = None) -> Any:
    publisher = publisher_of(request)
    return render(request, "rollouts.html", rows=rollouts.listing(db),
                  choices=candidates(db, publisher) if who.can("operator") else [],
                  settings=publisher.settings, configured=publisher.configured,
                  error=None, detail=None)


@pages.post("/rollouts")
def rollout_start(request: Request, db: Db, who: Operator, csrf: Csrf,
                  package: Annotated[str, Form(max_length=140)],
                  waves: Annotated[str, Form(max_length=100)] = "",
                  soak_minutes: Annotated[float | None, Form(ge=0, le=7 * 24 * 60)] = None,
                  max_rejected: Annotated[float | None, Form(ge=0, le=1)] = None,
                  max_rolled_back: Annotated[float | None, Form(ge=0, le=1)] = None,
                  max_error_screens: Annotated[float | None, Form(ge=0, le=1)] = None,
                  min_sessions: Annotated[int | None, Form(ge=1, le=1_000_000)] = None) -> Any:
    if not auth.csrf_ok(who, csrf):
        raise Denied("error.csrf")
    publisher = publisher_of(request)
    try:
        spec = _start_spec(publisher, package, waves or None,
                           None if soak_minutes is None else soak_minutes * 60,
                           {"rejected": max_rejected, "rolled_back": max_rolled_back,
                            "error_screens": max_error_screens,
                            "min_sessions": None if min_sessions is None
                            else float(min_sessions)})
        r = rollouts.start(db, publisher, spec, who.actor, client_address(request))
    except RolloutError as exc:
        db.rollback()
        return render(request, "rollouts.html", status_code=exc.status,
                      rows=rollouts.listing(db), choices=candidates(db, publisher),
                      settings=publisher.settings, configured=publisher.configured,
                      error=exc.key, detail=exc.detail)
    return RedirectResponse(f"/rollouts/{r.id}", status_code=303)


@pages.get("/rollouts/{rid}")
def rollout_page(request: Request, rid: int, db: Db, who: Viewer) -> Any:
    try:
        r = _found(db, rid)
    except RolloutError:
        return render(request, "error.html", status_code=404, error="error.not_found")
    return render(request, "rollout.html", r=rollouts.describe(db, r), audit=history(db, rid),
                  every=LIVE_EVERY_MS, repository=publisher_of(request).settings.repository_url,
                  error=request.query_params.get("error"),
                  detail=request.query_params.get("detail"))


@pages.get("/rollouts/{rid}/live")
def rollout_live(request: Request, rid: int, db: Db, who: Viewer) -> Any:
    try:
        r = _found(db, rid)
    except RolloutError:
        return Response(status_code=404)
    resp = render(request, "rollout_live.html", r=rollouts.describe(db, r))
    resp.headers["X-Open"] = "1" if r.state in rollouts.LIVE else "0"
    return resp


def _act(request: Request, db: Session, who: Principal, csrf: str, rid: int, fn: Any,
         **kw: Any) -> Any:
    if not auth.csrf_ok(who, csrf):
        raise Denied("error.csrf")
    try:
        fn(db, publisher_of(request), rid, who.actor, client_address(request), **kw)
    except RolloutError as exc:
        db.rollback()
        from urllib.parse import urlencode

        query = urlencode({"error": exc.key, "detail": exc.detail[:300]})
        return RedirectResponse(f"/rollouts/{rid}?{query}", status_code=303)
    return RedirectResponse(f"/rollouts/{rid}", status_code=303)


@pages.post("/rollouts/{rid}/halt")
def halt_page(request: Request, rid: int, db: Db, who: Operator, csrf: Csrf,
              note: Annotated[str, Form(max_length=500)] = "") -> Any:
    return _act(request, db, who, csrf, rid, rollouts.halt, note=note)


@pages.post("/rollouts/{rid}/resume")
def resume_page(request: Request, rid: int, db: Db, who: Operator, csrf: Csrf) -> Any:
    return _act(request, db, who, csrf, rid, rollouts.resume)


@pages.post("/rollouts/{rid}/rollback")
def rollback_page(request: Request, rid: int, db: Db, who: Operator, csrf: Csrf) -> Any:
    return _act(request, db, who, csrf, rid, rollouts.roll_back)


# -- API ----------------------------------------------------------------------------------------
class NewRollout(BaseModel):
    package: str = Field(max_length=140, description="ID@VERSION (in the repository or the "
                         "inbox)")
    waves: str | None = Field(default=None, max_length=100, description="0,5,25,100")
    soak_s: float | None = Field(default=None, ge=0, le=7 * 86400)
    max_rejected: float | None = Field(default=None, ge=0, le=1)
    max_rolled_back: float | None = Field(default=None, ge=0, le=1)
    max_error_screens: float | None = Field(default=None, ge=0, le=1)
    min_sessions: int | None = Field(default=None, ge=1)


class HaltBody(BaseModel):
    note: str = Field(default="", max_length=500)


def _refuse(exc: RolloutError) -> HTTPException:
    return HTTPException(exc.status, detail={"key": exc.key, "detail": exc.detail})


def _api_act(request: Request, db: Session, who: Principal, rid: int, fn: Any,
             **kw: Any) -> dict[str, Any]:
    if not csrf_header_ok(request, who):
        raise HTTPException(403, detail="error.csrf")
    try:
        r = fn(db, publisher_of(request), rid, who.actor, client_address(request), **kw)
    except RolloutError as exc:
        db.rollback()
        raise _refuse(exc) from None
    return rollouts.describe(db, r)


@api.get("/rollouts", summary="Rollouts, newest first")
def api_list(db: Db, who: Viewer) -> list[dict[str, Any]]:
    return rollouts.listing(db)


@api.get("/rollouts/{rid}", summary="One rollout: waves with live counts and rates, the "
         "terminals that failed it, its history")
def api_one(rid: int, db: Db, who: Viewer) -> dict[str, Any]:
    try:
        r = _found(db, rid)
    except RolloutError as exc:
        raise _refuse(exc) from None
    return {**rollouts.describe(db, r), "history": history(db, rid)}


@api.post("/rollouts", status_code=201, summary="Start a rollout (operator)")
def api_start(body: NewRollout, request: Request, db: Db, who: Operator) -> dict[str, Any]:
    if not csrf_header_ok(request, who):
        raise HTTPException(403, detail="error.csrf")
    publisher = publisher_of(request)
    try:
        spec = _start_spec(publisher, body.package, body.waves, body.soak_s,
                           {"rejected": body.max_rejected, "rolled_back": body.max_rolled_back,
                            "error_screens": body.max_error_screens,
                            "min_sessions": None if body.min_sessions is None
                            else float(body.min_sessions)})
        r = rollouts.start(db, publisher, spec, who.actor, client_address(request))
    except RolloutError as exc:
        db.rollback()
        raise _refuse(exc) from None
    return rollouts.describe(db, r)


@api.post("/rollouts/{rid}/halt", summary="Halt: the version stays at its wave (operator)")
def api_halt(rid: int, request: Request, db: Db, who: Operator,
             body: HaltBody | None = None) -> dict[str, Any]:
    return _api_act(request, db, who, rid, rollouts.halt, note=(body or HaltBody()).note)


@api.post("/rollouts/{rid}/resume", summary="Resume a halted rollout (operator)")
def api_resume(rid: int, request: Request, db: Db, who: Operator) -> dict[str, Any]:
    return _api_act(request, db, who, rid, rollouts.resume)


@api.post("/rollouts/{rid}/rollback", summary="Roll back to the previous version (operator)")
def api_rollback(rid: int, request: Request, db: Db, who: Operator) -> dict[str, Any]:
    return _api_act(request, db, who, rid, rollouts.roll_back)
