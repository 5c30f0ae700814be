"""Package reports on the fleet channel from a real terminal runtime: `poll_packages` on
command against a real TUF repository over HTTP, `package` events (staged, activated,
waiting_for_session) on the events topic, and the health body's counters since the
activation (sessions, error screens)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from command_helpers import Centre, write_key
from fleet_helpers import wait_for
from packages.conftest import (  # type: ignore[import-not-found]  # tests/packages' helpers
    OpsEnv,
    serve,
)

from kiosk.backend.client import BackendClient
from kiosk.flows.interaction import ScriptedInteraction
from kiosk.flows.screens import Response, Screen, ScreenKind
from kiosk.heartbeat import Heartbeat
from kiosk.runtime import Runtime


@pytest.fixture
def ops_env(tmp_path: Path) -> OpsEnv:
    env = OpsEnv(tmp_path / "ops")
    env.setup()
    return env


def answer(screen: Screen) -> Response | None:
    if screen.kind is ScreenKind.RATING:
        return Response("submit", {"stars": 5, "tags": []})
    if screen.kind is ScreenKind.ERROR:
        return Response("home")
    if screen.kind in (ScreenKind.PROGRESS, ScreenKind.IDENTIFY):
        return None
    primary = [a for a in screen.actions if a.primary]
    if primary:
        return Response(primary[0].id)
    return Response(screen.options[0].id) if screen.options else None


@pytest.fixture
def terminal(tmp_path: Path, mosquitto: Any, backend: Any, ops_env: OpsEnv,
             ) -> Iterator[tuple[Runtime, Heartbeat, Centre, Any]]:
    from kiosk.config import Config, validate_config

    tid = backend.terminal_id
    key, pub = write_key(tmp_path / "centre")
    pw = tmp_path / "fleet.password"
    pw.write_text(mosquitto.provision([tid])[tid])
    with serve(ops_env.repo_dir) as server:
        cfg = Config().with_section(
            "devices", idcard="sim://?card=chen", sscard="sim://",
            a4=f"sim://?spool={tmp_path / 'a4'}", receipt=f"sim://?spool={tmp_path / 'r'}")
        cfg = cfg.with_section("storage", data_dir=str(tmp_path / "data"))
        cfg = cfg.with_section("terminal", id=tid)
        # The shared platform, not an embedded one: no e-seal root (tests/conftest.py).
        cfg = cfg.with_section("backend", url=backend.url)
        cfg = cfg.with_section("packages", repository_url=server.url,
                               trusted_root=str(ops_env.pinned_root))
        cfg = cfg.with_section("fleet", broker_url=mosquitto.setup.url, password_file=str(pw),
                               reconnect_min_s=0.05, reconnect_max_s=0.5,
                               reconnect_spread_s=0.0, command_key=str(pub))
        rt = Runtime.create(validate_config(cfg))
        rt.open_devices()
        rt.backend = BackendClient(backend.url, tid, backend.secret)
        rt.backend_ready.set()
        hb = Heartbeat(rt, interval_s=3600, fault_poll_s=3600).start()
        wait_for(lambda: hb.fleet.link.listening, what="listening")
        from fleet_helpers import Subscriber

        centre = Centre(mosquitto, key, Subscriber(mosquitto))
        try:
            yield rt, hb, centre, server
        finally:
            centre.watch.close()
            centre.close()
            hb.stop()
            rt.close()


def package_events(centre: Centre, tid: str) -> list[tuple[str, str, str]]:
    seen, out = set(), []
    for m in centre.watch.bodies(tid, "events"):
        if m["type"] == "package" and m["id"] not in seen:
            seen.add(m["id"])
            b = m["body"]
            out.append((f"{b['package']}@{b['version']}", b["state"], b["reason"]))
    return out


def health(centre: Centre, hb: Heartbeat, tid: str) -> dict[str, Any]:
    before = len(centre.watch.on(tid, "health"))
    assert hb.beat()
    wait_for(lambda: len(centre.watch.on(tid, "health")) > before, what="health")
    return dict(centre.watch.bodies(tid, "health")[-1]["body"])


def test_poll_on_command_then_staged_activated_and_counted(
        terminal: Any, ops_env: OpsEnv) -> None:
    rt, hb, centre, _server = terminal
    tid = rt.config.terminal.id
    first = health(centre, hb, tid)
    assert first["activated_at"] is None and first["sessions"] == 0
    assert first["error_screens"] == 0 and first["faults"] == 0

    ops_env.publish("dg-extra", "1.0.0")
    cid = centre.send(tid, "poll_packages")
    polled = centre.wait(tid, cid, "done")["result"]
    assert polled["changed"] is True and polled["staged"] == ["dg-extra@1.0.0"]
    wait_for(lambda: package_events(centre, tid), what="staged event")
    assert rt.apply_staged_packages()  # between citizens, as the window does
    wait_for(lambda: len(package_events(centre, tid)) == 2, what="activated event")
    assert package_events(centre, tid) == [("dg-extra@1.0.0", "staged", ""),
                                           ("dg-extra@1.0.0", "activated", "")]
    after = health(centre, hb, tid)
    assert after["activated_at"] and after["packages"]["active"] == [
        "builtin@1.0.0", "dg-extra@1.0.0"]
    assert after["sessions"] == 0

    # A citizen is served, a second one meets a jammed printer (an error screen).
    session = rt.new_session()
    assert rt.run_flow("ss_certificate", session,
                       ScriptedInteraction(session.cancel, answer)).outcome == "completed"
    rt.devices["a4"].set_media("jam")  # type: ignore[attr-defined]
    session = rt.new_session()
    rt.run_flow("ss_certificate", session, ScriptedInteraction(session.cancel, answer))
    counted = health(centre, hb, tid)
    assert counted["sessions"] == 2 and counted["error_screens"] >= 1
    assert counted["activated_at"] == after["activated_at"]
    assert counted["faults"] == 1  # the jam, seen by the heartbeat's fault round

    # A newer version while a citizen is at the terminal: it waits and says so.
    ops_env.publish("dg-extra", "1.1.0")
    session = rt.new_session()
    cid = centre.send(tid, "poll_packages")
    assert centre.wait(tid, cid, "done")["result"]["staged"] == ["dg-extra@1.1.0"]
    wait_for(lambda: ("dg-extra@1.1.0", "waiting_for_session", "session_active")
             in package_events(centre, tid), timeout=30, what="waiting event")
    assert not rt.apply_staged_packages()  # the update lock
    session.wipe("finished")
    assert rt.apply_staged_packages()
    wait_for(lambda: ("dg-extra@1.1.0", "activated", "") in package_events(centre, tid),
             what="activated 1.1.0")
    fresh = health(centre, hb, tid)
    assert fresh["sessions"] == 0 and fresh["error_screens"] == 0
    assert fresh["activated_at"] >= after["activated_at"]
