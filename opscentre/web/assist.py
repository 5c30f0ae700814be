"""Remote help in the console (issue 19, docs/assist.md): the terminals' and the agents'
WebSockets, the agent's page `/assist`, the call records `/assist/calls` and
`/api/assist/calls`.

Terminals log in with their fleet-channel credentials (HTTP Basic, checked against the
broker's Mosquitto password file); agents with their console session, proven by the page's
CSRF token in the first frame (a cookie alone is sent by any page the browser visits).
The hub (`opscentre.assist.hub.Hub`) is `app.state.assist`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, WebSocket
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from opscentre import auth
from opscentre.assist.hub import Hub
from opscentre.assist.records import Records, recent
from opscentre.auth import Principal
from opscentre.broker import check_password
from opscentre.settings import AssistSettings
from opscentre.web import i18n
from opscentre.web.deps import SESSION_COOKIE, db_session, language, render, require
from opscentre.web.models import User

log = logging.getLogger(__name__)
MAX_FRAME = 256 * 1024
ROLE = "agent"  # and everyone above it (operator, admin)
SESSION_CHECK_S = 60.0  # an agent's socket looks at its session this often

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["assist"])
sockets = APIRouter()
Db = Annotated[Session, Depends(db_session)]
AgentUser = Annotated[Principal, Depends(require(ROLE))]


class SocketPeer:
    """A socket's sending side for the hub: queued on the socket's own loop, in order."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[dict[str, Any] | int] = asyncio.Queue()

    def _put(self, item: dict[str, Any] | int) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: so is the socket
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    def send(self, message: dict[str, Any]) -> None:
        self._put(message)

    def close(self, code: int = 1000) -> None:
        self._put(code)

    async def pump(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                if isinstance(item, int):
                    await self.ws.close(item)
                    return
                await self.ws.send_text(json.dumps(item, ensure_ascii=False))
            except Exception:  # noqa: BLE001 - the other side went: the reader sees it
                return


def parse_frame(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """One frame as a message object, or None when it is malformed (docs/assist.md)."""
    text = event.get("text")
    if not isinstance(text, str) or len(text.encode()) > MAX_FRAME:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


async def _serve(ws: WebSocket, peer: SocketPeer,
                 on_message: Callable[[dict[str, Any]], None]) -> None:
    """Read frames until the socket closes; a malformed one closes it with 1008."""
    pump = asyncio.create_task(peer.pump())
    try:
        while True:
            event = await ws.receive()
            if event["type"] == "websocket.disconnect":
                return
            msg = parse_frame(event)
            if msg is None:
                peer.close(1008)
                await pump
                return
            on_message(msg)
    finally:
        pump.cancel()


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode(
            ).partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep and user else None


def terminal_login(settings: AssistSettings, header: str) -> str | None:
    """The terminal id of a valid `Authorization: Basic` header, else None."""
    creds = _basic(header)
    if creds is None or not settings.terminal_password_file:
        return None
    user, password = creds
    try:
        lines = Path(settings.terminal_password_file).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        log.error("assist: terminal password file: %s", exc.strerror)
        return None
    for line in lines:
        name, sep, entry = line.partition(":")
        if sep and name == user:
            try:
                return user if check_password(password, entry.strip()) else None
            except (ValueError, binascii.Error):
                return None
    return None


@sockets.websocket("/assist/terminal")
async def terminal_socket(ws: WebSocket) -> None:
    hub: Hub = ws.app.state.assist
    await ws.accept()
    terminal = await run_in_threadpool(terminal_login, hub.settings,
                                       ws.headers.get("authorization", ""))
    if terminal is None:
        await ws.close(4401)
        return
    records = hub.records
    site = await run_in_threadpool(records.site_of, terminal) if records else ""
    peer = SocketPeer(ws)
    try:
        await _serve(ws, peer, lambda m: hub.terminal_message(peer, terminal, site, m))
    finally:
        hub.terminal_lost(peer)


def staff_names(number: int) -> dict[str, str]:
    """What citizens are told the agent is called, per language: a staff number, never
    the account name."""
    n = f"{number:03d}"
    return {"zh_CN": f"工作人员 {n}", "zh_HK": f"工作人員 {n}", "en": f"Agent {n}"}


def _agent_of(ws: WebSocket) -> tuple[Principal | None, dict[str, str]]:
    """The signed-in principal of the socket's session and its staff names."""
    with ws.app.state.sessionmaker() as db:
        who = auth.session_principal(db, ws.cookies.get(SESSION_COOKIE, ""),
                                     ws.app.state.policy)
        if who is None:
            return None, {}
        user = db.query(User).filter_by(name=who.name).first()
        return who, staff_names(user.id if user else 0)


def _same_origin(ws: WebSocket) -> bool:
    origin = ws.headers.get("origin")
    if origin is None:
        return True  # not a browser: no cookie of somebody else's riding along
    host = ws.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


@sockets.websocket("/assist/agent")
async def agent_socket(ws: WebSocket) -> None:
    hub: Hub = ws.app.state.assist
    await ws.accept()
    who, names = await run_in_threadpool(_agent_of, ws)
    if who is None:
        await ws.close(4401)
        return
    if not who.can(ROLE) or not _same_origin(ws):
        await ws.close(4403)
        return
    try:
        first = parse_frame(await ws.receive())
    except Exception:  # noqa: BLE001 - gone before saying hello
        return
    if first is None or first.get("type") != "hello" or not auth.csrf_ok(
            who, first.get("csrf") if isinstance(first.get("csrf"), str) else None):
        await ws.close(4403)
        return
    peer = SocketPeer(ws)
    hub.agent_joined(peer, who.name, names["zh_CN"], names)
    watch = asyncio.create_task(_watch_session(ws, peer))
    try:
        await _serve(ws, peer, lambda m: hub.agent_message(peer, who.name, m))
    finally:
        watch.cancel()
        hub.agent_lost(peer, who.name)


async def _watch_session(ws: WebSocket, peer: SocketPeer) -> None:
    """While the socket is open its session is in use (an agent waiting on duty does not
    idle out); once the session ends (signed out, account disabled, its hours up, role
    taken away) the socket closes with 4401 and the agent's calls end."""
    while True:
        await asyncio.sleep(SESSION_CHECK_S)
        who, _ = await run_in_threadpool(_agent_of, ws)
        if who is None or not who.can(ROLE):
            peer.close(4401)
            return


# -- pages and API ----------------------------------------------------------------------------
@pages.get("/assist")
def agent_page(request: Request, who: AgentUser) -> Any:
    words = {k: v for k, v in i18n.strings(language(request)).items()
             if k.startswith("assist.")}
    return render(request, "assist.html", words=words)


@pages.get("/assist/calls")
def calls_page(request: Request, who: AgentUser, db: Db,
               terminal: Annotated[str, Query(max_length=64)] = "") -> Any:
    return render(request, "assist_calls.html", calls=recent(db, 200, terminal), terminal=terminal)


@api.get("/assist/calls")
def calls_api(who: AgentUser, db: Db, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
              terminal: Annotated[str, Query(max_length=64)] = "") -> dict[str, Any]:
    """The newest call records (no media, no screen, no answers: there are none)."""
    return {"calls": recent(db, limit, terminal)}


def register(app: FastAPI) -> None:
    """Add remote help to the console (called by `create_app`)."""
    settings = getattr(app.state.settings, "assist", None) or AssistSettings()
    if not isinstance(getattr(app.state, "assist", None), Hub):
        app.state.assist = Hub(settings, Records(app.state.sessionmaker))
    app.include_router(sockets)
    app.include_router(pages)
    app.include_router(api)
