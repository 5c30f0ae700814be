"""Heartbeats and fault events from a terminal to the reference platform, over HTTP."""

from __future__ import annotations

import time
from typing import Any

import requests

from kiosk.backend.client import BackendClient
from kiosk.heartbeat import Heartbeat, fault_signature
from kiosk.maintenance.health import DeviceHealth
from kiosk.runtime import Runtime
from reference_backend.fleet import FaultEvent, Fleet, HeartbeatBody


def fleet_state(url: str) -> dict[str, Any]:
    terminals = requests.get(url + "/fleet.json", timeout=5).json()["terminals"]
    return {t["terminal"]: t for t in terminals}


def terminal_runtime(kiosk_config, fb, tid: str, **devices: str) -> Runtime:  # type: ignore[no-untyped-def]
    cfg = kiosk_config.with_section("terminal", id=tid)
    if devices:
        cfg = cfg.with_section("devices", **devices)
    rt = Runtime.create(cfg)
    rt.open_devices()
    rt.backend = fb.client(tid)
    rt.backend_ready.set()
    return rt


def test_heartbeat_reaches_the_fleet(kiosk_config, fleet_backend) -> None:  # type: ignore[no-untyped-def]
    rt = terminal_runtime(kiosk_config, fleet_backend, "DG-FLEET-0001", receipt="sim://?paper=low")
    try:
        hb = Heartbeat(rt, interval_s=60, via="direct")
        assert hb.beat()
        state = fleet_state(fleet_backend.url)["DG-FLEET-0001"]
        assert state["status"] == "online" and state["heartbeats"] == 1
        assert state["app_version"] and state["packages"]["active"]
        assert state["outbox"]["available"] and state["outbox"]["total"] >= 0
        assert [(f["device"], f["level"]) for f in state["faults"]] == [("receipt", "warning")]
        # The warning also went out as an event, the moment it was seen.
        assert [(e["device"], e["type"]) for e in state["events"]] == [("receipt", "warning")]
    finally:
        rt.close()


def test_fault_and_recovery_events(kiosk_config, fleet_backend) -> None:  # type: ignore[no-untyped-def]
    rt = terminal_runtime(kiosk_config, fleet_backend, "DG-FLEET-0002")
    try:
        hb = Heartbeat(rt, interval_s=60, via="direct")
        assert hb.beat()
        assert hb.poll_faults() == []  # nothing changed
        rt.devices["receipt"].set_paper("out")  # type: ignore[attr-defined]
        events = hb.poll_faults()
        assert [(e["type"], e["device"]) for e in events] == [("fault", "receipt")]
        state = fleet_state(fleet_backend.url)["DG-FLEET-0002"]
        assert [(f["device"], f["level"], f["details"]) for f in state["faults"]] == [
            ("receipt", "fault", ["paper_out"])]
        rt.devices["receipt"].set_paper("ok")  # type: ignore[attr-defined]
        assert [e["type"] for e in hb.poll_faults()] == ["recovered"]
        state = fleet_state(fleet_backend.url)["DG-FLEET-0002"]
        assert state["faults"] == []
        assert [e["type"] for e in state["events"]] == ["fault", "recovered"]
    finally:
        rt.close()


def test_events_wait_while_the_platform_is_unreachable(kiosk_config, fleet_backend) -> None:  # type: ignore[no-untyped-def]
    rt = terminal_runtime(kiosk_config, fleet_backend, "DG-FLEET-0003")
    secret = fleet_backend.terminals["DG-FLEET-0003"]
    rt.backend = BackendClient("http://127.0.0.1:9", "DG-FLEET-0003", secret,
                               connect_timeout=0.5, read_timeout=0.5)
    try:
        hb = Heartbeat(rt, interval_s=60, via="direct")
        rt.devices["a4"].set_media("jam")  # type: ignore[attr-defined]
        assert not hb.beat()
        assert hb.failed == 1 and len(hb._pending) == 1 and hb.last_problem == "backend.unreachable"
        rt.backend = fleet_backend.client("DG-FLEET-0003")  # the network is back
        assert hb.beat()
        state = fleet_state(fleet_backend.url)["DG-FLEET-0003"]
        assert [(e["device"], e["type"]) for e in state["events"]] == [("a4", "fault")]
        assert not hb._pending
    finally:
        rt.close()


def test_through_the_runtime_record_when_an_outbox_exists(kiosk_config, recorder) -> None:  # type: ignore[no-untyped-def]
    rt = Runtime.create(kiosk_config.with_section("devices", receipt="sim://?cover=open"))
    rt.open_devices()
    rt.record = recorder  # type: ignore[method-assign]
    try:
        hb = Heartbeat(rt, interval_s=60, via="outbox")
        assert hb.beat()
        streams = [s for s, _ in recorder.items]
        assert streams == ["telemetry", "heartbeat"]
        assert recorder.items[0][1]["type"] == "fault"
        body = HeartbeatBody.model_validate(recorder.items[1][1])
        assert body.devices["receipt"].fault
    finally:
        rt.close()


def test_the_heartbeat_thread_beats_and_stops(kiosk_config, fleet_backend) -> None:  # type: ignore[no-untyped-def]
    rt = terminal_runtime(kiosk_config, fleet_backend, "DG-FLEET-0001")
    hb = Heartbeat(rt, interval_s=0.2, fault_poll_s=0.05, via="direct").start()
    try:
        deadline = time.monotonic() + 20
        while hb.sent < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hb.sent >= 3
    finally:
        hb.stop()
        rt.close()
    assert hb._thread is None


