"""The backend client against a hostile platform on 127.0.0.1 (emulators/hostile_platform):
redirects off the platform's origin, dripping and endless answers, huge lengths, pages
where JSON should be. Issue 13, items 2 and 3."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time

import pytest

from emulators.hostile_platform import (
    Drip,
    Flood,
    Forward,
    HugeLength,
    Redirect,
    json_reply,
    portal_reply,
)
from kiosk.backend.client import DEFAULT_MAX_ANSWER, BackendClient, BackendError

EVALUATIONS = "/api/v1/evaluations"
CATALOG = "/api/v1/reference/catalog"


def _client(backend, url: str, **kw) -> BackendClient:  # type: ignore[no-untyped-def]
    kw.setdefault("connect_timeout", 2.0)
    kw.setdefault("read_timeout", 5.0)
    return BackendClient(url, backend.terminal_id, backend.secret, **kw)


def _until(check, what: str, limit_s: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    """Wait for the peer to observe something (a bound, not a timing assertion)."""
    end = time.monotonic() + limit_s
    while not check():
        assert time.monotonic() < end, f"the peer never saw {what}"
        time.sleep(0.02)


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# -- redirects (item 2) ----------------------------------------------------------------------
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_redirect_to_another_host_is_refused_and_that_host_receives_nothing(  # type: ignore[no-untyped-def]
        backend, hostile, caplog, status: int, method: str) -> None:
    elsewhere = hostile(json_reply({"key": "k-redirected-0001", "status": "applied"}))
    platform = hostile(Redirect(status, elsewhere.url + EVALUATIONS))
    client = _client(backend, platform.url)
    with pytest.raises(BackendError) as refused:
        if method == "GET":
            client.get_json(CATALOG)
        else:
            client.post_json(EVALUATIONS, {"service": "x", "stars": 5},
                             idempotency_key="k-redirected-0001")
    assert refused.value.key == "backend.redirect_refused" and refused.value.status == status
    assert refused.value.retryable  # a portal in the way today may be gone tomorrow
    assert len(platform.seen) == 1
    assert elsewhere.seen == []  # no request, so no signature headers, ever left for it
    assert "is not the platform's origin" in caplog.text and "redirect refused" in caplog.text


def test_a_redirect_to_another_port_of_the_same_host_is_another_origin(backend, hostile) -> None:  # type: ignore[no-untyped-def]
    elsewhere = hostile(json_reply({"status": "ok"}))
    platform = hostile(Redirect(307, f"//127.0.0.1:{elsewhere.port}{CATALOG}"))
    with pytest.raises(BackendError) as refused:
        _client(backend, platform.url).get_json(CATALOG)
    assert refused.value.key == "backend.redirect_refused" and elsewhere.seen == []


def test_a_same_origin_redirect_is_followed_signed_again_for_its_new_target(  # type: ignore[no-untyped-def]
        backend, hostile) -> None:
    # The hostile peer stands in front of the reference backend: it redirects the old path
    # and relays everything else byte for byte, so the real platform checks the signature.
    platform = hostile(Forward(_port(backend.url)))
    platform.route("/old" + EVALUATIONS, Redirect(307, EVALUATIONS))
    payload = {"service": f"redirected-{time.time_ns()}", "stars": 4, "tags": []}
    answer = _client(backend, platform.url).post_json("/old" + EVALUATIONS, payload,
                                                      idempotency_key=payload["service"])
    assert answer["accepted"] is True
    first, second = platform.seen
    assert (first.target, second.target) == ("/old" + EVALUATIONS, EVALUATIONS)
    assert first.body == second.body  # a 307 keeps the method and the body
    assert first.headers["x-nonce"] != second.headers["x-nonce"]
    assert first.headers["x-signature"] != second.headers["x-signature"]


def test_a_302_to_a_post_is_not_followed_even_on_the_same_origin(backend, hostile) -> None:  # type: ignore[no-untyped-def]
    platform = hostile(Forward(_port(backend.url)))
    platform.route("/old" + EVALUATIONS, Redirect(302, EVALUATIONS))
    with pytest.raises(BackendError) as refused:
        _client(backend, platform.url).post_json("/old" + EVALUATIONS, {"stars": 1},
                                                 idempotency_key="k-302-post-0001")
    assert refused.value.key == "backend.redirect_refused" and "GET" in refused.value.detail
    assert [s.target for s in platform.seen] == ["/old" + EVALUATIONS]


def test_redirects_are_followed_a_bounded_number_of_times(backend, hostile) -> None:  # type: ignore[no-untyped-def]
    platform = hostile(Redirect(307, "/again"))
    with pytest.raises(BackendError) as refused:
        _client(backend, platform.url).get_json(CATALOG)
    assert refused.value.key == "backend.redirect_refused"
    assert [s.target for s in platform.seen] == [CATALOG, "/again", "/again", "/again"]


@pytest.mark.parametrize("status", [302, 307])
def test_the_health_check_follows_no_redirect(backend, hostile, caplog, status: int) -> None:  # type: ignore[no-untyped-def]
    portal = hostile(json_reply({"status": "ok"}))  # a login page that even looks healthy
    platform = hostile(Redirect(status, portal.url + "/health"))
    assert _client(backend, platform.url).health(timeout=2.0) is False
    assert portal.seen == []
    assert "redirect" in caplog.text and "not followed" in caplog.text


def test_the_health_check_wants_the_platforms_json_not_a_portal_page(backend, hostile) -> None:  # type: ignore[no-untyped-def]
    assert _client(backend, hostile(portal_reply()).url).health(timeout=2.0) is False
    assert _client(backend, backend.url).health(timeout=2.0) is True


# -- deadline and size cap (item 3) ------------------------------------------------------------
@pytest.mark.parametrize("where", ["body", "headers"])
def test_a_dripping_server_is_cut_at_the_call_deadline(backend, hostile, where: str) -> None:  # type: ignore[no-untyped-def]
    # One byte every 0.2 s: every read succeeds well within the 5 s read timeout, so only
    # a deadline on the whole call ends it. The drip would last 60 bytes * 0.2 s.
    platform = hostile(Drip(interval_s=0.2, length=60, where=where))
    client = _client(backend, platform.url, deadline_s=1.0)
    with pytest.raises(BackendError) as cut:
        client.get_json(CATALOG)
    assert cut.value.key == "backend.timeout" and "deadline" in cut.value.detail
    _until(lambda: platform.aborted == 1, "the connection closed")  # not left open


def test_the_health_check_is_bounded_by_its_timeout_too(backend, hostile) -> None:  # type: ignore[no-untyped-def]
    platform = hostile(Drip(interval_s=0.2, length=60))
    assert _client(backend, platform.url).health(timeout=1.0) is False
    _until(lambda: platform.aborted == 1, "the connection closed")


def test_a_huge_content_length_is_refused_before_reading_anything(backend, hostile) -> None:  # type: ignore[no-untyped-def]
    platform = hostile(HugeLength(length=10**12))
    with pytest.raises(BackendError) as refused:
        _client(backend, platform.url).get_json(CATALOG)
    assert refused.value.key == "backend.answer_too_large"
    assert "Content-Length 1000000000000" in refused.value.detail
    _until(lambda: platform.aborted == 1, "the connection closed")


@pytest.mark.parametrize("size,declare", [(100 * 1024 * 1024, True),
                                          (100 * 1024 * 1024, False), (None, False)],
                         ids=["100MB-declared", "100MB-undeclared", "endless"])
def test_a_100_mb_or_endless_answer_is_refused_without_reading_it(  # type: ignore[no-untyped-def]
        backend, hostile, size, declare: bool) -> None:
    platform = hostile(Flood(size, declare))
    with pytest.raises(BackendError) as refused:
        _client(backend, platform.url, deadline_s=60.0).get_json(CATALOG)
    assert refused.value.key == "backend.answer_too_large"
    _until(lambda: platform.aborted == 1, "the connection closed")
    # What the peer got into the socket: at most the cap plus what loopback buffers hold.
    assert platform.sent < DEFAULT_MAX_ANSWER + 16 * 1024 * 1024, platform.sent


def test_an_answer_within_the_cap_is_read_whole(backend, hostile) -> None:  # type: ignore[no-untyped-def]
    platform = hostile(Flood(64 * 1024, True))  # not JSON: read, then refused as a page
    with pytest.raises(BackendError) as read:
        _client(backend, platform.url, max_answer_bytes=64 * 1024).get_json(CATALOG)
    assert read.value.key == "backend.server_error" and "not JSON" in read.value.detail


def test_the_deadline_covers_a_whole_call_on_any_thread(backend, hostile) -> None:  # type: ignore[no-untyped-def]
    # Two threads share a client (one session each); each call is cut by its own deadline
    # and a later call on the same client still works.
    platform = hostile(Drip(interval_s=0.2, length=60))
    client = _client(backend, platform.url, deadline_s=1.0)
    keys: list[str] = []

    def call() -> None:
        try:
            client.get_json(CATALOG)
        except BackendError as exc:
            keys.append(exc.key)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert keys == ["backend.timeout", "backend.timeout"]
    good = _client(backend, backend.url, deadline_s=5.0)
    assert good.get_json(CATALOG)["version"] >= 1


def test_the_signature_the_platform_received_covers_the_target_on_the_wire(  # type: ignore[no-untyped-def]
        backend, hostile) -> None:
    platform = hostile(Forward(_port(backend.url)))
    client = _client(backend, platform.url)
    assert "version" in client.get_json(CATALOG + "?q=张 三&from=a/b&x=%7e")
    (seen,) = platform.seen
    assert seen.target == CATALOG + "?q=%E5%BC%A0%20%E4%B8%89&from=a/b&x=~"
    h = seen.headers
    message = "\n".join(["GET", seen.target, h["x-timestamp"], h["x-nonce"],
                         hashlib.sha256(b"").hexdigest()]).encode()
    assert hmac.new(backend.secret, message, hashlib.sha256).hexdigest() == h["x-signature"]
