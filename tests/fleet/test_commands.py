"""Remote commands on a real terminal runtime (headless) through a real Mosquitto: every
refusal answered with its reason, each action's result, disruptive commands pending
during a citizen's session and run after it, expiry, and what survives a restart."""

from __future__ import annotations

import base64
import io
import json
import logging
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from command_helpers import Centre, write_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fleet_helpers import wait_for

from kiosk.fleet import commands_protocol as cp
from kiosk.fleet.commands import MAX_SEEN, HeadlessHost
from kiosk.heartbeat import Heartbeat
from kiosk.runtime import Runtime
from synthetic.citizens import BY_KEY


@dataclass
class Terminal:
    rt: Runtime
    hb: Heartbeat
    tid: str
    data: Path

    @property
    def settings(self) -> Any:
        return self.hb.commands.state.settings


@pytest.fixture
def centre_key(tmp_path: Path) -> tuple[Ed25519PrivateKey, Path]:
    return write_key(tmp_path / "centre")


@pytest.fixture
def centre(mosquitto: Any, subscriber: Any,
           centre_key: tuple[Ed25519PrivateKey, Path]) -> Iterator[Centre]:
    c = Centre(mosquitto, centre_key[0], subscriber())
    yield c
    c.close()


@pytest.fixture
def make_terminal(mosquitto: Any, tmp_path: Path, centre_key: tuple[Ed25519PrivateKey, Path],
                  ) -> Iterator[Callable[..., Terminal]]:
    """A runtime on simulated devices with the fleet channel and the centre's key pinned,
    its heartbeat (and so its command executor) started; `host` for the screen side."""
    from kiosk.config import Config, validate_config

    made: list[Terminal] = []

    def make(tid: str = "DG-CMD-0001", *, host: Callable[[Runtime], Any] | None = None,
             command_key: str | None = None, data: Path | None = None,
             **devices: str) -> Terminal:
        creds = mosquitto.provision([tid])
        pw = tmp_path / f"{tid}.password"
        pw.write_text(creds[tid] + "\n")
        data = data or tmp_path / f"data-{tid}"
        cfg = Config().with_section(
            "devices", **{"idcard": "sim://?card=chen", "sscard": "sim://",
                          "a4": f"sim://?spool={tmp_path / 'a4'}",
                          "receipt": f"sim://?spool={tmp_path / 'receipt'}", **devices})
        cfg = cfg.with_section("storage", data_dir=str(data))
        cfg = cfg.with_section("terminal", id=tid)
        cfg = cfg.with_section("fleet", broker_url=mosquitto.setup.url,
                               password_file=str(pw), reconnect_min_s=0.05,
                               reconnect_max_s=0.5, reconnect_spread_s=0.0,
                               command_key=(str(centre_key[1]) if command_key is None
                                            else command_key))
        rt = Runtime.create(validate_config(cfg))
        rt.open_devices()
        hb = Heartbeat(rt, interval_s=3600, fault_poll_s=3600,
                       host=host(rt) if host is not None else None).start()
        wait_for(lambda: hb.fleet.link.listening, what="terminal listening for commands")
        made.append(Terminal(rt, hb, tid, data))
        return made[-1]

    yield make
    for t in made:
        t.hb.stop()
        t.rt.close()


def stop(t: Terminal) -> None:
    t.hb.stop()
    t.rt.close()


