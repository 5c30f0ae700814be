"""The replay worker against the reference backend over HTTP: order, batching, dead
letters, Retry-After, and lost acknowledgements (applied once)."""

from __future__ import annotations

import time

import pytest

from offline_cache.replay import Backoff, HttpDeliverer

from .helpers import client_for, worker_for


def test_delivers_in_order_per_stream_in_batches(  # type: ignore[no-untyped-def]
        make_outbox, backend, admin, stream_prefix) -> None:
    ob = make_outbox()
    a, b = stream_prefix + "audit", stream_prefix + "transaction"
    keys: dict[str, list[str]] = {a: [], b: []}
    for i in range(120):
        s = a if i % 3 else b
        keys[s].append(ob.enqueue(s, {"n": i}))
    worker = worker_for(ob, backend, batch_size=50)
    report = worker.run_pass()
    assert report is not None and report.delivered == 120 and ob.depth() == 0
    got = admin.applied(stream_prefix)
    assert got["order"] == keys
    assert all(got["received"][k] == 1 for k in keys[a] + keys[b])
    assert report.requests == 2 + 1  # 80 items in 2 batches of 50/30, 40 items in one


def test_a_backlog_of_large_items_goes_in_requests_of_bounded_size(  # type: ignore[no-untyped-def]
        make_outbox, backend, admin, stream_prefix) -> None:
    """Captured pages are hundreds of KB each: a backlog goes in requests of at most
    `batch_bytes` sealed bytes (a larger single item alone), in order, each applied once."""
    ob = make_outbox()
    s = stream_prefix + "materials"
    keys = [ob.enqueue(s, {"n": i, "pdf": "JVBERi0" + "x" * 300_000}) for i in range(6)]
    keys.append(ob.enqueue(s, {"n": 6, "pdf": "JVBERi0" + "y" * 900_000}))  # over the bound
    worker = worker_for(ob, backend, batch_size=50, batch_bytes=700_000)
    report = worker.run_pass()
    assert report is not None and report.delivered == 7 and ob.depth() == 0
    got = admin.applied(stream_prefix)
    assert got["order"] == {s: keys} and all(got["received"][k] == 1 for k in keys)
    assert report.requests == 4  # 2 + 2 + 2 items of ~300 KB, then the large one alone


def test_items_of_the_evaluation_stream_become_evaluations(make_outbox, backend, admin) -> None:  # type: ignore[no-untyped-def]
    import requests

    ob = make_outbox()
    service = "svc-" + str(time.time_ns())
    ob.enqueue("evaluation", {"service": service, "stars": 4, "tags": ["fast"]})
    assert worker_for(ob, backend).flush() == 0
    state = requests.get(f"{backend.url}/_admin/state", headers=admin.headers, timeout=5).json()
    assert [e["stars"] for e in state["evaluations"] if e["service"] == service] == [4]


def test_permanent_rejection_goes_to_dead_letter_and_the_stream_moves_on(  # type: ignore[no-untyped-def]
        make_outbox, backend, admin, stream_prefix) -> None:
    ob = make_outbox()
    s = stream_prefix + "audit"
    k1 = ob.enqueue(s, {"n": 1})
    bad = ob.enqueue(s, {"n": 2, "reject": "no_such_service"})
    k3 = ob.enqueue(s, {"n": 3})
    worker = worker_for(ob, backend)
    assert worker.flush() == 0
    st = ob.status()
    assert [(d.key, d.reason) for d in st.dead] == [(bad, "no_such_service")]
    assert admin.applied(stream_prefix)["order"] == {s: [k1, k3]}


def test_a_whole_batch_refused_with_4xx_is_split_to_find_the_offender(  # type: ignore[no-untyped-def]
        make_outbox, backend, admin, stream_prefix) -> None:
    ob = make_outbox()
    s = stream_prefix + "audit"
    good = [ob.enqueue(s, {"n": i}) for i in range(3)]
    # the batch draws a 400, then so does the first item sent alone: only it is buried
    admin.fault(mode="status", status=400, count=2, terminal=backend.terminal_id)
    assert worker_for(ob, backend).flush() == 0
    st = ob.status()
    assert len(st.dead) == 1 and st.dead[0].status == 400 and st.dead[0].key == good[0]
    assert admin.applied(stream_prefix)["order"] == {s: good[1:]}


