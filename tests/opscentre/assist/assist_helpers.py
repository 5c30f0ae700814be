"""Helpers of the remote-help tests: the console served by uvicorn on 127.0.0.1 with the
hub on, terminals' credentials in a real Mosquitto password file, agents signed in through
the console's own login, and WebSocket clients that speak the protocol (docs/assist.md)."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
import websocket  # websocket-client: a plain client, as a terminal or a script would be
from sqlalchemy.orm import Session, sessionmaker

from opscentre.assist.hub import Hub

WAIT_S = 5.0  # bounds a hang; nothing is timed
PASSWORDS = {"amy": "agent-pass-1234", "abe": "agent2-pass-1234", "otto": "operator-pass-1234",
             "vera": "viewer-pass-1234"}
ROLES = {"amy": "agent", "abe": "agent", "otto": "operator", "vera": "viewer"}
TERMINALS = {"DG-T-0001": "term-one-secret", "DG-T-0002": "term-two-secret",
             "DG-T-0003": "term-three-secret"}
TURN_SECRET = "turn-shared-secret-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """A uvicorn server on a free port, in a thread, for as long as the fixture lives."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, name="console", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + WAIT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the console did not start")
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def hub(self) -> Hub:
        hub: Hub = self.app.state.assist
        return hub

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(WAIT_S)


@dataclass
class Closed:
    code: int


class Client:
    """One WebSocket as a terminal or an agent: JSON frames in and out, the close code."""

    def __init__(self, url: str, **kw: Any) -> None:
        self.sock = websocket.create_connection(url, timeout=WAIT_S, **kw)

    def send(self, msg: Any) -> None:
        self.sock.send(msg if isinstance(msg, str) else json.dumps(msg))

    def recv(self) -> dict[str, Any] | Closed:
        """The next message, or Closed(code) once the centre closed the socket."""
        opcode, data = self.sock.recv_data(control_frame=True)
        while opcode in (websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_PONG):
            opcode, data = self.sock.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
            return Closed(code)
        value: dict[str, Any] = json.loads(data)
        return value

    def expect(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Skip `queue` snapshots (they come on every change) until a `kind` message."""
        while True:
            msg = self.recv()
            assert not isinstance(msg, Closed), f"closed ({msg.code}) waiting for {kind}"
            if msg["type"] == "queue" and kind != "queue":
                continue
            assert msg["type"] == kind, msg
            for k, v in fields.items():
                assert msg.get(k) == v, (k, msg)
            return msg

    def expect_queue(self, cond: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while True:
            msg = self.expect("queue")
            if cond(msg):
                return msg

    def closed(self) -> int:
        """Read until the close frame; its code."""
        while True:
            msg = self.recv()
            if isinstance(msg, Closed):
                return msg.code

    def close(self) -> None:
        self.sock.close()


def basic(terminal: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{terminal}:{password}".encode()).decode()


def terminal(served: Served, tid: str = "DG-T-0001", password: str | None = None) -> Client:
    pw = TERMINALS[tid] if password is None else password
    return Client(f"{served.ws}/assist/terminal", header=[f"Authorization: {basic(tid, pw)}"])


def call_msg(cid: str | None = None, **kw: Any) -> dict[str, Any]:
    return {"type": "call", "call": cid or str(uuid.uuid4()),
            "service": "social_security_certificate", "service_title": "社保缴费证明",
            "lang": "zh_CN", **kw}


def sign_in(sessions: sessionmaker[Session], name: str) -> tuple[str, str]:
    """(session cookie, csrf token) of `name`, through the console's login."""
    from opscentre import auth

    with sessions() as db:
        who, raw = auth.login(db, name, PASSWORDS[name], "127.0.0.1")
    return raw, who.csrf


def agent(served: Served, sessions: sessionmaker[Session], name: str, *,
          on_duty: bool = True) -> Client:
    cookie, csrf = sign_in(sessions, name)
    c = Client(f"{served.ws}/assist/agent", cookie=f"kops_session={cookie}",
               origin=served.url)
    c.send({"type": "hello", "csrf": csrf})
    c.expect("queue")
    if on_duty:
        c.send({"type": "status", "state": "available"})
        c.expect_queue(lambda q: any(a["name"] and a["state"] == "available"
                                     for a in q["agents"]))
    return c


def password_file(path: Path) -> Path:
    from opscentre.broker import hash_password

    path.write_text("".join(f"{t}:{hash_password(p)}\n" for t, p in TERMINALS.items())
                    + "opscentre:" + hash_password("centre-pass") + "\n")
    return path


def browser(served: Served, name: str, password: str = "") -> Any:
    """An HTTP client signed in through the console's login form (httpx, cookies kept)."""
    import re

    import httpx

    c = httpx.Client(base_url=served.url, timeout=WAIT_S)
    page = c.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]*)"', page.text)
    assert csrf, "no CSRF field on the login page"
    r = c.post("/login", data={"name": name, "password": password or PASSWORDS[name],
                               "csrf": csrf.group(1), "next": "/fleet"})
    assert r.status_code in (200, 303), r.text
    return c


def users(sessions: sessionmaker[Session]) -> None:
    """The test's console accounts: two agents, an operator, a viewer."""
    from opscentre import auth

    with sessions() as s:
        for name, role in ROLES.items():
            auth.add_user(s, name, role, PASSWORDS[name], by="test")