def test_disabled_heartbeat_starts_no_thread(kiosk_config) -> None:  # type: ignore[no-untyped-def]
    rt = Runtime.create(kiosk_config.with_section("heartbeat", interval_s=0))
    hb = Heartbeat(rt).start()
    assert hb._thread is None


def test_fault_signature() -> None:
    ok = DeviceHealth("receipt", "sim://", "online")
    low = DeviceHealth("receipt", "sim://", "online", ("paper_low",))
    out = DeviceHealth("receipt", "sim://", "user_error", ("paper_out",))
    absent = DeviceHealth("camera", "sim://", "no_device", fitted=False)
    assert fault_signature(ok) == ("ok", ()) == fault_signature(absent)
    assert fault_signature(low) == ("warning", ("paper_low",))
    assert fault_signature(out) == ("fault", ("user_error", "paper_out"))


class Clock:
    t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def test_fleet_status_online_late_silent_and_replays() -> None:
    clock = Clock()
    fleet = Fleet(clock)
    beat: dict[str, Any] = {"seq": 2, "sent_at": clock.t,
                            "devices": {"a4": {"state": "online"}},
                            "heartbeat": {"interval_s": 60}}
    fleet.heartbeat("T1", HeartbeatBody.model_validate(beat))
    assert fleet.snapshot()[0]["status"] == "online"
    clock.t += 181
    assert fleet.snapshot()[0]["status"] == "late"
    clock.t += 500
    assert fleet.snapshot()[0]["status"] == "silent"
    # An old heartbeat replayed from an outbox does not overwrite newer state ...
    fleet.event("T1", FaultEvent.model_validate({"type": "fault", "key": "k" * 10,
                                                 "device": "a4", "state": "user_error",
                                                 "details": ["paper_out"],
                                                 "at": beat["sent_at"] + 5}))
    old = dict(beat, seq=1, sent_at=beat["sent_at"] - 30)
    fleet.heartbeat("T1", HeartbeatBody.model_validate(old))
    row = fleet.snapshot()[0]
    assert row["status"] == "online" and row["faults"][0]["level"] == "fault"
    # ... and an event is applied once, whatever the number of deliveries.
    assert fleet.event("T1", FaultEvent.model_validate({"type": "fault", "key": "k" * 10,
                                                        "device": "a4", "at": 1.0}))["duplicate"]
    assert fleet.ingest("T1", "heartbeat", {"seq": "x"}) == "invalid_heartbeat"
    assert fleet.ingest("T1", "telemetry", {"type": "something_else"}) == ""
    assert fleet.ingest("T1", "heartbeat", ["not", "a", "dict"]) == "payload_not_object"


def test_fleet_endpoints_need_a_signed_terminal(fleet_backend) -> None:  # type: ignore[no-untyped-def]
    r = requests.post(fleet_backend.url + "/api/v1/fleet/heartbeat",
                      json={"seq": 1, "sent_at": 1.0}, timeout=5)
    assert r.status_code == 401
    c = fleet_backend.client("DG-FLEET-0001")
    import pytest

    from kiosk.backend.client import BackendError

    with pytest.raises(BackendError) as err:
        c.post_json("/api/v1/fleet/events", {"type": "fault", "key": "abcdefgh12",
                                             "device": "a4", "at": 1.0})
    assert err.value.status == 400  # no Idempotency-Key
    with pytest.raises(BackendError) as err:
        c.post_json("/api/v1/fleet/heartbeat", {"seq": 1, "sent_at": 1.0,
                                                "devices": {f"d{i}": {"state": "online"}
                                                            for i in range(40)}})
    assert err.value.status == 422


def test_heartbeats_and_faults_through_the_durable_outbox(  # type: ignore[no-untyped-def]
        make_runtime, backend, wait_until) -> None:
    """The real path on a terminal: runtime.record -> SQLite outbox -> replay worker ->
    /api/v1/outbox/batch -> the fleet's latest state (streams heartbeat and telemetry)."""
    rt = make_runtime(receipt="sim://?cover=open")
    rt.start_offline()
    hb = Heartbeat(rt, interval_s=60)  # via="auto": the runtime has an outbox
    assert hb._use_outbox()
    assert hb.beat()
    wait_until(lambda: backend.terminal_id in fleet_state(backend.url)
               and fleet_state(backend.url)[backend.terminal_id]["faults"], timeout=30,
               what="heartbeat delivered through the outbox")
    state = fleet_state(backend.url)[backend.terminal_id]
    assert ("receipt", "fault") in [(f["device"], f["level"]) for f in state["faults"]]
    assert ("receipt", "fault") in [(e["device"], e["type"]) for e in state["events"]]
    wait_until(lambda: (rt.offline.status()["outbox"]["depth"].get("heartbeat", 0) == 0),
               timeout=30, what="outbox drained")
    assert hb.beat()  # the next heartbeat reports the drained outbox
    wait_until(lambda: fleet_state(backend.url)[backend.terminal_id]["heartbeats"] >= 2,
               timeout=30, what="second heartbeat")
    assert fleet_state(backend.url)[backend.terminal_id]["outbox"]["available"] is True