@pytest.mark.parametrize("status", [503, 429])
def test_transient_failure_retries_no_sooner_than_retry_after(  # type: ignore[no-untyped-def]
        make_outbox, backend, admin, stream_prefix, status: int) -> None:
    ob = make_outbox()
    s = stream_prefix + "audit"
    key = ob.enqueue(s, {"n": 1})
    admin.fault(mode="status", status=status, retry_after=120, count=1,
                terminal=backend.terminal_id)
    worker = worker_for(ob, backend, backoff=Backoff(base=1, cap=8))
    before = time.time()
    report = worker.run_pass()
    assert report is not None and report.delivered == 0
    (item,) = ob.head(s)
    assert item.attempts == 1 and f"({status})" in item.last_error
    assert "retry-after 120" in item.last_error
    assert before + 120 <= item.next_attempt <= time.time() + 120 + 1  # floor + jitter(<=1s)
    again = worker.run_pass()  # not due: nothing is sent
    assert again is not None and again.requests == 0 and again.next_due == item.next_attempt
    assert worker.flush() == 0  # a technician's flush delivers now
    assert admin.applied(stream_prefix)["order"] == {s: [key]}


@pytest.mark.parametrize("mode", ["commit_then_drop", "commit_then_error", "commit_then_stall"])
def test_lost_acknowledgement_is_applied_once(  # type: ignore[no-untyped-def]
        make_outbox, backend, admin, stream_prefix, mode: str) -> None:
    ob = make_outbox()
    s = stream_prefix + "transaction"
    keys = [ob.enqueue(s, {"n": i}) for i in range(5)]
    admin.fault(mode=mode, count=1, stall_s=2.0, terminal=backend.terminal_id)
    worker = worker_for(ob, backend, read_timeout=0.7)
    first = worker.run_pass()
    assert first is not None and first.delivered == 0 and ob.depth() == 5  # not acknowledged
    assert worker.flush() == 0
    got = admin.applied(stream_prefix)
    assert got["order"] == {s: keys}  # applied once each, in order
    assert all(got["received"][k] == 2 for k in keys)  # the replay was de-duplicated


def test_lost_acknowledgement_on_a_dropped_tcp_connection(  # type: ignore[no-untyped-def]
        make_outbox, backend, admin, proxy, stream_prefix) -> None:
    ob = make_outbox()
    s = stream_prefix + "transaction"
    keys = [ob.enqueue(s, {"n": i}) for i in range(3)]
    proxy.drop_response_at(1)  # the backend commits, the answer never reaches us
    worker = worker_for(ob, backend, proxy.url)
    first = worker.run_pass()
    assert first is not None and first.delivered == 0 and ob.depth() == 3
    assert "network:" in ob.head(s)[0].last_error
    assert worker.flush() == 0
    got = admin.applied(stream_prefix)
    assert got["order"] == {s: keys} and all(got["received"][k] == 2 for k in keys)


def test_falls_back_to_single_items_when_the_platform_cannot_batch(  # type: ignore[no-untyped-def]
        make_outbox, backend, admin, stream_prefix) -> None:
    ob = make_outbox()
    s = stream_prefix + "audit"
    keys = [ob.enqueue(s, {"n": i}) for i in range(4)]
    deliverer = HttpDeliverer(client_for(backend))
    deliverer.BATCH_PATH = "/api/v1/outbox/no-such-batch"  # a platform without batching
    from offline_cache.replay import ReplayWorker

    worker = ReplayWorker(ob, deliverer, batch_size=10)
    assert worker.flush() == 0 and deliverer.batching is False
    assert admin.applied(stream_prefix)["order"] == {s: keys}


def test_only_one_replay_pass_at_a_time(make_outbox, backend) -> None:  # type: ignore[no-untyped-def]
    ob = make_outbox()
    ob.enqueue("audit", {"n": 1})
    w1, w2 = worker_for(ob, backend), worker_for(ob, backend)
    assert w1.lock.acquire()
    try:
        assert w2.run_pass() is None  # another pass (maybe another process) holds it
    finally:
        w1.lock.release()
    assert w2.run_pass() is not None
