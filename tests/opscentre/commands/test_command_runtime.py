"""The centre's commands against a real terminal runtime (headless: `kiosk.runtime.Runtime`
on simulated devices, its heartbeat wiring `kiosk.fleet.commands`, the centre's public key
pinned in its configuration), over the real broker, answers through the terminal's
durable outbox and the centre's real ingest: a self-test done, every refusal case shown
on the centre's side, a disruptive command pending during a citizen's session."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from kiosk.fleet import commands_protocol as cp
from kiosk.fleet import protocol
from kiosk.heartbeat import Heartbeat
from kiosk.runtime import Runtime
from opscentre import commands
from opscentre.models import Event
from opscentre.signing import PUBLIC_FILE

WAIT_S = 30.0


def _wait(cond: Any, what: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if value := cond():
            return value
        time.sleep(0.05)
    raise AssertionError(what)


@pytest.fixture
def terminal(mosquitto: Any, centre: Any, tmp_path: Path) -> Iterator[tuple[Runtime, str]]:
    """A headless terminal runtime pinning the centre's key (the stack's public file)."""
    from kiosk.config import Config, validate_config

    tid = "DG-RT-0001"
    pw = tmp_path / "terminal.password"
    pw.write_text(mosquitto.provision([tid])[tid] + "\n")
    assert centre.key.path is not None
    cfg = Config().with_section(
        "devices", idcard="sim://?card=chen", sscard="sim://",
        a4=f"sim://?spool={tmp_path / 'a4'}", receipt=f"sim://?spool={tmp_path / 'receipt'}")
    cfg = cfg.with_section("storage", data_dir=str(tmp_path / "data"))
    cfg = cfg.with_section("terminal", id=tid)
    cfg = cfg.with_section("fleet", broker_url=mosquitto.setup.url, password_file=str(pw),
                           reconnect_min_s=0.05, reconnect_max_s=0.5, reconnect_spread_s=0.0,
                           command_key=str(centre.key.path.parent / PUBLIC_FILE))
    rt = Runtime.create(validate_config(cfg))
    rt.open_devices()
    hb = Heartbeat(rt, interval_s=3600, fault_poll_s=3600).start()
    try:
        _wait(lambda: hb.fleet.link.listening, "the terminal listening for commands")
        yield rt, tid
    finally:
        hb.stop()
        rt.close()


def _envelope(terminal: str, body: dict[str, Any]) -> bytes:
    return protocol.encode(protocol.Envelope(terminal, cp.COMMAND_TYPE, body))


def test_a_real_terminal_answers_and_refuses_what_it_must(
        centre: Any, terminal: tuple[Runtime, str], raw_publish: Any) -> None:
    _, tid = terminal
    done = centre.wait_final(centre.issue(tid, "selftest", {"device": "receipt"}).id)
    assert done.state == "done" and done.result["passed"] is True
    assert [d["kind"] for d in done.result["devices"]] == ["receipt"]
    assert [h["state"] for h in done.history] == ["received", "running", "done"]

    refusals: dict[str, str] = {}
    unsigned = centre.create(tid, "set_volume", {"level": 10})
    raw_publish(tid, _envelope(tid, {"command": commands.wire_command(unsigned).to_json()}))
    refusals[unsigned.id] = "unsigned"
    stranger = centre.create(tid, "set_volume", {"level": 11})
    raw_publish(tid, _envelope(tid, cp.sign(commands.wire_command(stranger),
                                            Ed25519PrivateKey.generate())))
    refusals[stranger.id] = "unknown_key"
    late = centre.create(tid, "set_volume", {"level": 12}, now=time.time() - 7200, ttl_s=60)
    raw_publish(tid, commands.signed_payload(late, centre.key))
    refusals[late.id] = "expired"
    for cid, reason in refusals.items():
        c = centre.wait_final(cid)
        assert (c.state, c.reason) == ("refused", reason), (reason, c.state, c.reason)
        assert [h["state"] for h in c.history] == ["refused"]  # never received, never run

    # a copy of a command it ran: refused as replayed; the first answer stands
    raw_publish(tid, commands.signed_payload(centre.get(done.id), centre.key))
    _wait(lambda: any(h.get("reason") == "replayed" for h in centre.get(done.id).history),
          "the replay answered")
    assert centre.get(done.id).state == "done"

    # for another terminal (signed for it, sent to this one): refused; this terminal's
    # answer cannot touch the other terminal's command
    other = centre.create("DG-RT-0002", "restart")
    raw_publish(tid, _envelope(tid, cp.sign(commands.wire_command(other), centre.key.private)))

    def wrong_terminal() -> list[dict[str, Any]]:
        with centre.sessions() as db:
            return [b for b in db.scalars(select(Event.body).where(
                Event.terminal_id == tid, Event.topic == "results"))
                if b.get("command_id") == other.id]

    [answer] = _wait(wrong_terminal, "the refusal of another terminal's command")
    assert (answer["state"], answer["reason"]) == ("refused", "wrong_terminal")
    assert centre.get(other.id).state == "issued"


def test_a_real_terminal_holds_out_of_service_until_the_citizen_is_done(
        centre: Any, terminal: tuple[Runtime, str]) -> None:
    rt, tid = terminal
    session = rt.new_session()  # a citizen at the terminal
    message = {"zh_CN": "暂停服务", "zh_HK": "暫停服務", "en": "Out of service"}
    cmd = centre.issue(tid, "out_of_service", {"message": message})
    pending = centre.wait_state(cmd.id, "pending")
    assert pending.reason == "session_active" and rt.out_of_service is None
    row = centre.row(cmd.id)
    assert row["waiting_for_session"] and row["time_left_s"] > 0
    session.wipe("finished")
    done = centre.wait_final(cmd.id)
    assert done.state == "done" and rt.out_of_service == message
    assert [h["state"] for h in done.history] == ["received", "pending", "running", "done"]
    back = centre.wait_final(centre.issue(tid, "in_service").id)
    assert back.state == "done" and rt.out_of_service is None