# -- refusals --------------------------------------------------------------------------------
def test_every_refusal_is_answered_with_its_reason(make_terminal: Any,
                                                   centre: Centre) -> None:
    t = make_terminal()
    tid, now = t.tid, time.time()
    sent: dict[str, str] = {}

    cmd, body = centre.command(tid, "set_volume", {"level": 11})
    centre.publish(tid, {"command": body["command"]})
    sent["unsigned"] = cmd.id
    sent["unknown_key"] = centre.send(tid, "set_volume", {"level": 12},
                                      key=Ed25519PrivateKey.generate())
    cmd, body = centre.command(tid, "set_volume", {"level": 13})
    body["command"]["args"]["level"] = 100  # changed after signing
    centre.publish(tid, body)
    sent["bad_signature"] = cmd.id
    sent["expired"] = centre.send(tid, "set_volume", {"level": 14}, now=now - 3600)
    sent["not_yet_valid"] = centre.send(tid, "set_volume", {"level": 15}, now=now + 3600)
    sent["lifetime_too_long"] = centre.send(tid, "set_volume", {"level": 16},
                                            ttl_s=cp.MAX_LIFETIME_S + 60)
    # Signed for another terminal, published on this one's topic (the centre's ACL lets
    # it write any terminal's commands; the signature covers the addressee).
    sent["wrong_terminal"] = centre.send("DG-CMD-9999", "set_volume", {"level": 17}, to=tid)
    sent["unknown_action"] = centre.send(tid, "format_disk", {})
    sent["bad_args"] = centre.send(tid, "set_volume", {"level": 500})
    cmd, body = centre.command(tid, "set_volume", {"level": 18})
    centre.publish(tid, body, kind="telemetry")
    sent["malformed"] = cmd.id
    # A good one, then the very same message again (as a replay attacker would).
    cmd, body = centre.command(tid, "set_volume", {"level": 30})
    centre.publish(tid, body)
    assert centre.wait(tid, cmd.id, "done")["result"]["volume"] == 30
    centre.publish(tid, body)
    wait_for(lambda: "refused" in centre.states(tid, cmd.id), what="replay refused")
    assert centre.states(tid, cmd.id) == ["received", "running", "done", "refused"]
    assert centre.answers(tid, cmd.id)[-1]["reason"] == "replayed"

    for reason, cid in sent.items():
        answer = centre.wait(tid, cid, "refused")
        assert answer["reason"] == reason, (reason, answer)
        assert centre.states(tid, cid) == ["refused"]  # never received, never run
    assert t.settings.volume == 30  # none of the refused levels was applied
    refused = t.hb.commands.status()["refused"]
    assert refused == {**dict.fromkeys(sent, 1), "replayed": 1}


def test_without_a_pinned_key_every_command_is_refused(make_terminal: Any,
                                                       centre: Centre) -> None:
    t = make_terminal(command_key="")
    cid = centre.send(t.tid, "in_service")
    assert centre.wait(t.tid, cid, "refused")["reason"] == "unknown_key"
    assert t.hb.commands.status()["key_pinned"] is False


def test_a_replayed_command_is_refused_after_a_restart(make_terminal: Any,
                                                       centre: Centre) -> None:
    t = make_terminal()
    cmd, body = centre.command(t.tid, "set_volume", {"level": 40})
    centre.publish(t.tid, body)
    centre.wait(t.tid, cmd.id, "done")
    stop(t)
    again = make_terminal(data=t.data)
    assert again.settings.volume == 40  # the setting survived too
    centre.publish(t.tid, body)
    wait_for(lambda: "refused" in centre.states(t.tid, cmd.id), what="refused after restart")
    assert centre.answers(t.tid, cmd.id)[-1]["reason"] == "replayed"


def test_the_replay_store_is_bounded_and_forgets_only_expired_ids(
        make_terminal: Any, centre: Centre) -> None:
    t = make_terminal()
    state = t.hb.commands.state
    state.seen = {f"old-{i}": time.time() - 1 for i in range(MAX_SEEN)}  # all expired
    cid = centre.send(t.tid, "set_volume", {"level": 5})
    centre.wait(t.tid, cid, "done")
    assert len(state.seen) == 1  # the expired ones were forgotten
    state.seen = {f"live-{i}": time.time() + 3600 for i in range(MAX_SEEN)}
    cid = centre.send(t.tid, "set_volume", {"level": 6})
    assert centre.wait(t.tid, cid, "refused")["reason"] == "too_many"
    assert t.settings.volume == 5


