"""Helpers of the console tests: the console on a real SQLite database (migrated by
Alembic) with three users, signing in through the real login form, terminal and alert rows
in the centre's own tables. The fixtures are in conftest.py."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from opscentre.models import Alert, Terminal

PASSWORDS = {"ada": "admin-pass-1234", "otto": "operator-pass-1234", "vera": "viewer-pass-1234"}
ROLES = {"ada": "admin", "otto": "operator", "vera": "viewer"}
CSRF = re.compile(r'name="csrf" value="([^"]*)"')


@dataclass
class Console:
    app: Any
    db: sessionmaker[Session]
    path: Path

    def client(self, **kw: Any) -> TestClient:
        return TestClient(self.app, **kw)


def form_csrf(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF field in the page"
    return m.group(1)


def login(client: TestClient, name: str, password: str | None = None) -> Any:
    """Sign in through the login form; returns the POST's response (303 on success)."""
    page = client.get("/login")
    return client.post("/login", data={"name": name, "password": password or PASSWORDS[name],
                                       "csrf": form_csrf(page.text), "next": "/fleet"},
                       follow_redirects=False)


def signed_in(console: Console, name: str) -> TestClient:
    c = console.client()
    r = login(c, name)
    assert r.status_code == 303, r.text
    return c


def page_csrf(client: TestClient, path: str = "/fleet") -> str:
    return form_csrf(client.get(path).text)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def add_terminal(s: Session, tid: str, **kw: Any) -> Terminal:
    fields: dict[str, Any] = {
        "online": True, "site": "东城服务中心", "last_seen": now(), "state_at": now(),
        "app_version": "1.4.0", "packages": {"active": ["builtin@2026.11.1"]},
        "devices": {"receipt": {"state": "online", "details": [], "fault": False,
                                "fitted": True}},
        "consumables": {}, "faults": [], "fault_count": 0, "paper": "ok", "outbox_depth": 0,
        "disk": {}, "offline_reason": "", "session": "s1", "health_interval_s": 60.0,
        "package_problem": "", "maintenance": False,
    }
    fields.update(kw)
    t = Terminal(id=tid, **fields)
    s.add(t)
    return t


def add_alert(s: Session, tid: str, rule: str = "offline", state: str = "open",
              **kw: Any) -> Alert:
    s.flush()  # the terminal first: no relationship tells the unit of work the order
    a = Alert(rule=rule, terminal_id=tid, subject=kw.pop("subject", ""), state=state,
              severity=kw.pop("severity", "warning"), message=kw.pop("message", f"{rule} {tid}"),
              detail={}, opened_at=kw.pop("opened_at", now()), flaps=0, **kw)
    s.add(a)
    s.flush()
    return a
