"""Remote commands in the console (FastAPI's TestClient on the console app, over the
centre's real database; commands go out on the real broker to simulated terminals and come
back through the real ingest): the terminal page's buttons, roles, CSRF, the commands list
and one command with its screenshot and audit entry, bulk commands with a confirmed count,
`/api/commands`."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from opscentre import auth
from opscentre.db import make_engine, make_sessionmaker
from opscentre.models import Command, Terminal
from opscentre.web import create_app
from opscentre.web.models import AuditEntry

PASSWORDS = {"ada": "admin-pass-1234", "otto": "operator-pass-1234", "vera": "viewer-pass-1234"}
ROLES = {"ada": "admin", "otto": "operator", "vera": "viewer"}
CSRF = re.compile(r'name="csrf" value="([^"]*)"')
MESSAGE = {"msg_zh_cn": "暂停服务", "msg_zh_hk": "暫停服務", "msg_en": "Out of service"}


@dataclass
class Console:
    app: Any
    rig: Any
    terminals: list[str]
    tokens: dict[str, str]
    prefix: str

    def signed_in(self, name: str) -> TestClient:
        c = TestClient(self.app)
        page = c.get("/login")
        r = c.post("/login", data={"name": name, "password": PASSWORDS[name],
                                   "csrf": _csrf(page.text), "next": "/fleet"},
                   follow_redirects=False)
        assert r.status_code == 303, r.text
        return c

    def bearer(self, name: str) -> TestClient:
        return TestClient(self.app, headers={"Authorization": f"Bearer {self.tokens[name]}"})

    def count(self, **where: Any) -> int:
        with self.rig.sessions() as db:
            q = select(func.count()).select_from(Command)
            for k, v in where.items():
                q = q.where(getattr(Command, k) == v)
            return int(db.scalar(q) or 0)


def _csrf(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF field on the page"
    return m.group(1)


@pytest.fixture
def console(centre: Any, sim_fleet: Any) -> Iterator[Console]:
    # the session's broker keeps other tests' terminals' retained states: a prefix of ours
    prefix = f"C{secrets.token_hex(3).upper()}-"
    fleet = sim_fleet(3, [centre.key.private.public_key()],
                      ids=[f"{prefix}{n}" for n in range(3)])
    terminals = sorted(fleet.links)
    tokens = {}
    with centre.sessions() as db:
        for user, role in ROLES.items():
            auth.add_user(db, user, role, PASSWORDS[user], by="test")
            tokens[user] = auth.create_token(db, f"{user}-script", role, by="test")
    deadline = time.monotonic() + 30
    while True:  # the terminals' online states went through the ingest
        with centre.sessions() as db:
            known = db.scalar(select(func.count()).select_from(Terminal)
                              .where(Terminal.id.in_(terminals), Terminal.online.is_(True)))
        if known == len(terminals):
            break
        assert time.monotonic() < deadline, "the simulated terminals never showed online"
        time.sleep(0.05)
    reader = make_engine(centre.url)  # the console reads through its own pool, as serve does
    app = create_app(make_sessionmaker(reader))
    app.state.commands = centre.service
    yield Console(app, centre, terminals, tokens, prefix)
    reader.dispose()


def _final(console: Console, client: TestClient, cid: str, attachment: bool = False
           ) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        row: dict[str, Any] = client.get(f"/api/commands/{cid}").json()
        if row["final"] and (not attachment or (row["attachment"] or {}).get("complete")):
            return row
        assert time.monotonic() < deadline, f"command {cid} stayed {row['state']}"
        time.sleep(0.05)


def test_operators_get_the_buttons_viewers_only_read(console: Console) -> None:
    t = console.terminals[0]
    page = console.signed_in("otto").get(f"/terminals/{t}").text
    for action in ("screenshot", "selftest", "print_test", "logs", "restart", "out_of_service",
                   "in_service", "poll_packages", "set_volume", "screen_schedule"):
        assert f'id="cmd-{action}"' in page, action
    assert 'name="msg_zh_hk"' in page and 'name="level"' in page and 'name="printer"' in page
    assert 'data-confirm=' in page  # restart and out of service ask first
    viewer = console.signed_in("vera").get(f"/terminals/{t}").text
    assert 'id="cmd-' not in viewer and 'id="viewer-only"' in viewer
    assert 'id="terminal-commands"' in viewer  # but the commands are listed for them too


def test_an_operator_sends_a_command_from_the_terminal_page(console: Console) -> None:
    t = console.terminals[0]
    otto = console.signed_in("otto")
    token = _csrf(otto.get(f"/terminals/{t}").text)
    r = otto.post(f"/terminals/{t}/commands", data={"csrf": token, "action": "set_volume",
                                                     "level": "35"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/commands/")
    cid = r.headers["location"].rsplit("/", 1)[1]
    row = _final(console, otto, cid)
    assert (row["state"], row["result"], row["operator"]) == ("done", {"volume": 35}, "otto")
    assert row["audit"]["actor"] == "otto" and row["audit"]["action"] == "command_issued"
    page = otto.get(f"/commands/{cid}")
    assert 'data-state="done"' in page.text and 'id="audit-entry"' in page.text
    live = otto.get(f"/commands/{cid}/live")
    assert live.headers["X-Open"] == "0"
    # the terminal page lists it, the list's rows say nothing is open any more
    assert f'data-command="{cid}"' in otto.get(f"/terminals/{t}").text
    rows = otto.get(f"/commands/rows?terminal={t}&panel=1")
    assert rows.headers["X-Open"] == "0" and f'data-command="{cid}"' in rows.text
    # its answers are shown with it, not among the terminal's device events and timeline
    detail = otto.get(f"/api/terminals/{t}").json()
    timeline = otto.get(f"/api/terminals/{t}/timeline?days=1").json()
    assert not [e for e in detail["events"] + timeline["events"] if e["topic"] == "results"]


def test_out_of_service_with_its_message_in_three_languages(console: Console) -> None:
    t = console.terminals[1]
    otto = console.signed_in("otto")
    token = _csrf(otto.get(f"/terminals/{t}").text)
    r = otto.post(f"/terminals/{t}/commands", data={"csrf": token, "action": "out_of_service",
                                                     **MESSAGE}, follow_redirects=False)
    cid = r.headers["location"].rsplit("/", 1)[1]
    row = _final(console, otto, cid)
    assert row["args"] == {"message": {"zh_CN": "暂停服务", "zh_HK": "暫停服務",
                                       "en": "Out of service"}}
    assert row["result"] == {"out_of_service": True}
    back = otto.post(f"/terminals/{t}/commands", data={"csrf": token, "action": "in_service"},
                     follow_redirects=False)
    assert _final(console, otto, back.headers["location"].rsplit("/", 1)[1])["result"] == {
        "out_of_service": False, "was_out_of_service": True}
    # a message missing a language is refused before anything is sent
    bad = otto.post(f"/terminals/{t}/commands", data={"csrf": token, "action": "out_of_service",
                                                       "msg_zh_cn": "暂停服务"})
    assert bad.status_code == 400 and "message" in bad.text
    assert console.count(terminal_id=t) == 2


def test_forms_need_the_session_csrf_token_and_the_operator_role(console: Console) -> None:
    t = console.terminals[0]
    otto = console.signed_in("otto")
    for data in ({"action": "restart"}, {"action": "restart", "csrf": "forged"}):
        r = otto.post(f"/terminals/{t}/commands", data=data)
        assert r.status_code in (403, 400)
    vera = console.signed_in("vera")
    token = _csrf(vera.get("/fleet").text)
    r = vera.post(f"/terminals/{t}/commands", data={"csrf": token, "action": "restart"})
    assert r.status_code == 403
    assert vera.get("/commands/bulk").status_code == 403
    assert console.count() == 0
    with console.rig.sessions() as db:
        denied = db.scalars(select(AuditEntry.target).where(
            AuditEntry.action == "access_denied", AuditEntry.actor == "vera")).all()
    assert f"/terminals/{t}/commands" in denied


def test_the_api_issues_lists_and_shows_commands(console: Console) -> None:
    t = console.terminals[2]
    api = console.bearer("otto")
    r = api.post("/api/commands", json={"terminal": t, "action": "screenshot"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["terminal_online"] is True and created["operator"] == "token:otto-script"
    row = _final(console, api, created["id"], attachment=True)
    assert row["state"] == "done" and row["attachment"]["media_type"] == "image/png"
    img = api.get(row["attachment"]["url"])
    assert img.status_code == 200 and img.headers["content-type"] == "image/png"
    assert img.content[:8] == b"\x89PNG\r\n\x1a\n" and len(img.content) == row["attachment"]["size"]
    assert "inline" in img.headers["content-disposition"]
    listed = api.get("/api/commands", params={"terminal": t})
    assert [c["id"] for c in listed.json()] == [created["id"]]
    assert listed.headers["X-Total-Count"] == "1"
    # a viewer reads, never writes; nobody without a token or session reads
    viewer = console.bearer("vera")
    assert viewer.get(f"/api/commands/{created['id']}").status_code == 200
    assert viewer.post("/api/commands", json={"terminal": t, "action": "restart"}
                       ).status_code == 403
    assert TestClient(console.app).get("/api/commands").status_code == 401
    # a browser session writes only with its CSRF header
    otto = console.signed_in("otto")
    assert otto.post("/api/commands", json={"terminal": t, "action": "logs"}).status_code == 403
    token = _csrf(otto.get("/fleet").text)
    r = otto.post("/api/commands", json={"terminal": t, "action": "logs"},
                  headers={"X-CSRF-Token": token})
    assert r.status_code == 201
    logs = _final(console, otto, r.json()["id"], attachment=True)
    z = otto.get(f"/commands/{logs['id']}/attachment")
    assert z.headers["content-type"] == "application/octet-stream"
    assert z.headers["content-disposition"].startswith("attachment;")
    page = otto.get(f"/commands/{created['id']}").text
    assert 'id="screenshot"' in page and f'src="/commands/{created["id"]}/attachment"' in page


def test_bad_arguments_are_refused_with_the_reason(console: Console) -> None:
    api = console.bearer("ada")  # admins may do everything operators do
    t = console.terminals[0]
    r = api.post("/api/commands", json={"terminal": t, "action": "set_volume",
                                        "args": {"level": 300}})
    assert r.status_code == 400 and r.json()["detail"]["key"] == "command.bad_args"
    r = api.post("/api/commands", json={"terminal": t, "action": "self_destruct"})
    assert r.status_code == 422
    r = api.post("/api/commands", json={"terminal": "no/such", "action": "restart"})
    assert r.status_code == 400 and r.json()["detail"]["key"] == "command.bad_terminal"
    assert console.count() == 0


def test_bulk_commands_need_the_count_confirmed(console: Console) -> None:
    api = console.bearer("otto")
    body = {"filter": {"q": console.prefix}, "action": "poll_packages"}
    r = api.post("/api/commands", json=body)
    assert r.status_code == 409 and r.json()["terminals"] == 3
    assert sorted(r.json()["ids"]) == console.terminals
    assert api.post("/api/commands", json={**body, "confirm": 2}).status_code == 409
    assert console.count() == 0
    r = api.post("/api/commands", json={**body, "confirm": 3})
    assert r.status_code == 201
    batch = r.json()["batch"]
    ids = [c["id"] for c in r.json()["commands"]]
    assert len(ids) == 3 and batch
    for cid in ids:
        assert _final(console, api, cid)["state"] == "done"
    with console.rig.sessions() as db:
        acts = db.scalars(select(AuditEntry.action).where(
            AuditEntry.actor == "token:otto-script")).all()
    assert acts.count("command_issued") == 3 and acts.count("command_bulk") == 1
    listed = api.get("/api/commands", params={"batch": batch}).json()
    assert sorted(c["terminal"] for c in listed) == console.terminals


def test_bulk_from_the_console_previews_then_sends(console: Console) -> None:
    otto = console.signed_in("otto")
    token = _csrf(otto.get("/commands/bulk").text)
    form = {"csrf": token, "q": console.terminals[0], "action": "selftest", "device": "a4"}
    preview = otto.post("/commands/bulk", data=form)
    assert preview.status_code == 200 and 'id="bulk-confirm"' in preview.text
    assert console.count() == 0
    assert 'name="confirm" value="1"' in preview.text
    assert '<option value="a4" selected>' in preview.text  # the choice kept for sending
    r = otto.post("/commands/bulk", data={**form, "confirm": "1"}, follow_redirects=False)
    assert r.status_code == 303
    [cmd] = otto.get("/api/commands").json()
    assert cmd["args"] == {"device": "a4"} and cmd["terminal"] == console.terminals[0]
    # the fleet changed since the preview: shown again, nothing sent
    stale = otto.post("/commands/bulk", data={**form, "q": console.prefix, "confirm": "1"})
    assert stale.status_code == 409 and 'id="bulk-error"' in stale.text
    assert console.count() == 1


def test_without_a_signing_key_nothing_is_sent_and_the_page_says_why(
        console: Console) -> None:
    console.app.state.commands = None
    otto = console.signed_in("otto")
    t = console.terminals[0]
    page = otto.get(f"/terminals/{t}").text
    assert 'id="commands-unavailable"' in page
    token = _csrf(page)
    r = otto.post(f"/terminals/{t}/commands", data={"csrf": token, "action": "restart"})
    assert r.status_code == 503
    assert console.count() == 0