# -- actions ---------------------------------------------------------------------------------
def test_selftest_print_test_and_poll_results(make_terminal: Any, centre: Centre,
                                              tmp_path: Path) -> None:
    t = make_terminal(receipt=f"sim://?spool={tmp_path / 'receipt'}")
    tid = t.tid
    everything = centre.wait(tid, centre.send(tid, "selftest"), "done")["result"]
    assert everything["passed"] is True
    assert {d["kind"] for d in everything["devices"]} == {
        "idcard", "sscard", "receipt", "a4", "scanner", "camera", "microphone", "speaker"}
    one = centre.wait(tid, centre.send(tid, "selftest", {"device": "receipt"}), "done")
    assert [d["kind"] for d in one["result"]["devices"]] == ["receipt"]

    printed = centre.wait(tid, centre.send(tid, "print_test", {"printer": "receipt"}), "done")
    assert printed["result"]["ok"] is True and printed["result"]["printer"] == "receipt"
    assert list((tmp_path / "receipt").iterdir())  # the sim printer's spool has the job
    a4 = centre.wait(tid, centre.send(tid, "print_test", {"printer": "a4"}), "done")
    assert a4["result"]["ok"] is True and a4["result"]["pages"] >= 1

    t.rt.devices["receipt"].set_paper("out")  # type: ignore[attr-defined]
    cid = centre.send(tid, "print_test", {"printer": "receipt"})
    failed = centre.wait(tid, cid, "failed")
    assert failed["reason"] == "device.receipt.paper_out"
    assert "receipt" in t.rt.device_faults  # services needing it pause, as after a citizen's

    nothing = centre.wait(tid, centre.send(tid, "poll_packages"), "failed")
    assert nothing["reason"] == "command.poll_packages.no_repository"


def test_settings_out_of_service_volume_and_schedule(make_terminal: Any,
                                                     centre: Centre) -> None:
    t = make_terminal()
    tid = t.tid
    flow = next(iter(t.rt.package.flows.values()))
    message = {"zh_CN": "设备维护中", "zh_HK": "設備維護中", "en": "Under maintenance"}
    cid = centre.send(tid, "out_of_service", {"message": message})
    assert centre.wait(tid, cid, "done")["result"] == {"action": "out_of_service",
                                                       "out_of_service": True}
    assert t.rt.out_of_service == message
    assert t.rt.pause_reason(flow) == "remote.out_of_service.tile"
    cid = centre.send(tid, "screen_schedule", {"off": "23:00", "on": "06:30"})
    centre.wait(tid, cid, "done")
    cid = centre.send(tid, "set_volume", {"level": 35})
    centre.wait(tid, cid, "done")
    host = t.hb.commands.host
    assert isinstance(host, HeadlessHost) and host.applied == t.settings
    assert t.settings.screen_schedule == ("23:00", "06:30") and t.settings.volume == 35

    stop(t)  # a restart keeps all three
    again = make_terminal(data=t.data)
    assert again.rt.out_of_service == message
    assert again.settings.screen_schedule == ("23:00", "06:30")
    assert again.settings.volume == 35
    assert again.hb.commands.host.applied == again.settings
    health = again.hb.commands.status()
    assert health["out_of_service"] is True and health["volume"] == 35

    cid = centre.send(tid, "in_service")
    assert centre.wait(tid, cid, "done")["result"]["was_out_of_service"] is True
    assert again.rt.out_of_service is None and again.rt.pause_reason(flow) is None
    cid = centre.send(tid, "screen_schedule", {})
    centre.wait(tid, cid, "done")
    assert again.settings.screen_schedule is None


def test_headless_screenshot_and_restart_fail_with_a_reason(make_terminal: Any,
                                                            centre: Centre) -> None:
    t = make_terminal()
    assert centre.wait(t.tid, centre.send(t.tid, "screenshot"), "failed")["reason"] == \
        "command.no_screen"
    # No supervisor would start the app again: the terminal refuses to end itself.
    assert centre.wait(t.tid, centre.send(t.tid, "restart"), "failed")["reason"] == \
        "command.restart.no_supervisor"


def test_the_log_bundle_is_masked(make_terminal: Any, centre: Centre, backend: Any,
                                  tmp_path: Path) -> None:
    from kiosk.logs import setup_file_logging

    t = make_terminal()
    log_path = setup_file_logging(t.rt.config)
    chen = BY_KEY["chen"]
    logging.getLogger("kiosk.test").warning("masked at write %s", chen.id_number)
    for h in logging.getLogger().handlers:
        h.flush()
    # A rotated log from an older version that wrote a number unmasked: the export masks
    # it again.
    log_path.with_name("kiosk.log.1").write_text(f"old line {chen.id_number}\n")
    cid = centre.send(t.tid, "logs")
    att = centre.attachment(t.tid, cid)
    assert att.media_type == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(att.data))
    assert {"logs/kiosk.log", "logs/kiosk.log.1", "health.json"} <= set(zf.namelist())
    text = b"".join(zf.read(n) for n in zf.namelist()).decode()
    assert "masked at write" in text and "old line 4419" in text
    assert chen.id_number not in text
    # Only the bundle: nothing else rides along (no voice, no camera, no form data).
    for a in centre.answers(t.tid, cid):
        assert set(a["result"]) <= {"action", "attachment", "files", "masked"}
    raw = "\n".join(m.payload.decode() for m in centre.watch.on(t.tid, "results"))
    assert chen.id_number not in raw
    assert base64.b64encode(chen.id_number.encode()).decode()[:16] not in raw


