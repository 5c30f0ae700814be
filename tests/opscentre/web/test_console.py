"""The console over HTTP (TestClient, SQLite): login, roles, CSRF, tokens, audit, languages."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from console_helpers import (
    PASSWORDS,
    Console,
    add_alert,
    add_terminal,
    form_csrf,
    login,
    page_csrf,
    signed_in,
)
from sqlalchemy import select

from opscentre import auth
from opscentre.auth import LoginPolicy
from opscentre.models import Alert
from opscentre.web.models import AuditEntry, User


def audit_actions(console: Console) -> list[tuple[str, str, str]]:
    with console.db() as s:
        return [(e.actor, e.action, e.target)
                for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def one_alert(console: Console, state: str = "open") -> int:
    with console.db() as s:
        add_terminal(s, "T0001")
        a = add_alert(s, "T0001", state=state)
        s.commit()
        return a.id


def alert_state(console: Console, alert_id: int) -> str:
    with console.db() as s:
        return s.get(Alert, alert_id).state  # type: ignore[union-attr]


# -- login, session cookie, logout -----------------------------------------------------------------
def test_pages_need_a_login_and_the_api_a_token(console: Console) -> None:
    c = console.client()
    r = c.get("/fleet?paper=out", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Ffleet%3Fpaper%3Dout"
    r = c.get("/api/terminals")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_login_sets_a_strict_httponly_session_cookie(console: Console) -> None:
    c = console.client()
    r = login(c, "vera")
    assert r.status_code == 303 and r.headers["location"] == "/fleet"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("kops_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    assert c.get("/fleet").status_code == 200
    # over TLS the cookie is Secure as well
    tls = console.client(base_url="https://testserver")
    r = login(tls, "vera")
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("kops_session="))
    assert "Secure" in cookie


def test_a_wrong_password_shows_the_form_again_and_is_audited(console: Console) -> None:
    c = console.client()
    r = login(c, "vera", "not her password")
    assert r.status_code == 401 and "kops_session" not in r.headers.get("set-cookie", "")
    assert "用户名或密码错误" in r.text
    assert ("", "login_failed", "vera") in audit_actions(console)


def test_login_brute_force_is_rate_limited(make_console) -> None:  # type: ignore[no-untyped-def]
    console = make_console(SimpleNamespace(login_policy=LoginPolicy(account_failures=4)))
    c = console.client()
    for _ in range(4):
        assert login(c, "ada", "guess guess guess").status_code == 401
    r = login(c, "ada")  # the right password now
    assert r.status_code == 429 and r.headers["retry-after"] == "900"
    assert "kops_session" not in r.headers.get("set-cookie", "")
    assert "失败次数过多" in r.text
    assert c.get("/fleet", follow_redirects=False).status_code == 303
    assert [a for _, a, t in audit_actions(console) if t == "ada"].count("login_failed") == 4
    # others can still sign in
    assert login(console.client(), "vera").status_code == 303


def test_the_login_form_needs_its_own_csrf_token(console: Console) -> None:
    c = console.client()
    c.get("/login")
    r = c.post("/login", data={"name": "vera", "password": PASSWORDS["vera"], "csrf": "forged"},
               follow_redirects=False)
    assert r.status_code == 403 and "kops_session" not in r.headers.get("set-cookie", "")
    # a form posted from elsewhere has no cookie of ours at all
    other = console.client()
    r = other.post("/login", data={"name": "vera", "password": PASSWORDS["vera"],
                                   "csrf": "anything"}, follow_redirects=False)
    assert r.status_code == 403


def test_logout_needs_the_csrf_token_and_ends_the_session(console: Console) -> None:
    c = signed_in(console, "vera")
    r = c.post("/logout", data={"csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    assert c.get("/fleet").status_code == 200  # still signed in
    r = c.post("/logout", data={"csrf": page_csrf(c)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert c.get("/fleet", follow_redirects=False).status_code == 303
    assert ("vera", "logout", "vera") in audit_actions(console)


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
def test_login_never_redirects_to_another_site(console: Console, target: str) -> None:
    c = console.client()
    page = c.get("/login")
    r = c.post("/login", data={"name": "vera", "password": PASSWORDS["vera"],
                               "csrf": form_csrf(page.text), "next": target},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/fleet"


# -- roles -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("user", "path"), [
    ("vera", "/audit"), ("vera", "/admin"), ("otto", "/audit"), ("otto", "/admin"),
    ("vera", "/api/audit"), ("otto", "/api/users"), ("otto", "/api/tokens"),
])
def test_admin_pages_are_forbidden_below_admin(console: Console, user: str, path: str) -> None:
    c = signed_in(console, user)
    r = c.get(path)
    assert r.status_code == 403
    assert (user, "access_denied", path) in audit_actions(console)


def test_an_operator_cannot_manage_users(console: Console) -> None:
    c = signed_in(console, "otto")
    csrf = page_csrf(c)
    r = c.post("/admin/users", data={"csrf": csrf, "name": "eve", "role": "admin",
                                     "password": "eve's long password"})
    assert r.status_code == 403
    r = c.post("/api/users", json={"name": "eve", "role": "admin",
                                   "password": "eve's long password"},
               headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403
    r = c.post("/admin/users/otto", data={"csrf": csrf, "role": "admin"})
    assert r.status_code == 403
    with console.db() as s:
        assert s.scalar(select(User).where(User.name == "eve")) is None
        assert s.scalar(select(User.role).where(User.name == "otto")) == "operator"


def test_an_admin_manages_users_and_tokens(console: Console) -> None:
    c = signed_in(console, "ada")
    csrf = page_csrf(c, "/admin")
    r = c.post("/admin/users", data={"csrf": csrf, "name": "eve", "role": "viewer",
                                     "password": "eve's long password"}, follow_redirects=False)
    assert r.status_code == 303
    assert login(console.client(), "eve", "eve's long password").status_code == 303
    r = c.post("/admin/users/eve", data={"csrf": csrf, "role": "operator"},
               follow_redirects=False)
    assert r.status_code == 303
    r = c.post("/admin/tokens", data={"csrf": csrf, "name": "grafana", "role": "viewer"})
    token = re.search(r'id="new-token-value">([^<]+)<', r.text)
    assert r.status_code == 200 and token and r.headers["cache-control"] == "no-store"
    assert token.group(1) not in c.get("/admin").text  # shown once
    assert console.client().get("/api/me", headers={
        "Authorization": f"Bearer {token.group(1)}"}).json()["name"] == "grafana"
    c.post("/admin/tokens/grafana/revoke", data={"csrf": csrf})
    assert console.client().get("/api/me", headers={
        "Authorization": f"Bearer {token.group(1)}"}).status_code == 401
    r = c.post("/admin/users/ada", data={"csrf": csrf, "role": "viewer"})
    assert r.status_code == 409  # nobody demotes or disables themselves
    acts = audit_actions(console)
    for entry in [("ada", "user_added", "eve"), ("ada", "user_role_changed", "eve"),
                  ("ada", "token_created", "grafana"), ("ada", "token_revoked", "grafana")]:
        assert entry in acts


def test_a_disabled_user_is_signed_out_at_once(console: Console) -> None:
    vera = signed_in(console, "vera")
    ada = signed_in(console, "ada")
    r = ada.post("/admin/users/vera", data={"csrf": page_csrf(ada, "/admin"), "disabled": "1"},
                 follow_redirects=False)
    assert r.status_code == 303
    assert vera.get("/fleet", follow_redirects=False).status_code == 303


# -- acknowledging alerts: role and CSRF -----------------------------------------------------------
def test_an_ack_without_the_csrf_token_is_refused(console: Console) -> None:
    alert = one_alert(console)
    c = signed_in(console, "otto")
    assert c.post(f"/alerts/{alert}/ack", data={}).status_code == 400  # no csrf field
    assert c.post(f"/alerts/{alert}/ack", data={"csrf": "forged"}).status_code == 403
    assert c.post(f"/api/alerts/{alert}/ack").status_code == 403  # session, no header
    assert c.post(f"/api/alerts/{alert}/ack",
                  headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert alert_state(console, alert) == "open"
    assert "alert_acked" not in [a for _, a, _ in audit_actions(console)]


def test_an_operator_acknowledges_with_the_form(console: Console) -> None:
    alert = one_alert(console)
    c = signed_in(console, "otto")
    page = c.get("/alerts")
    assert f'data-alert="{alert}"' in page.text
    r = c.post(f"/alerts/{alert}/ack", data={"csrf": form_csrf(page.text), "back": "/alerts"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/alerts"
    assert alert_state(console, alert) == "acked"
    with console.db() as s:
        assert s.get(Alert, alert).acked_by == "otto"  # type: ignore[union-attr]
    assert ("otto", "alert_acked", f"alert:{alert}") in audit_actions(console)


def test_a_viewer_cannot_acknowledge(console: Console) -> None:
    alert = one_alert(console)
    c = signed_in(console, "vera")
    page = c.get("/alerts")
    assert "/ack" not in page.text  # no button either
    r = c.post(f"/alerts/{alert}/ack", data={"csrf": form_csrf(page.text)})
    assert r.status_code == 403
    assert alert_state(console, alert) == "open"


def test_a_closed_alert_cannot_be_acknowledged(console: Console) -> None:
    alert = one_alert(console, state="closed")
    c = signed_in(console, "otto")
    r = c.post(f"/api/alerts/{alert}/ack", headers={"X-CSRF-Token": page_csrf(c)})
    assert r.status_code == 409 and r.json()["detail"] == "error.conflict"
    assert c.post("/api/alerts/999999/ack", headers={"X-CSRF-Token": page_csrf(c)}
                  ).status_code == 404


# -- API tokens ------------------------------------------------------------------------------------
def test_a_bearer_token_reads_and_by_its_role_acknowledges(console: Console) -> None:
    alert = one_alert(console)
    with console.db() as s:
        viewer = auth.create_token(s, "dashboard")
        operator = auth.create_token(s, "pager-bot", "operator")
    c = console.client()
    r = c.get("/api/terminals", headers={"Authorization": f"Bearer {viewer}"})
    assert r.status_code == 200 and [t["id"] for t in r.json()] == ["T0001"]
    assert set(r.json()[0]) >= {"id", "online", "last_seen", "faults", "app_version",
                                "packages"}
    r = c.post(f"/api/alerts/{alert}/ack", headers={"Authorization": f"Bearer {viewer}"})
    assert r.status_code == 403
    # no CSRF token for a bearer token: a browser never sends it by itself
    r = c.post(f"/api/alerts/{alert}/ack", headers={"Authorization": f"Bearer {operator}"})
    assert r.status_code == 200 and r.json()["state"] == "acked"
    assert r.json()["acked_by"] == "token:pager-bot"
    assert c.get("/api/terminals", headers={"Authorization": "Bearer kops_nonsense"}
                 ).status_code == 401
    assert ("token:pager-bot", "alert_acked", f"alert:{alert}") in audit_actions(console)


def test_a_bearer_token_does_not_open_the_pages_session(console: Console) -> None:
    with console.db() as s:
        viewer = auth.create_token(s, "dashboard")
    r = console.client().get("/fleet", headers={"Authorization": f"Bearer {viewer}"})
    assert r.status_code == 200  # the same data as the API, for a script that wants HTML
    assert 'action="/logout"' not in r.text


# -- languages, errors, API description ------------------------------------------------------------
def test_the_language_switch_and_the_browser_default(console: Console) -> None:
    c = signed_in(console, "vera")
    assert "终端总览" in c.get("/fleet").text
    r = c.get("/lang?to=en&back=/fleet%3Fstatus%3Doffline", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/fleet?status=offline"
    assert ">Fleet<" in c.get("/fleet").text and "终端总览" not in c.get("/fleet").text
    assert c.get("/lang?to=en&back=//evil.example", follow_redirects=False
                 ).headers["location"] == "/fleet"
    other = console.client()
    assert "Log in" in other.get("/login", headers={"Accept-Language": "en-GB,en"}).text
    assert "登录" in other.get("/login", headers={"Accept-Language": "zh-CN,zh"}).text


def test_a_bad_filter_is_refused_clearly(console: Console) -> None:
    c = signed_in(console, "vera")
    r = c.get("/api/terminals?status=sleeping")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "status"]
    r = c.get("/fleet?sort=colour")
    assert r.status_code == 400 and "sort" in r.text and "请求参数无效" in r.text


def test_the_api_is_described_by_openapi_and_loads_nothing_from_elsewhere(
        console: Console) -> None:
    c = console.client()
    doc = c.get("/api/openapi.json").json()
    for path in ("/api/terminals", "/api/terminals/{tid}", "/api/alerts",
                 "/api/alerts/{alert_id}/ack", "/api/users", "/api/tokens", "/api/audit"):
        assert path in doc["paths"]
    assert not any(p.startswith(("/fleet", "/login")) for p in doc["paths"])
    vera = signed_in(console, "vera")
    page = vera.get("/fleet")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert not re.search(r'(src|href)="(https?:)?//', page.text)


def test_an_admin_token_manages_users_and_tokens_through_the_api(console: Console) -> None:
    with console.db() as s:
        admin = auth.create_token(s, "provisioning", "admin")
    c = console.client(headers={"Authorization": f"Bearer {admin}"})
    r = c.post("/api/users", json={"name": "eve", "role": "viewer",
                                   "password": "eve's long password"})
    assert r.status_code == 201
    assert c.post("/api/users", json={"name": "eve", "role": "viewer",
                                      "password": "eve's long password"}).status_code == 409
    assert c.post("/api/users", json={"name": "mallory", "role": "viewer",
                                      "password": "short"}).json()["detail"] == \
        "auth.password_short"
    r = c.patch("/api/users/eve", json={"role": "operator", "disabled": True})
    assert r.status_code == 200 and r.json()["role"] == "operator" and r.json()["disabled"]
    assert login(console.client(), "eve", "eve's long password").status_code == 401
    r = c.post("/api/tokens", json={"name": "grafana"})
    raw = r.json()["token"]
    assert r.status_code == 201 and raw.startswith("kops_")
    assert raw not in c.get("/api/tokens").text
    assert c.delete("/api/tokens/grafana").status_code == 200
    assert console.client().get("/api/me", headers={"Authorization": f"Bearer {raw}"}
                                ).status_code == 401
    acts = audit_actions(console)
    for entry in [("token:provisioning", "user_added", "eve"),
                  ("token:provisioning", "user_role_changed", "eve"),
                  ("token:provisioning", "user_disabled", "eve"),
                  ("token:provisioning", "token_created", "grafana"),
                  ("token:provisioning", "token_revoked", "grafana")]:
        assert entry in acts
