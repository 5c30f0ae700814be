"""Platform connectors against the reference city platform over HTTP (issue 17).

Real peers on 127.0.0.1: two city platforms (`reference_backend.city` child processes,
OAuth2 client credentials, their own JSON) and the terminal's reference backend. Nothing
of ours is mocked: the connector, Authlib, the runtime's link monitors and the outbox run
as they do on a terminal; what a test observes is what the platforms saw.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from kiosk.backend.client import BackendClient, BackendError
from kiosk.backend.connectors import Connector, OAuth2ClientCredentials, make_connector
from kiosk.backend.embedded import EmbeddedCity, free_port
from kiosk.config import Config, ConfigError, PlatformConfig, load_config
from kiosk.network import LinkState
from synthetic.citizens import BY_KEY

DETAIL = "/gjj/v2/deposit/detail"
CHEN = BY_KEY["chen"].id_number


class City:
    """A running reference city platform and its admin view."""

    def __init__(self, lifetime_s: int = 3600, port: int | None = None,
                 client_secret: str | None = None) -> None:
        self.admin = secrets.token_hex(8)
        self.proc = EmbeddedCity("DG-TEST-0001", client_secret, port=port,
                                 token_lifetime_s=lifetime_s, admin_token=self.admin).start()

    @property
    def url(self) -> str:
        return self.proc.url

    def state(self) -> dict[str, Any]:
        r = requests.get(self.url + "/_admin/state", headers={"X-Admin-Token": self.admin},
                         timeout=5)
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]

    def revoke(self) -> None:
        requests.post(self.url + "/_admin/revoke", headers={"X-Admin-Token": self.admin},
                      timeout=5).raise_for_status()

    def connector(self, *, secret: str | None = None, token_url: str = "",
                  leeway: int | None = None, **cfg: Any) -> Connector:
        pc = PlatformConfig(base_url=self.url, auth="oauth2", token_url=token_url, **cfg)
        conn = make_connector("gz", pc, base_url=self.url, terminal_id="DG-TEST-0001",
                              secret=lambda: b"", client_id=self.proc.client_id,
                              oauth_secret=lambda: secret or self.proc.client_secret)
        if leeway is not None:
            assert isinstance(conn.auth, OAuth2ClientCredentials)
            conn.auth._leeway = leeway
        return conn


@pytest.fixture(scope="module")
def cities() -> Iterator[tuple[City, City]]:
    """Two city platforms, started together (each its own tokens)."""
    a, b = City(), City()
    try:
        assert a.proc.wait_ready(30) and b.proc.wait_ready(30), "city platform did not start"
        yield a, b
    finally:
        a.proc.stop()
        b.proc.stop()


def _delta(city: City, before: dict[str, Any], key: str) -> int:
    return int(city.state()[key]) - int(before[key])


# -- OAuth2 client credentials ------------------------------------------------------------
def test_token_fetched_on_first_use_and_kept(cities: tuple[City, City],
                                             caplog: pytest.LogCaptureFixture) -> None:
    city, _ = cities
    conn = city.connector()
    before = city.state()
    caplog.set_level(logging.DEBUG)
    answers = [conn.post_json(DETAIL, {"idCardNo": CHEN, "queryMonths": 3}) for _ in range(3)]
    assert [a["code"] for a in answers] == [0, 0, 0]
    assert answers[0]["data"]["personInfo"]["personName"] == BY_KEY["chen"].name
    assert _delta(city, before, "tokens_issued") == 1 and conn.auth.fetches == 1  # type: ignore[attr-defined]
    assert _delta(city, before, "tokens_refused") == 0
    token = conn.auth._session.token["access_token"]  # type: ignore[attr-defined]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "bearer token fetched" in logged
    assert token not in logged and city.proc.client_secret not in logged


def test_token_fetched_again_before_it_expires(cities: tuple[City, City]) -> None:
    """A token within the leeway of its expiry is replaced before the call, so the
    platform never sees an expired one (the leeway is made longer than the lifetime)."""
    city, _ = cities
    conn = city.connector(leeway=7200)  # tokens live 3600 s: each is "about to expire"
    before = city.state()
    for _ in range(3):
        assert conn.post_json(DETAIL, {"idCardNo": CHEN})["code"] == 0
    assert _delta(city, before, "tokens_issued") == 3
    assert _delta(city, before, "tokens_refused") == 0


def test_a_refused_token_is_renewed_once_and_the_call_sent_once_more(
        cities: tuple[City, City]) -> None:
    city, _ = cities
    conn = city.connector()
    assert conn.post_json(DETAIL, {"idCardNo": CHEN})["code"] == 0
    city.revoke()  # the platform forgets every token (a restart, a key rotation)
    before = city.state()
    assert conn.post_json(DETAIL, {"idCardNo": CHEN})["code"] == 0
    assert _delta(city, before, "tokens_refused") == 1
    assert _delta(city, before, "tokens_issued") == 1
    assert _delta(city, before, "queries") == 1


def test_a_401_after_renewal_is_not_retried_again(cities: tuple[City, City]) -> None:
    """Tokens from another platform's endpoint are never taken: exactly one renewal, then
    the citizen's key for a refused login."""
    city, other = cities
    conn = city.connector(token_url=other.url + "/oauth/token")
    conn.auth._secret = lambda: other.proc.client_secret  # type: ignore[attr-defined]
    before, before_other = city.state(), other.state()
    with pytest.raises(BackendError) as err:
        conn.post_json(DETAIL, {"idCardNo": CHEN})
    assert err.value.key == "backend.auth_failed" and not err.value.retryable
    assert _delta(city, before, "tokens_refused") == 2  # the first send and the one retry
    assert _delta(other, before_other, "tokens_issued") == 2  # first use and one renewal