# -- the citizen first ---------------------------------------------------------------------------
def test_disruptive_commands_wait_for_the_session_and_run_after_it(
        make_terminal: Any, centre: Centre) -> None:
    t = make_terminal()
    tid = t.tid
    session = t.rt.new_session()  # a citizen at the terminal
    message = {"zh_CN": "暂停", "zh_HK": "暫停", "en": "Closed"}
    oos = centre.send(tid, "out_of_service", {"message": message})
    vol = centre.send(tid, "set_volume", {"level": 20})
    selftest = centre.send(tid, "selftest")
    short = centre.send(tid, "print_test", {"printer": "receipt"}, ttl_s=2)
    for cid in (oos, vol, selftest, short):
        pending = centre.wait(tid, cid, "pending")
        assert pending["reason"] == "session_active"
    # Not disruptive: runs during the session.
    schedule = centre.send(tid, "screen_schedule", {"off": "22:00", "on": "07:00"})
    centre.wait(tid, schedule, "done")
    # The print test's time runs out while the citizen is still there.
    expired = centre.wait(tid, short, "expired")
    assert expired["reason"] == "expired"
    assert t.rt.out_of_service is None and t.settings.volume is None
    assert t.hb.commands.status()["pending"] == [oos, vol, selftest]

    session.wipe("finished")
    for cid in (oos, vol, selftest):
        centre.wait(tid, cid, "done")
        assert centre.states(tid, cid) == ["received", "pending", "running", "done"]
    assert centre.states(tid, short) == ["received", "pending", "expired"]
    assert t.rt.out_of_service == message and t.settings.volume == 20
    assert t.hb.commands.status()["pending"] == []


def test_a_later_command_supersedes_a_pending_one(make_terminal: Any,
                                                  centre: Centre) -> None:
    t = make_terminal()
    session = t.rt.new_session()
    message = {"zh_CN": "暂停", "zh_HK": "暫停", "en": "Closed"}
    oos = centre.send(t.tid, "out_of_service", {"message": message})
    centre.wait(t.tid, oos, "pending")
    back = centre.send(t.tid, "in_service")
    centre.wait(t.tid, back, "done")
    assert centre.wait(t.tid, oos, "failed")["reason"] == "superseded"
    session.wipe("finished")
    time.sleep(0)  # nothing is left to run: the notice never comes
    assert t.hb.commands.status()["pending"] == [] and t.rt.out_of_service is None


def test_a_pending_command_survives_a_restart(make_terminal: Any, centre: Centre) -> None:
    t = make_terminal()
    session = t.rt.new_session()
    cid = centre.send(t.tid, "set_volume", {"level": 55})
    centre.wait(t.tid, cid, "pending")
    stop(t)  # the terminal restarts (power cut) before the citizen leaves
    del session
    again = make_terminal(data=t.data)
    centre.wait(t.tid, cid, "done")
    assert again.settings.volume == 55


def test_results_hold_no_personal_data_during_a_session(make_terminal: Any,
                                                        centre: Centre) -> None:
    """Commands answered while a citizen is identified carry nothing of the citizen."""
    from kiosk.identity import Identity, IdentitySource

    t = make_terminal()
    chen = BY_KEY["chen"]
    session = t.rt.new_session()
    session.set_identity(Identity(IdentitySource.ID_CARD, chen.id_number, chen.name))
    for action in ("selftest", "logs", "poll_packages", "screenshot"):
        cid = centre.send(t.tid, action)
        wait_for(lambda cid=cid: set(centre.states(t.tid, cid)) & {"done", "failed",
                                                                   "pending"},
                 what=action)
    session.wipe("finished")
    wait_for(lambda: not t.hb.commands.status()["pending"], what="pending ran")
    raw = "\n".join(m.payload.decode() for m in centre.watch.on(t.tid, "results"))
    for secret in (chen.id_number, chen.name):
        assert secret not in raw and json.dumps(secret)[1:-1] not in raw
