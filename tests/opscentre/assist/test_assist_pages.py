"""The agent's page and the call records in the console (roles, words, the CSP), the
records' API and `kiosk-ops assist calls`."""

from __future__ import annotations

import json
import re
import uuid
from types import SimpleNamespace

import pytest
from assist_helpers import agent, browser, call_msg, terminal

from opscentre.cli import main


@pytest.fixture(scope="module")
def one_call(centre: SimpleNamespace) -> str:
    """One call answered by amy and ended as resolved (a record to show)."""
    a = agent(centre.served, centre.sessions, "amy")
    t = terminal(centre.served, "DG-T-0002")
    cid = str(uuid.uuid4())
    t.send(call_msg(cid))
    t.expect("queued")
    a.send({"type": "take", "call": cid})
    t.expect("answered")
    a.send({"type": "end", "call": cid, "outcome": "resolved"})
    t.expect("ended")
    a.close()
    t.close()
    centre.served.hub.records.flush()
    return cid


def test_agent_page_by_role(centre: SimpleNamespace) -> None:
    amy = browser(centre.served, "amy")
    page = amy.get("/assist")
    assert page.status_code == 200
    assert 'src="/static/assist.js"' in page.text and 'id="on-duty"' in page.text
    assert re.search(r'name="csrf" id="assist-csrf" value="[^"]+"', page.text)
    assert "远程帮办" in page.text and 'id="nav-assist"' in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    words = json.loads(re.search(r'id="assist-words">(.*?)</script>', page.text,
                                 re.DOTALL).group(1))  # type: ignore[union-attr]
    assert words["assist.lock.consent"] == "同意须由市民本人确认"
    amy.cookies.set("kops_lang", "en")
    assert "Remote help" in amy.get("/assist").text
    vera = browser(centre.served, "vera")
    assert vera.get("/assist").status_code == 403
    assert 'id="nav-assist"' not in vera.get("/fleet").text
    assert vera.get("/api/assist/calls").status_code == 403
    otto = browser(centre.served, "otto")
    assert otto.get("/assist").status_code == 200


def test_records_page_api_and_cli(centre: SimpleNamespace, one_call: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    amy = browser(centre.served, "amy")
    api = amy.get("/api/assist/calls").json()["calls"]
    mine = next(c for c in api if c["id"] == one_call)
    assert (mine["terminal"], mine["outcome"], mine["agents"]) == ("DG-T-0002", "resolved",
                                                                    ["amy"])
    assert mine["talk_s"] is not None and mine["waited_s"] is not None
    page = amy.get("/assist/calls", params={"terminal": "DG-T-0002"})
    assert f'data-call="{one_call}"' in page.text and "已解决" in page.text
    assert amy.get("/assist/calls", params={"terminal": "DG-NONE"}).text.count(
        "data-call=") == 0
    db = str(centre.root / "centre.db")
    assert main(["assist", "calls", "--json", "--db", db, "--terminal", "DG-T-0002"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in out["calls"]] == [one_call]
    assert main(["assist", "calls", "--db", db]) == 0
    text = capsys.readouterr().out
    assert "DG-T-0002" in text and "resolved" in text and "amy" in text


def test_admin_sees_and_sets_the_agent_role(centre: SimpleNamespace) -> None:
    from opscentre import auth

    with centre.sessions() as db:
        auth.add_user(db, "ada", "admin", "admin-pass-1234", by="test")
    ada = browser(centre.served, "ada", "admin-pass-1234")
    page = ada.get("/admin").text
    amy_row = page[page.index('action="/admin/users/amy"'):][:600]
    assert 'value="agent" selected' in amy_row  # not shown as a viewer
    assert "帮办坐席" in amy_row
