"""The terminal's heartbeat and fault events on the fleet channel (real Mosquitto), the
kiosk serving citizens with the broker down, and no personal data on the channel."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import wait_for

from kiosk.backend.client import BackendClient
from kiosk.flows.interaction import ScriptedInteraction
from kiosk.flows.screens import Response, Screen, ScreenKind
from kiosk.heartbeat import Heartbeat, fault_signature
from kiosk.maintenance.health import DeviceHealth
from kiosk.runtime import Runtime
from synthetic.citizens import BY_KEY


@pytest.fixture
def make_terminal(backend: Any, tmp_path: Path) -> Iterator[Callable[..., Runtime]]:
    """A runtime on simulated devices with the fleet channel configured from the file
    and keys a technician would set (password in a file beside the data)."""
    from kiosk.config import Config, validate_config

    made: list[Runtime] = []

    def make(broker_url: str, password: str | None, **devices: str) -> Runtime:
        pw_file = tmp_path / "fleet.password"
        if password is not None:
            pw_file.write_text(password + "\n")
        cfg = Config().with_section(
            "devices", **{"idcard": "sim://?card=chen", "sscard": "sim://",
                          "a4": f"sim://?spool={tmp_path / 'a4'}",
                          "receipt": f"sim://?spool={tmp_path / 'receipt'}", **devices})
        cfg = cfg.with_section("storage", data_dir=str(tmp_path / "data"))
        cfg = cfg.with_section("terminal", id=backend.terminal_id)
        # The shared platform, not an embedded one: no e-seal root (tests/conftest.py).
        cfg = cfg.with_section("backend", url=backend.url)
        cfg = cfg.with_section("fleet", broker_url=broker_url,
                               password_file=str(pw_file) if password is not None else "",
                               password_env="KIOSK_TEST_NO_SUCH_VARIABLE",
                               reconnect_min_s=0.05, reconnect_max_s=0.5,
                               reconnect_spread_s=0.0)
        rt = Runtime.create(validate_config(cfg))
        rt.open_devices()
        rt.backend = BackendClient(backend.url, backend.terminal_id, backend.secret)
        rt.backend_ready.set()
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.close()


def answer(screen: Screen) -> Response | None:
    """A citizen who takes the first choice and the primary action on every screen."""
    if screen.kind is ScreenKind.RATING:
        return Response("submit", {"stars": 5, "tags": []})
    if screen.kind is ScreenKind.ERROR:
        return Response("home")  # a fault: the citizen leaves rather than retry forever
    if screen.kind in (ScreenKind.PROGRESS, ScreenKind.IDENTIFY):
        return None
    primary = [a for a in screen.actions if a.primary]
    if primary:
        return Response(primary[0].id)
    return Response(screen.options[0].id) if screen.options else None


def serve_citizen(rt: Runtime, flow: str = "ss_certificate") -> str:
    session = rt.new_session()
    result = rt.run_flow(flow, session, ScriptedInteraction(session.cancel, answer))
    return str(result.outcome)


def test_heartbeat_and_fault_events_on_the_channel(mosquitto: Any, subscriber: Any,
                                                   make_terminal: Any, backend: Any) -> None:
    tid = backend.terminal_id
    creds = mosquitto.provision([tid])
    watch = subscriber()
    rt = make_terminal(mosquitto.setup.url, creds[tid], receipt="sim://?paper=low")
    hb = Heartbeat(rt, interval_s=60)
    try:
        hb.fleet.start()
        wait_for(lambda: hb.fleet.connected, what="connected")
        assert hb.beat()
        wait_for(lambda: watch.on(tid, "health") and watch.on(tid, "events"), what="beat")
        health = watch.bodies(tid, "health")[-1]["body"]
        assert health["devices"]["receipt"]["details"] == ["paper_low"]
        assert health["app_version"] and health["packages"]["active"]
        assert health["outbox"]["available"] is True and health["fleet"]["connected"]
        # The warning went out as an event the moment it was seen.
        assert [(e["type"], e["body"]["device"]) for e in watch.bodies(tid, "events")] == [
            ("warning", "receipt")]
        assert hb.poll_faults() == []  # nothing changed
        rt.devices["receipt"].set_paper("out")  # type: ignore[attr-defined]
        assert [e["type"] for e in hb.poll_faults()] == ["fault"]
        rt.devices["receipt"].set_paper("ok")  # type: ignore[attr-defined]
        assert [e["type"] for e in hb.poll_faults()] == ["recovered"]
        wait_for(lambda: len(watch.on(tid, "events")) == 3, what="fault and recovery")
        events = watch.bodies(tid, "events")
        assert [e["type"] for e in events] == ["warning", "fault", "recovered"]
        assert events[1]["body"]["details"] == ["paper_out"]
        assert len({e["id"] for e in events}) == 3
    finally:
        hb.stop()


def test_the_heartbeat_thread_beats_and_says_goodbye(mosquitto: Any, subscriber: Any,
                                                     make_terminal: Any, backend: Any) -> None:
    tid = backend.terminal_id
    creds = mosquitto.provision([tid])
    watch = subscriber()
    rt = make_terminal(mosquitto.setup.url, creds[tid])
    hb = Heartbeat(rt, interval_s=0.2, fault_poll_s=0.05).start()
    try:
        wait_for(lambda: len(watch.on(tid, "health")) >= 3, what="three beats")
    finally:
        hb.stop()
    assert hb._thread is None
    wait_for(lambda: watch.bodies(tid, "state")
             and watch.bodies(tid, "state")[-1]["body"]["online"] is False, what="goodbye")


def test_without_a_broker_faults_still_pause_services(make_terminal: Any) -> None:
    rt = make_terminal("", None, a4="sim://?media=jam")
    hb = Heartbeat(rt, interval_s=60)
    assert hb.fleet is None
    assert not hb.beat()  # nothing to publish to
    assert "a4" in rt.device_faults  # the device-pause hook still runs


def test_a_broker_without_a_password_leaves_the_kiosk_running(make_terminal: Any) -> None:
    rt = make_terminal("mqtt://127.0.0.1:1", None)
    hb = Heartbeat(rt, interval_s=60)
    assert hb.fleet is None and hb.last_problem == "fleet.password_missing"
    hb.poll_faults()


def test_disabled_heartbeat_starts_no_thread(make_terminal: Any) -> None:
    rt = make_terminal("", None)
    hb = Heartbeat(rt, interval_s=0).start()
    assert hb._thread is None


def test_fault_signature() -> None:
    ok = DeviceHealth("receipt", "sim://", "online")
    low = DeviceHealth("receipt", "sim://", "online", ("paper_low",))
    out = DeviceHealth("receipt", "sim://", "user_error", ("paper_out",))
    absent = DeviceHealth("camera", "sim://", "no_device", fitted=False)
    assert fault_signature(ok) == ("ok", ()) == fault_signature(absent)
    assert fault_signature(low) == ("warning", ("paper_low",))
    assert fault_signature(out) == ("fault", ("user_error", "paper_out"))


def test_the_kiosk_serves_citizens_with_the_broker_down(make_terminal: Any, backend: Any,
                                                        make_mosquitto: Any,
                                                        subscriber: Any) -> None:
    """Broker unreachable at start and throughout a citizen's visit: the flow completes,
    the heartbeat keeps its rounds, the fault event waits; later it arrives, once."""
    broker = make_mosquitto()
    tid = backend.terminal_id
    password = broker.setup.add_terminals([tid])[tid]
    rt = make_terminal(broker.setup.url, password, receipt="sim://?paper=low")
    hb = Heartbeat(rt, interval_s=0.2, fault_poll_s=0.05).start()
    try:
        assert serve_citizen(rt) == "completed"
        wait_for(lambda: hb.failed >= 2, what="heartbeat rounds while the broker is down")
        assert hb.fleet.pending() == 1 and not hb.fleet.connected  # the paper-low warning
        assert serve_citizen(rt) == "completed"
        broker.start()
        watch = subscriber(broker)
        wait_for(lambda: hb.fleet.pending() == 0, what="the warning delivered")
        wait_for(lambda: watch.on(tid, "health"), what="health once the broker is up")
    finally:
        hb.stop()


def test_no_personal_data_on_the_channel(mosquitto: Any, subscriber: Any, make_terminal: Any,
                                         backend: Any) -> None:
    """A subscriber on guanjia/# during a whole citizen visit (identify by ID card,
    certificate, receipt, rating) with the heartbeat beating and a fault mid-visit."""
    tid = backend.terminal_id
    creds = mosquitto.provision([tid])
    watch = subscriber(topic="guanjia/#")
    rt = make_terminal(mosquitto.setup.url, creds[tid])
    hb = Heartbeat(rt, interval_s=0.1, fault_poll_s=0.05).start()
    try:
        wait_for(lambda: watch.on(tid, "health"), what="first beat")
        assert serve_citizen(rt) == "completed"
        rt.devices["receipt"].set_paper("out")  # type: ignore[attr-defined]
        assert serve_citizen(rt, "tax_list") in ("completed", "failed")
        seen = len(watch.messages)
        wait_for(lambda: len(watch.messages) > seen + 2, what="beats after the visits")
    finally:
        hb.stop()
    chen = BY_KEY["chen"]
    text = "\n".join(m.payload.decode() for m in watch.messages)
    assert watch.on(tid, "events") and len(watch.messages) > 5
    for secret in (chen.id_number, chen.name, chen.ss_card_no, chen.address):
        assert secret not in text
        assert json.dumps(secret)[1:-1] not in text  # nor \\u-escaped
