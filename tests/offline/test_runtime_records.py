"""Runtime.record → outbox: the evaluation step enqueues instead of posting, one
transaction record per flow, and the high-water mark refuses a flow before it starts."""

from __future__ import annotations

import requests

from kiosk.flows.screens import ScreenKind
from offline_cache.outbox import OutboxPolicy

from .flows import run_flow
from .helpers import worker_for


def test_evaluation_is_queued_durably_then_delivered(make_runtime, backend, admin) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime()
    result, _, session = run_flow(rt, "ss_certificate")
    assert result.outcome == "completed"
    outbox = rt.offline.open()
    queued = {s: [i.payload for i in outbox.head(s, 1000) if i.payload.get("session") == session.id]
              for s in ("evaluation", "transaction")}
    assert [e["stars"] for e in queued["evaluation"]] == [4]
    assert [t["outcome"] for t in queued["transaction"]] == ["completed"]

    def delivered() -> list[dict]:  # type: ignore[type-arg]
        state = requests.get(f"{backend.url}/_admin/state", headers=admin.headers,
                             timeout=5).json()
        return [e for e in state["evaluations"] if e.get("session") == session.id]

    assert delivered() == []  # nothing was posted by the step itself
    assert worker_for(outbox, backend).flush() == 0
    assert [e["stars"] for e in delivered()] == [4]


def test_high_water_mark_refuses_a_flow_before_anything_happens(make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime()
    outbox = rt.offline.open()
    outbox.policy = OutboxPolicy(max_items=10, high_water=0.5, min_free_bytes=0)
    for i in range(5):
        rt.record("submission", {"n": i})
    result, ui, session = run_flow(rt, "ss_certificate")
    assert (result.outcome, result.error_key) == ("failed", "outbox.full")
    (screen,) = ui.screens
    assert screen.kind is ScreenKind.ERROR
    assert screen.text == "本机暂存空间已满，暂时无法受理新的业务，请联系大厅工作人员"
    assert rt.devices["a4"].jobs == [] and rt.devices["receipt"].jobs == []
    assert len(outbox.head("submission", 100)) == 5  # nothing queued was discarded
    assert session.identity is None
