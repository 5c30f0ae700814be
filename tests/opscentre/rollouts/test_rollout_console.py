"""The rollout pages and /api/rollouts through the console app (FastAPI's TestClient):
roles, CSRF, start from the inbox, halt / resume / roll back, the live fragment, the
history, and the repository served at /repo/ for the embedded stack."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from opscentre import auth, rollouts
from opscentre.web.models import AuditEntry


@pytest.fixture
def console(make_console: Any, ops_repo: Any) -> Any:
    ops_repo.publish("dg-extra", "1.0.0")
    ops_repo.build("dg-extra", "1.1.0")
    return make_console(serve_repository=True)


def csrf(client: Any, path: str) -> str:
    m = re.search(r'name="csrf" value="([^"]*)"', client.get(path).text)
    assert m
    return m.group(1)


def test_an_operator_starts_halts_resumes_and_rolls_back(console: Any) -> None:
    otto = console.signed_in("otto")
    page = otto.get("/rollouts")
    assert page.status_code == 200 and 'id="start-form"' in page.text
    assert "<option>dg-extra@1.1.0</option>" in page.text  # from the inbox
    token = csrf(otto, "/rollouts")
    assert otto.post("/rollouts", data={"package": "dg-extra@1.1.0"}).status_code == 400
    assert otto.post("/rollouts", data={"package": "dg-extra@1.1.0", "csrf": "x"}
                     ).status_code == 403
    r = otto.post("/rollouts", data={"package": "dg-extra@1.1.0", "csrf": token,
                                     "waves": "0,50,100", "soak_minutes": "0.5",
                                     "max_rolled_back": "0.1"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/rollouts/1"
    with console.sessions() as s:
        started = s.get(rollouts.Rollout, 1)
        assert started is not None and (started.soak_s, started.thresholds["rolled_back"]) == (
            30.0, 0.1)
    page = otto.get("/rollouts/1")
    assert page.status_code == 200
    assert 'data-state="running"' in page.text and 'id="halt"' in page.text
    assert "实验室终端（0 环）" in page.text and 'id="waves"' in page.text
    live = otto.get("/rollouts/1/live")
    assert live.headers["X-Open"] == "1" and live.text.lstrip().startswith("<table")

    token = csrf(otto, "/rollouts/1")
    r = otto.post("/rollouts/1/halt", data={"csrf": token, "note": "wait for the hall"},
                  follow_redirects=False)
    assert r.status_code == 303
    page = otto.get("/rollouts/1")
    assert 'id="halt-reason"' in page.text and "wait for the hall" in page.text
    assert 'id="resume"' in page.text
    # a second halt is refused with the reason on the page, nothing changes
    r = otto.post("/rollouts/1/halt", data={"csrf": token}, follow_redirects=True)
    assert "发布的状态已变化" in r.text
    otto.post("/rollouts/1/resume", data={"csrf": token})
    otto.post("/rollouts/1/rollback", data={"csrf": token})
    page = otto.get("/rollouts/1")
    assert 'data-state="rolled_back"' in page.text and 'id="rollback"' not in page.text
    assert otto.get("/rollouts/1/live").headers["X-Open"] == "0"
    history = [(a, b) for a, b in re.findall(
        r'<tr data-action="([a-z_]+)"><td>[^<]*</td><td>([^<]*)</td>', page.text)]
    assert history == [("rollout_rolled_back", "otto"), ("rollout_resumed", "otto"),
                       ("rollout_halted", "otto"), ("rollout_started", "otto")]
    assert console.publisher.repo.list_targets()  # still a repository
    with console.sessions() as s:
        addresses = set(s.scalars(select(AuditEntry.address).where(
            AuditEntry.action.like("rollout_%"))))
    assert addresses == {"testclient"}


def test_viewers_read_and_are_refused_actions(console: Any) -> None:
    otto = console.signed_in("otto")
    otto.post("/rollouts", data={"package": "dg-extra@1.1.0", "csrf": csrf(otto, "/rollouts")})
    vera = console.signed_in("vera")
    page = vera.get("/rollouts")
    assert page.status_code == 200 and "dg-extra@1.1.0" in page.text
    assert 'id="start-form"' not in page.text
    assert 'id="halt"' not in vera.get("/rollouts/1").text
    token = csrf(vera, "/rollouts")
    assert vera.post("/rollouts/1/halt", data={"csrf": token}).status_code == 403
    assert vera.post("/api/rollouts/1/halt", headers={"X-CSRF-Token": token}
                     ).status_code == 403
    assert vera.get("/api/rollouts/1").json()["state"] == "running"
    assert console.client().get("/api/rollouts").status_code == 401


def test_the_api_with_a_token_and_with_a_session(console: Any) -> None:
    with console.sessions() as s:
        token = auth.create_token(s, "deploy", "operator", by="test")
    api = console.client()
    api.headers["Authorization"] = f"Bearer {token}"
    bad = api.post("/api/rollouts", json={"package": "dg-extra@9.9.9"})
    assert bad.status_code == 404 and bad.json()["detail"]["key"] == "rollout.error.no_target"
    bad = api.post("/api/rollouts", json={"package": "dg-extra@1.1.0", "waves": "5,1"})
    assert bad.status_code == 400 and "grow" in bad.json()["detail"]["detail"]
    r = api.post("/api/rollouts", json={"package": "dg-extra@1.1.0", "waves": "0,100",
                                        "soak_s": 0})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["label"], body["state"], body["previous_version"]) == (
        "dg-extra@1.1.0", "running", "1.0.0")
    assert [w["scope"] for w in body["waves_detail"]] == ["ring 0", "100 %"]
    assert api.post("/api/rollouts/1/resume").status_code == 409
    assert api.post("/api/rollouts/1/halt", json={"note": "n"}).json()["state"] == "halted"
    one = api.get("/api/rollouts/1").json()
    assert [h["action"] for h in one["history"]] == ["rollout_halted", "rollout_started"]
    assert one["history"][0]["actor"] == "token:deploy"
    # a browser session needs the CSRF header for API writes
    otto = console.signed_in("otto")
    assert otto.post("/api/rollouts/1/resume").status_code == 403
    ok = otto.post("/api/rollouts/1/resume", headers={"X-CSRF-Token": csrf(otto, "/rollouts")})
    assert ok.status_code == 200 and ok.json()["state"] == "running"
    assert api.get("/api/openapi.json").json()["paths"]["/api/rollouts/{rid}/rollback"]


def test_the_repository_is_served_for_the_stack(console: Any) -> None:
    c = console.client()
    root = c.get("/repo/metadata/1.root.json")
    assert root.status_code == 200 and root.json()["signed"]["_type"] == "root"
    assert c.get("/repo/metadata/timestamp.json").status_code == 200
    assert c.get("/repo/metadata/99.root.json").status_code == 404
