"""Request authentication against the real reference backend over HTTP."""

from __future__ import annotations

import json
import time

import pytest
import requests

from kiosk.backend.client import BackendClient, BackendError
from kiosk.backend.signing import sign_headers
from synthetic.citizens import BY_KEY

PATH = "/api/v1/social-security/certificate"


def _post(backend, headers: dict[str, str], body: bytes) -> requests.Response:  # type: ignore[no-untyped-def]
    return requests.post(backend.url + PATH, data=body,
                         headers={**headers, "Content-Type": "application/json"}, timeout=5)


def _body(key: str = "chen") -> bytes:
    return json.dumps({"id_number": BY_KEY[key].id_number, "months": 3}).encode()


def test_signed_request_is_accepted(backend) -> None:  # type: ignore[no-untyped-def]
    body = _body()
    r = _post(backend, sign_headers(backend.terminal_id, backend.secret, "POST", PATH, body), body)
    assert r.status_code == 200, r.text
    assert r.json()["person"]["name"] == BY_KEY["chen"].name


@pytest.mark.parametrize("mutate,code", [
    (lambda h, b: ({**h, "X-Signature": "0" * 64}, b), "bad_signature"),
    (lambda h, b: (h, b.replace(b'"months": 3', b'"months": 4')), "bad_signature"),
    (lambda h, b: ({k: v for k, v in h.items() if k != "X-Nonce"}, b), "missing_signature"),
    (lambda h, b: ({**h, "X-Terminal-Id": "DG-UNKNOWN"}, b), "unknown_terminal"),
])
def test_tampered_requests_are_rejected(backend, mutate, code) -> None:  # type: ignore[no-untyped-def]
    body = _body()
    original = sign_headers(backend.terminal_id, backend.secret, "POST", PATH, body)
    headers, body2 = mutate(original, body)
    assert (headers, body2) != (original, body)  # the mutation did something
    r = _post(backend, headers, body2)
    assert r.status_code == 401
    assert r.json() == {"error": code}


def test_wrong_secret_is_rejected(backend) -> None:  # type: ignore[no-untyped-def]
    body = _body()
    r = _post(backend, sign_headers(backend.terminal_id, b"not the secret", "POST", PATH, body),
              body)
    assert r.status_code == 401 and r.json()["error"] == "bad_signature"


@pytest.mark.parametrize("skew", [-400, 400])
def test_stale_timestamp_is_rejected(backend, skew: int) -> None:  # type: ignore[no-untyped-def]
    body = _body()
    h = sign_headers(backend.terminal_id, backend.secret, "POST", PATH, body,
                     now=time.time() + skew)
    r = _post(backend, h, body)
    assert r.status_code == 401 and r.json()["error"] == "stale_timestamp"


def test_replayed_nonce_is_rejected(backend) -> None:  # type: ignore[no-untyped-def]
    body = _body()
    h = sign_headers(backend.terminal_id, backend.secret, "POST", PATH, body)
    assert _post(backend, h, body).status_code == 200
    again = _post(backend, h, body)
    assert again.status_code == 401 and again.json()["error"] == "replayed_nonce"


def test_client_maps_errors_to_keys(backend) -> None:  # type: ignore[no-untyped-def]
    good = BackendClient(backend.url, backend.terminal_id, backend.secret)
    with pytest.raises(BackendError) as no_record:
        good.post_json(PATH, {"id_number": BY_KEY["nobody"].id_number})
    assert no_record.value.key == "backend.no_record" and not no_record.value.retryable
    bad = BackendClient(backend.url, backend.terminal_id, b"wrong")
    with pytest.raises(BackendError) as auth:
        bad.post_json(PATH, {"id_number": BY_KEY["chen"].id_number})
    assert auth.value.key == "backend.auth_failed" and auth.value.status == 401
    with pytest.raises(BackendError) as invalid:
        good.post_json(PATH, {"id_number": "x"})
    assert invalid.value.key == "backend.bad_request"
    down = BackendClient("http://127.0.0.1:9", backend.terminal_id, backend.secret,
                         connect_timeout=0.5)
    with pytest.raises(BackendError) as unreachable:
        down.post_json(PATH, {"id_number": BY_KEY["chen"].id_number})
    assert unreachable.value.key == "backend.unreachable" and unreachable.value.retryable


@pytest.mark.parametrize("skew_s", [-3 * 3600, 2 * 86400])  # RTC behind by 3 h; 2 days ahead
def test_a_terminal_with_a_wrong_clock_signs_with_platform_time(backend, skew_s, caplog) -> None:  # type: ignore[no-untyped-def]
    c = BackendClient(backend.url, backend.terminal_id, backend.secret,
                      clock=lambda: time.time() + skew_s)
    payload = {"service": f"skew-{skew_s}", "stars": 5, "tags": []}
    first = c.post_json("/api/v1/evaluations", payload, idempotency_key=f"skew-{skew_s}")
    assert abs(c.clock_offset + skew_s) < 5  # learnt from the platform's Date header
    assert "clock differs from the platform's" in caplog.text
    # Later requests are signed right the first time; the write was applied once.
    assert c.post_json(PATH, {"id_number": BY_KEY["chen"].id_number})["person"]
    again = c.post_json("/api/v1/evaluations", payload, idempotency_key=f"skew-{skew_s}")
    assert again == first
    state = requests.get(backend.url + "/_admin/state",
                         headers={"X-Admin-Token": backend.admin_token}, timeout=5).json()
    assert sum(1 for e in state["evaluations"] if e["service"] == payload["service"]) == 1


def test_other_refusals_do_not_move_the_clock(backend) -> None:  # type: ignore[no-untyped-def]
    bad = BackendClient(backend.url, backend.terminal_id, b"wrong")
    with pytest.raises(BackendError) as auth:
        bad.post_json(PATH, {"id_number": BY_KEY["chen"].id_number})
    assert auth.value.key == "backend.auth_failed" and bad.clock_offset == 0.0


def test_idempotent_write_is_applied_once(backend) -> None:  # type: ignore[no-untyped-def]
    c = BackendClient(backend.url, backend.terminal_id, backend.secret)
    payload = {"service": "idem-test", "stars": 4, "tags": []}
    first = c.post_json("/api/v1/evaluations", payload, idempotency_key="k-123")
    second = c.post_json("/api/v1/evaluations", payload, idempotency_key="k-123")
    assert first == second
    state = requests.get(backend.url + "/_admin/state",
                         headers={"X-Admin-Token": backend.admin_token}, timeout=5).json()
    assert sum(1 for e in state["evaluations"] if e["service"] == "idem-test") == 1


def test_openapi_document_lists_the_endpoints(backend) -> None:  # type: ignore[no-untyped-def]
    doc = requests.get(backend.url + "/openapi.json", timeout=5).json()
    assert PATH in doc["paths"] and "/api/v1/evaluations" in doc["paths"]
