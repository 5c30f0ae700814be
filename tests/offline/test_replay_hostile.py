"""The replay worker against a hostile platform on 127.0.0.1 (issue 13, items 1 to 3): only
an answer naming an item's idempotency key deletes it; 2xx answers that do not, redirects,
dripping and oversized answers leave it queued, and a persistent non-acknowledgement
becomes a dead letter that is kept and can be delivered later."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from emulators.hostile_platform import (
    Action,
    Drip,
    Flood,
    HostilePlatform,
    Redirect,
    Reply,
    ack_others,
    json_reply,
    portal_reply,
)
from offline_cache.replay import UNACKED_PREFIX

from .helpers import worker_for

LIMIT = 3


@pytest.fixture
def hostile() -> Iterator[Any]:
    made: list[HostilePlatform] = []

    def make(default: Action) -> HostilePlatform:
        made.append(HostilePlatform(default))
        return made[-1]

    yield make
    for peer in made:
        peer.close()


def _named_without_status(keys: list[str], batching: bool) -> Reply:
    """Results that name the items but do not say they were applied."""
    results = [{"key": k, "status": "received"} for k in keys]
    return json_reply({"results": results} if batching else results[0])


NOT_ACKS: dict[str, Any] = {
    "empty": Reply(200),
    "ok": json_reply({"ok": True}),
    "portal": portal_reply(),
    "other-keys": ack_others(("someone-else-0001", "someone-else-0002")),
    "empty-201": Reply(201),
    "empty-204": Reply(204),
    "named-not-applied": _named_without_status,
}


@pytest.mark.parametrize("batching", [False, True], ids=["one-by-one", "batched"])
@pytest.mark.parametrize("answer", sorted(NOT_ACKS))
def test_a_2xx_that_does_not_name_the_item_never_deletes_it(  # type: ignore[no-untyped-def]
        make_outbox, backend, admin, hostile, stream_prefix, answer: str, batching: bool) -> None:
    ob = make_outbox()
    s = stream_prefix + "transaction"
    n = 3 if batching else 1
    keys = [ob.enqueue(s, {"n": i}, key=f"{stream_prefix}{answer}-{i}") for i in range(n)]
    action = NOT_ACKS[answer]
    peer = hostile(action(keys, batching) if callable(action) else action)
    links: list[bool] = []
    worker = worker_for(ob, backend, peer.url, batching=batching, unacked_limit=LIMIT,
                        on_link=links.append)

    first = worker.run_pass(force=True)
    assert first is not None and first.delivered == 0
    assert ob.depth() == n  # kept: nothing acknowledged it
    head = ob.head(s)[0]
    assert head.key == keys[0] and head.attempts == 1
    assert head.last_error.startswith(UNACKED_PREFIX)
    assert True not in links  # a page or a bare 200 is no evidence the platform is there

    for _ in range(LIMIT - 1):
        worker.run_pass(force=True)
    st = ob.status()
    assert ob.depth() == 0 and sorted(d.key for d in st.dead) == sorted(keys)
    assert all(d.reason.startswith(UNACKED_PREFIX) and d.attempts == LIMIT for d in st.dead)
    assert len(peer.seen) == LIMIT * (1 if batching else n)

    # Nothing was lost: put back, the real platform applies each item once, in order.
    assert ob.retry_dead() == n
    assert worker_for(ob, backend).flush() == 0
    assert admin.applied(stream_prefix)["order"] == {s: keys}


def test_the_reference_platform_acknowledges_by_key_one_by_one_and_in_batches(  # type: ignore[no-untyped-def]
        make_outbox, backend, admin, stream_prefix) -> None:
    ob = make_outbox()
    s = stream_prefix + "audit"
    keys = [ob.enqueue(s, {"n": i}) for i in range(2)]
    one = worker_for(ob, backend, batching=False, unacked_limit=1)
    report = one.run_pass(force=True)
    assert report is not None and (report.delivered, report.requests) == (2, 2)
    keys += [ob.enqueue(s, {"n": i}) for i in range(2, 5)]
    report = worker_for(ob, backend, unacked_limit=1).run_pass(force=True)
    assert report is not None and (report.delivered, report.requests) == (3, 1)
    assert ob.status().dead == () and admin.applied(stream_prefix)["order"] == {s: keys}


@pytest.mark.parametrize("action,key", [
    (Drip(interval_s=0.2, length=200), "backend.timeout"),
    (Flood(100 * 1024 * 1024, True), "backend.answer_too_large"),
    (Flood(None, False), "backend.answer_too_large"),
], ids=["dripping", "100MB", "endless"])
def test_a_stalling_or_flooding_platform_does_not_hold_the_stream(  # type: ignore[no-untyped-def]
        make_outbox, backend, hostile, stream_prefix, action: Action, key: str) -> None:
    ob = make_outbox()
    s = stream_prefix + "transaction"
    k = ob.enqueue(s, {"n": 1})
    peer = hostile(action)
    worker = worker_for(ob, backend, peer.url, read_timeout=5.0, deadline_s=1.0,
                        unacked_limit=1)
    before = time.time()
    report = worker.run_pass()
    assert report is not None and report.delivered == 0 and report.dead == 0
    (item,) = ob.head(s)
    assert item.key == k and item.attempts == 1 and key in item.last_error
    assert item.next_attempt > before and report.next_due == item.next_attempt  # backoff
    assert worker.run_pass(force=True).dead == 0  # type: ignore[union-attr]  # transient
    assert worker_for(ob, backend).flush() == 0  # the real platform takes it


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_off_the_platform_is_retried_never_followed(  # type: ignore[no-untyped-def]
        make_outbox, backend, hostile, stream_prefix, status: int) -> None:
    ob = make_outbox()
    s = stream_prefix + "transaction"
    ob.enqueue(s, {"n": 1})
    elsewhere = hostile(json_reply({"results": []}))
    peer = hostile(Redirect(status, elsewhere.url + "/api/v1/outbox/batch"))
    worker = worker_for(ob, backend, peer.url, unacked_limit=1)
    for _ in range(3):
        assert worker.run_pass(force=True).dead == 0  # type: ignore[union-attr]
    (item,) = ob.head(s)
    assert item.attempts == 3 and "backend.redirect_refused" in item.last_error
    assert elsewhere.seen == [] and len(peer.seen) == 3
