"""The link dropped (a TCP proxy that is cut) at every backend call of every flow; items
queued while offline arrive after reconnection, in order per stream."""

from __future__ import annotations

import time
from typing import Any

from kiosk.flows.screens import ScreenKind
from kiosk.network import LinkState
from offline_cache.outbox import Item

from .flows import run_flow
from .helpers import client_for


def _via_proxy(make_runtime: Any, backend: Any, proxy: Any) -> Any:
    rt = make_runtime()
    rt.backend = client_for(backend, proxy.url, read_timeout=5.0)
    return rt


def _records(rt: Any, stream: str, session_id: str) -> list[dict[str, Any]]:
    outbox = rt.offline.open()
    return [i.payload for i in outbox.head(stream, 10_000)
            if isinstance(i, Item) and i.payload.get("session") == session_id]


def test_link_cut_at_every_backend_call_of_every_flow(make_runtime, backend, proxy) -> None:  # type: ignore[no-untyped-def]
    covered: dict[str, int] = {}
    degraded: dict[str, int] = {}
    probe = _via_proxy(make_runtime, backend, proxy)
    for flow in probe.package.catalog():
        proxy.restore()
        proxy.requests.clear()
        rt = _via_proxy(make_runtime, backend, proxy)
        clean, _, _ = run_flow(rt, flow.id)
        if clean.outcome != "completed":
            continue  # needs answers this generic citizen does not give
        calls = len(proxy.requests)
        covered[flow.id] = calls
        for n in range(1, calls + 1):
            proxy.restore()
            proxy.cut_at(n)
            rt = _via_proxy(make_runtime, backend, proxy)
            result, ui, session = run_flow(rt, flow.id)
            where = f"{flow.id}: link cut at backend call {n}/{calls} ({proxy.requests[-1]})"
            tx = _records(rt, "transaction", session.id)
            if not flow.requires_online and result.outcome == "completed":
                # an offline-capable flow may serve from what it has: still one record
                assert [r["outcome"] for r in tx] == ["completed"], where
                degraded[flow.id] = degraded.get(flow.id, 0) + 1
                continue
            assert result.outcome == "failed", where
            assert result.error_key in ("backend.unreachable", "backend.timeout"), where
            errors = [s for s in ui.screens if s.kind is ScreenKind.ERROR]
            assert len(errors) == 1, where
            t = rt.package.translator("zh_CN")
            assert errors[0].text == t(result.error_key) != result.error_key, where
            # no partial state: nothing printed, nothing recorded twice, no evaluation
            assert rt.devices["a4"].jobs == [] and rt.devices["receipt"].jobs == [], where
            assert [(r["outcome"], r["error"]) for r in tx] == [("failed", result.error_key)]
            assert _records(rt, "evaluation", session.id) == []
    assert covered.get("ss_certificate", 0) >= 1, covered
    assert not any(probe.package.flows[f].requires_online for f in degraded), degraded


def test_items_queued_offline_arrive_after_reconnection_in_order(  # type: ignore[no-untyped-def]
        make_runtime, backend, proxy, admin, stream_prefix) -> None:
    rt = _via_proxy(make_runtime, backend, proxy)
    rt.config = rt.config.with_section("offline", probe_interval_s=0.2, probe_backoff_cap_s=0.3,
                                       backoff_base_s=0.05, backoff_cap_s=0.3,
                                       reconnect_spread_s=0.2)
    rt.offline.config = rt.config
    proxy.cut()
    rt.start_offline()
    monitor = rt.offline.monitor
    assert monitor is not None and monitor.wait_for(LinkState.OFFLINE, 20)
    streams = [stream_prefix + s for s in ("audit", "transaction", "submission")]
    for i in range(45):
        rt.record(streams[i % 3], {"n": i})
    result, _, _session = run_flow(rt, "ss_certificate")  # needs the platform: fails cleanly
    assert result.outcome == "failed"
    outbox = rt.offline.outbox
    expected = {s: [it.key for it in outbox.head(s, 100)] for s in streams}
    assert all(len(v) == 15 for v in expected.values())
    time.sleep(0.5)  # the worker keeps trying while the link is down ...
    assert admin.applied(stream_prefix)["order"] == {}  # ... and nothing got through
    assert outbox.status().streams[0].head_attempts >= 1
    proxy.restore()
    assert monitor.wait_for(LinkState.ONLINE, 20)
    deadline = time.monotonic() + 30
    while outbox.depth() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert outbox.depth() == 0, outbox.status().as_dict()
    got = admin.applied(stream_prefix)
    assert got["order"] == expected
    assert all(n == 1 for n in got["received"].values())
