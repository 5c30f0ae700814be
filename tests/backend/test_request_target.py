"""The signature covers the exact request target as sent (issue 13, item 7): a signed
request cannot be replayed under another spelling of its path, and the client signs
the spelling the HTTP stack really puts on the wire."""

from __future__ import annotations

import http.client

import pytest
import requests
from hypothesis import assume, given
from hypothesis import strategies as st

from kiosk.backend.client import BackendClient, BackendError
from kiosk.backend.signing import sign_headers, wire_target

CATALOG = "/api/v1/reference/catalog"


def _send_raw(backend, method: str, target: str, headers: dict[str, str]) -> int:  # type: ignore[no-untyped-def]
    """Send `target` byte for byte (requests would re-spell it) and return the status."""
    host, port = backend.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _signed(backend, target: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return sign_headers(backend.terminal_id, backend.secret, "GET", target, b"")


def test_the_signed_spelling_is_accepted(backend) -> None:  # type: ignore[no-untyped-def]
    assert _send_raw(backend, "GET", CATALOG, _signed(backend, CATALOG)) == 200
    query = CATALOG + "?q=%E5%BC%A0"
    assert _send_raw(backend, "GET", query, _signed(backend, query)) == 200


@pytest.mark.parametrize("spelling", [
    "/api/v1/reference/%63atalog",  # 'c' percent-encoded: the same decoded path
    "/api/v1/%72eference/catalog",
    "/api/v1/reference/catalog?q=%e5%bc%a0",  # lower-case escapes of the signed query
])
def test_a_signed_request_sent_under_another_spelling_is_refused(backend, spelling: str) -> None:  # type: ignore[no-untyped-def]
    signed_for = "/api/v1/reference/catalog?q=%E5%BC%A0" if "q=" in spelling else CATALOG
    headers = _signed(backend, signed_for)  # never sent as signed: a fresh nonce
    assert _send_raw(backend, "GET", spelling, headers) == 401


def test_a_doubled_slash_never_reaches_the_signed_resource(backend) -> None:  # type: ignore[no-untyped-def]
    status = _send_raw(backend, "GET", "/api//v1/reference/catalog", _signed(backend, CATALOG))
    assert status in (401, 404)


def test_the_client_signs_what_goes_on_the_wire(backend) -> None:  # type: ignore[no-untyped-def]
    # requests percent-encodes the space and the Chinese characters of this query; a
    # signature over the unencoded text would be refused by the platform.
    c = BackendClient(backend.url, backend.terminal_id, backend.secret)
    assert c.get_json(CATALOG + "?q=张 三&from=a/b")["version"] >= 1
    assert c.get_json("/api/v1/reference/%63atalog")["version"] >= 1  # sent as .../catalog


def test_a_target_the_http_stack_would_rewrite_is_refused_not_signed_wrongly(backend) -> None:  # type: ignore[no-untyped-def]
    c = BackendClient(backend.url, backend.terminal_id, backend.secret)
    with pytest.raises(BackendError) as refused:
        c.get_json("/api/v1/reference/./catalog")
    assert refused.value.key == "backend.bad_request"
    assert "not sent as written" in refused.value.detail


@pytest.mark.parametrize("target,wire", [
    ("/api/v1/x", "/api/v1/x"),
    ("/api/v1/%78", "/api/v1/x"),
    ("/a b/张?q=张 三&s=%2f", "/a%20b/%E5%BC%A0?q=%E5%BC%A0%20%E4%B8%89&s=%2F"),
    ("/a%zz", "/a%25zz"),
    ("/a[1]?b=[c]", "/a%5B1%5D?b=%5Bc%5D"),
    ("/x?", "/x"),
    ("/x?a=1?2/3", "/x?a=1?2/3"),
])
def test_wire_target_vectors(target: str, wire: str) -> None:
    assert wire_target(target) == wire


_TEXT = st.lists(st.sampled_from([*"ab/.?%#&=+ ~-_!$'()*,;:@[]{}|^`\"<>",
                                  "张", "é", "%2", "%7e", "%2F", "%41", "\t", "\x00"]),
                 max_size=16).map("".join)


@given(_TEXT)
def test_wire_target_is_what_requests_sends(text: str) -> None:
    wire = wire_target("/" + text)
    assert wire_target(wire) == wire
    segments = wire.partition("?")[0].split("/")
    assume("." not in segments and ".." not in segments)  # those are refused, see above
    assert requests.Request("GET", "http://127.0.0.1:1" + wire).prepare().path_url == wire