def test_bad_client_credentials_are_refused_clearly(cities: tuple[City, City]) -> None:
    city, _ = cities
    conn = city.connector(secret="not-the-secret")
    before = city.state()
    with pytest.raises(BackendError) as err:
        conn.post_json(DETAIL, {"idCardNo": CHEN})
    assert err.value.key == "backend.auth_failed" and not err.value.retryable
    assert "invalid_client" in err.value.detail
    assert _delta(city, before, "queries") == 0 and _delta(city, before, "tokens_issued") == 0


def test_token_endpoint_down(cities: tuple[City, City]) -> None:
    city, _ = cities
    conn = city.connector(token_url=f"http://127.0.0.1:{free_port()}/oauth/token")
    with pytest.raises(BackendError) as err:
        conn.post_json(DETAIL, {"idCardNo": CHEN})
    assert err.value.key == "backend.unreachable" and err.value.retryable
    assert "token endpoint" in err.value.detail


def test_the_clients_guarantees_hold_for_a_connector(cities: tuple[City, City]) -> None:
    """The size cap of [platforms.gz] applies as the terminal's does."""
    city, _ = cities
    conn = city.connector(max_answer_bytes=1024)
    with pytest.raises(BackendError) as err:
        conn.post_json(DETAIL, {"idCardNo": CHEN, "queryMonths": 36})
    assert err.value.key == "backend.answer_too_large"


# -- configuration ---------------------------------------------------------------------------
def test_platform_config_mistakes_are_named(tmp_path: Path) -> None:
    file = tmp_path / "kiosk.toml"
    file.write_text('[platforms.gz]\nbase_url = "https://gz.example"\nauth = "oauth"\n'
                    'client_secret = "x"\nrequests_per_minute = "60"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(file, {})
    text = str(err.value)
    assert f'{file}:3: platforms.gz.auth: must be "hmac" or "oauth2", got "oauth"' in text
    assert f"{file}:4: platforms.gz.client_secret: unknown key" in text
    assert f"{file}:5: platforms.gz.requests_per_minute: must be a whole number" in text
    file.write_text('[platforms.gz]\nbase_url = "https://gz.example"\nauth = "oauth2"\n',
                    encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(file, {})
    assert "platforms.gz.client_id: must be set" in str(err.value)


# -- per-platform offline: pausing and the outbox ---------------------------------------------
@pytest.fixture
def runtime(backend: Any, tmp_path: Path) -> Iterator[Any]:
    """A terminal whose own platform is the reference backend and whose [platforms.gz] is
    a city platform of its own (stopped and started again by the test)."""
    from kiosk.runtime import Runtime

    city = City()
    assert city.proc.wait_ready(30)
    secret_file = tmp_path / "gz.secret"
    secret_file.write_text(city.proc.client_secret)
    cfg = Config().with_section("storage", data_dir=str(tmp_path / "data"))
    cfg = cfg.with_section("terminal", id=backend.terminal_id)
    cfg = cfg.with_section("devices", idcard="sim://?card=chen", camera="")
    cfg = replace(cfg, platforms={"gz": PlatformConfig(
        base_url=city.url, auth="oauth2", client_id=city.proc.client_id,
        client_secret_file=str(secret_file))})
    rt = Runtime.create(cfg)
    rt.backend = BackendClient(backend.url, backend.terminal_id, backend.secret)
    rt.backend_ready.set()
    rt.start_platforms()
    rt.start_offline()
    rt.city = city  # type: ignore[attr-defined]
    try:
        yield rt
    finally:
        rt.close()
        city.proc.stop()


def test_a_city_platform_down_pauses_only_its_services_and_holds_only_its_records(
        runtime: Any, backend: Any) -> None:
    rt, city = runtime, runtime.city
    gz_flow, own_flow = rt.package.flows["gz_fund_deposit"], rt.package.flows["provident_fund"]
    gz = rt.offline.platform_monitors["gz"]
    assert rt.offline.monitor.check() is LinkState.ONLINE and gz.check() is LinkState.ONLINE
    assert rt.pause_reason(gz_flow) is None and rt.pause_reason(own_flow) is None

    city.proc.stop()  # the city platform goes away
    assert gz.check() is LinkState.OFFLINE
    assert rt.pause_reason(gz_flow) == "home.offline_tile"
    assert rt.pause_reason(own_flow) is None and rt.online

    # An evaluation of each: the zone service's is the city's record, the other ours.
    tag = secrets.token_hex(4)
    rt._recorder("gz")("evaluation", {"service": "gz_fund_deposit", "stars": 5, "tags": [],
                                      "session": f"gz-{tag}"})
    rt._recorder("")("evaluation", {"service": "provident_fund", "stars": 4, "tags": [],
                                    "session": f"dg-{tag}"})
    rt.offline.worker.run_pass(force=True, lock_timeout=30)
    depth = rt.offline.outbox.status().as_dict()["depth"]
    assert depth.get("evaluation@gz") == 1 and not depth.get("evaluation")
    admin = {"X-Admin-Token": backend.admin_token}
    ours = requests.get(backend.url + "/_admin/state", headers=admin, timeout=5).json()
    assert any(e.get("session") == f"dg-{tag}" for e in ours["evaluations"])
    assert not any(e.get("session") == f"gz-{tag}" for e in ours["evaluations"])
    assert rt.online  # the city's failed delivery said nothing about our platform

    # The city comes back (same port, new process: our old token is unknown there).
    city.proc = EmbeddedCity("DG-TEST-0001", city.proc.client_secret, port=city.proc.port,
                             admin_token=city.admin).start()
    assert city.proc.wait_ready(30)
    assert gz.check() is LinkState.ONLINE and rt.pause_reason(gz_flow) is None
    rt.offline.worker.run_pass(force=True, lock_timeout=30)
    assert not rt.offline.outbox.status().as_dict()["depth"].get("evaluation@gz")
    seen = city.state()["evaluations"]
    assert [e["session"] for e in seen] == [f"gz-{tag}"]


def test_a_redirect_off_the_platform_takes_no_bearer_token_with_it(
        cities: tuple[City, City], hostile: Any) -> None:
    """The platform's origin (base_url) redirects elsewhere: refused, and the other host
    never sees the request nor the token (fetched from the real token endpoint)."""
    from emulators.hostile_platform import Redirect, json_reply

    city, _ = cities
    elsewhere = hostile(json_reply({"code": 0, "data": {}}))
    platform = hostile(Redirect(307, elsewhere.url + DETAIL))
    pc = PlatformConfig(base_url=platform.url, auth="oauth2",
                        token_url=city.url + "/oauth/token")
    conn = make_connector("gz", pc, base_url=platform.url, terminal_id="DG-TEST-0001",
                          secret=lambda: b"", client_id=city.proc.client_id,
                          oauth_secret=lambda: city.proc.client_secret)
    with pytest.raises(BackendError) as refused:
        conn.post_json(DETAIL, {"idCardNo": CHEN})
    assert refused.value.key == "backend.redirect_refused"
    assert len(platform.seen) == 1 and elsewhere.seen == []
    assert conn.auth.fetches == 1  # type: ignore[attr-defined]


def test_requests_per_minute_limit(cities: tuple[City, City]) -> None:
    """Over the platform's limit, a call that cannot get a slot within its deadline is
    not sent (the slot frees only a minute after the first call)."""
    city, _ = cities
    conn = city.connector(requests_per_minute=2, timeout_s=5.0)
    before = city.state()
    for _ in range(2):
        assert conn.post_json(DETAIL, {"idCardNo": CHEN})["code"] == 0
    with pytest.raises(BackendError) as err:
        conn.post_json(DETAIL, {"idCardNo": CHEN})
    assert err.value.key == "backend.timeout" and "2 requests per minute" in err.value.detail
    assert _delta(city, before, "queries") == 2


@pytest.mark.parametrize("answer, key", [
    ("drip", "backend.timeout"),  # a byte now and then: per-read timeouts never fire
    ("flood", "backend.answer_too_large"),  # an endless answer, no Content-Length
])
def test_the_token_endpoint_is_held_to_the_deadline_and_size_cap(
        cities: tuple[City, City], hostile: Any, answer: str, key: str) -> None:
    from emulators.hostile_platform import Drip, Flood

    city, _ = cities
    peer = hostile(Drip(interval_s=0.2, length=1000) if answer == "drip"
                   else Flood(size=None, declare=False))
    conn = city.connector(token_url=peer.url + "/oauth/token", timeout_s=1.5)
    before = city.state()
    with pytest.raises(BackendError) as err:
        conn.post_json(DETAIL, {"idCardNo": CHEN})
    assert err.value.key == key
    assert _delta(city, before, "queries") == 0 and _delta(city, before, "tokens_refused") == 0


def test_an_hmac_platform_is_signed_with_the_terminals_own_secret(backend: Any) -> None:
    """auth = "hmac": the terminal's id and secret, as its own platform verifies them."""
    pc = PlatformConfig(base_url=backend.url, auth="hmac")
    conn = make_connector("dg2", pc, base_url=backend.url, terminal_id=backend.terminal_id,
                          secret=lambda: backend.secret)
    assert isinstance(conn.get_json("/api/v1/reference/catalog"), dict)
    wrong = make_connector("dg2", pc, base_url=backend.url, terminal_id=backend.terminal_id,
                           secret=lambda: b"not-the-secret")
    with pytest.raises(BackendError) as err:
        wrong.get_json("/api/v1/reference/catalog")
    assert err.value.key == "backend.auth_failed"


def test_a_corrected_client_secret_is_read_again(cities: tuple[City, City],
                                                 tmp_path: Path) -> None:
    """After the token endpoint refused the client, the next call reads the secret file
    again: a technician's fix takes effect without a restart."""
    city, _ = cities
    secret_file = tmp_path / "gz.secret"
    secret_file.write_text("wrong")
    pc = PlatformConfig(base_url=city.url, auth="oauth2", client_id=city.proc.client_id,
                        client_secret_file=str(secret_file))
    conn = make_connector("gz", pc, base_url=city.url, terminal_id="DG-TEST-0001",
                          secret=lambda: b"")
    with pytest.raises(BackendError) as err:
        conn.post_json(DETAIL, {"idCardNo": CHEN})
    assert err.value.key == "backend.auth_failed"
    secret_file.write_text(city.proc.client_secret + "\n")
    assert conn.post_json(DETAIL, {"idCardNo": CHEN})["code"] == 0
