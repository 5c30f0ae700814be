"""Remote commands end to end through real parts: the centre stores, signs and publishes
on a real Mosquitto; simulated terminals (the terminal's FleetLink, the simulator's
Responder running `commands_protocol.verify`) answer on their results topic; the centre's
real ingest applies the answers. Every refusal case, pending while a citizen is at the
terminal, a screenshot in chunks, no answer from a terminal that is away, a broker that is
down."""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image
from sqlalchemy import select

from kiosk.fleet import commands_protocol as cp
from kiosk.fleet import protocol
from opscentre import commands
from opscentre.commands import CommandService, Publisher
from opscentre.models import Event
from opscentre.web.models import AuditEntry


def _envelope(terminal: str, body: dict[str, Any]) -> bytes:
    return protocol.encode(protocol.Envelope(terminal, cp.COMMAND_TYPE, body))


def _answers(centre: Any, terminal: str) -> list[dict[str, Any]]:
    with centre.sessions() as db:
        return [e.body for e in db.scalars(select(Event).where(
            Event.terminal_id == terminal, Event.topic == "results").order_by(Event.id))]


def test_a_selftest_goes_out_signed_and_comes_back_done(centre: Any, sim_fleet: Any) -> None:
    fleet = sim_fleet(1, [centre.key.private.public_key()])
    [t] = fleet.links
    cmd = centre.issue(t, "selftest", {"device": "receipt"})
    assert cmd.state != "unsent" and cmd.sent_at is not None  # the broker's PUBACK came
    done = centre.wait_final(cmd.id)
    assert done.state == "done" and done.reason == ""
    assert done.result["passed"] is True
    assert [d["kind"] for d in done.result["devices"]] == ["receipt"]
    assert [h["state"] for h in done.history] == ["received", "running", "done"]
    assert done.finished_at is not None and done.key_id == centre.key.key_id
    with centre.sessions() as db:  # the operator's audit entry, linked from the command
        entry = db.get(AuditEntry, done.audit_id)
        assert entry is not None and (entry.actor, entry.action, entry.target) == (
            "otto", "command_issued", f"command:{cmd.id}")
        assert entry.detail["terminal"] == t and entry.detail["args"] == {"device": "receipt"}
    row = centre.row(cmd.id)
    assert row["state"] == "done" and row["final"] and not row["waiting_for_session"]


def test_a_screenshot_comes_back_in_chunks_and_is_joined(any_centre: Any,
                                                         sim_fleet: Any) -> None:
    centre = any_centre  # SQLite and PostgreSQL (chunks joined under a row lock there)
    fleet = sim_fleet(1, [centre.key.private.public_key()])
    [t] = fleet.links
    cmd = centre.issue(t, "screenshot")
    f = centre.wait_final(cmd.id) and _wait_file(centre, cmd.id)
    assert f.chunks >= 2 and f.received == f.chunks and f.problem == ""
    assert f.media_type == "image/png" and len(f.data) == f.size
    img = Image.open(io.BytesIO(f.data))
    assert img.format == "PNG" and img.size == (360, 640)
    # the events table keeps the answers, not the chunks' bytes
    bodies = _answers(centre, t)
    chunks = [b for b in bodies if "attachment" in b["result"]]
    assert len(chunks) == f.chunks and all("data" not in b["result"]["attachment"]
                                           for b in chunks)
    # one history line for the attachment, not one per chunk
    assert [h["state"] for h in centre.get(cmd.id).history] == ["received", "running", "done"]
    assert centre.get(cmd.id).result["image"]["blanked"] is False


def test_the_log_bundle_is_kept_whole(centre: Any, sim_fleet: Any) -> None:
    fleet = sim_fleet(1, [centre.key.private.public_key()])
    [t] = fleet.links
    cmd = centre.issue(t, "logs")
    centre.wait_final(cmd.id)
    f = _wait_file(centre, cmd.id)
    with zipfile.ZipFile(io.BytesIO(f.data)) as z:
        text = z.read("kiosk.log").decode()
    assert "4419**********" in text and protocol.FULL_ID_NUMBER.search(text) is None


def _wait_file(centre: Any, cid: str) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        f = centre.file(cid)
        if f is not None and (f.data is not None or f.problem):
            return f
        time.sleep(0.05)
    raise AssertionError("the attachment did not come together")


# -- every refusal, said in the terminal's answer and shown on the command -----------------
def _refused(centre: Any, cid: str, reason: str) -> None:
    c = centre.wait_final(cid)
    assert (c.state, c.reason) == ("refused", reason), (c.state, c.reason, c.detail)
    assert centre.row(cid)["state"] == "refused"


def test_an_unsigned_command_is_refused(centre: Any, sim_fleet: Any,
                                       raw_publish: Any) -> None:
    [t] = sim_fleet(1, [centre.key.private.public_key()]).links
    cmd = centre.create(t, "restart")
    raw_publish(t, _envelope(t, {"command": commands.wire_command(cmd).to_json()}))
    _refused(centre, cmd.id, "unsigned")


def test_a_command_signed_by_another_key_is_refused(centre: Any, sim_fleet: Any,
                                                   raw_publish: Any) -> None:
    [t] = sim_fleet(1, [centre.key.private.public_key()]).links
    cmd = centre.create(t, "out_of_service", {"message": {
        "zh_CN": "暂停服务", "zh_HK": "暫停服務", "en": "Out of service"}})
    stranger = Ed25519PrivateKey.generate()
    raw_publish(t, _envelope(t, cp.sign(commands.wire_command(cmd), stranger)))
    _refused(centre, cmd.id, "unknown_key")
    # the same key id with someone else's signature: not believed either
    cmd2 = centre.create(t, "restart")
    body = cp.sign(commands.wire_command(cmd2), stranger)
    body["key_id"] = centre.key.key_id
    raw_publish(t, _envelope(t, body))
    _refused(centre, cmd2.id, "bad_signature")


def test_a_tampered_command_is_refused(centre: Any, sim_fleet: Any, raw_publish: Any) -> None:
    [t] = sim_fleet(1, [centre.key.private.public_key()]).links
    cmd = centre.create(t, "set_volume", {"level": 20})
    body = cp.sign(commands.wire_command(cmd), centre.key.private)
    body["command"]["args"] = {"level": 100}  # changed after signing
    raw_publish(t, _envelope(t, body))
    _refused(centre, cmd.id, "bad_signature")


def test_an_expired_command_is_refused(centre: Any, sim_fleet: Any, raw_publish: Any) -> None:
    [t] = sim_fleet(1, [centre.key.private.public_key()]).links
    cmd = centre.create(t, "screenshot", now=time.time() - 3600, ttl_s=60)
    raw_publish(t, commands.signed_payload(cmd, centre.key))  # properly signed, too late
    _refused(centre, cmd.id, "expired")


def test_a_replayed_command_is_refused_and_changes_nothing(centre: Any, sim_fleet: Any,
                                                          raw_publish: Any) -> None:
    [t] = sim_fleet(1, [centre.key.private.public_key()]).links
    cmd = centre.issue(t, "poll_packages")
    assert centre.wait_final(cmd.id).state == "done"
    raw_publish(t, commands.signed_payload(centre.get(cmd.id), centre.key))  # a copy
    deadline = time.monotonic() + 30
    while not any(h.get("reason") == "replayed" for h in centre.get(cmd.id).history):
        assert time.monotonic() < deadline, "no answer to the copy"
        time.sleep(0.05)
    c = centre.get(cmd.id)
    assert c.state == "done"  # the first copy's result stands
    assert c.history[-1] == {**c.history[-1], "state": "refused", "reason": "replayed",
                             "ignored": True}


def test_a_command_for_another_terminal_is_refused(centre: Any, sim_fleet: Any,
                                                  raw_publish: Any) -> None:
    fleet = sim_fleet(2, [centre.key.private.public_key()])
    t1, t2 = fleet.links
    cmd = centre.create(t2, "restart")  # addressed to t2 ...
    # ... its signed body sent to t1 in an envelope of t1's (an envelope naming t2 on t1's
    # topic is dropped by the fleet protocol before any command check)
    raw_publish(t1, _envelope(t1, cp.sign(commands.wire_command(cmd), centre.key.private)))
    answers = _wait_answers(centre, t1, 1)
    assert answers[0]["command_id"] == cmd.id
    assert (answers[0]["state"], answers[0]["reason"]) == ("refused", "wrong_terminal")
    # t1 says so; it cannot change t2's command (only the addressed terminal answers it)
    c = centre.get(cmd.id)
    assert c.state == "issued" and c.history == []
    assert fleet.responder.states[t2].answered == 0


def _wait_answers(centre: Any, terminal: str, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while len(got := _answers(centre, terminal)) < n:
        assert time.monotonic() < deadline, f"{terminal} answered {len(got)} of {n}"
        time.sleep(0.05)
    return got


# -- waiting for the citizen, time limits, terminals away, broker down -----------------------
def test_a_disruptive_command_waits_pending_while_a_citizen_is_there(
        centre: Any, sim_fleet: Any) -> None:
    [t] = sim_fleet(1, [centre.key.private.public_key()], session_share=1.0,
                    session_s=(1.5, 1.5)).links
    cmd = centre.issue(t, "out_of_service", {"message": {
        "zh_CN": "暂停服务", "zh_HK": "暫停服務", "en": "Out of service"}})
    centre.wait_state(cmd.id, "pending")
    row = centre.row(cmd.id)
    assert row["waiting_for_session"] and not row["final"] and row["time_left_s"] > 0
    done = centre.wait_final(cmd.id)
    assert done.state == "done" and done.result == {"out_of_service": True}
    assert [(h["state"], h["reason"]) for h in done.history] == [
        ("received", ""), ("pending", "session_active"), ("running", ""), ("done", "")]
    # a screenshot never waits (the citizen's area is blanked instead)
    shot = centre.issue(t, "screenshot")
    assert "pending" not in [h["state"] for h in centre.wait_final(shot.id).history]


def test_a_terminal_that_is_away_shows_no_answer_after_the_time_limit(
        centre: Any, mosquitto: Any) -> None:
    away = "CMD-AWAY-1"
    mosquitto.provision([away])  # never connects
    cmd = centre.issue(away, "screenshot", ttl_s=30)
    assert cmd.state == "sent"  # the broker took it; nobody is there to receive it
    later = cmd.expires_at + (commands.dt.timedelta(seconds=commands.NO_ANSWER_GRACE_S + 1))
    with centre.sessions() as db:
        c = db.get(commands.Command, cmd.id)
        assert commands.shown_state(c) == "sent"
        assert commands.command_row(c, now=later)["state"] == "no_answer"
        rows, total = commands.list_commands(db, commands.CommandQuery(state="no_answer"),
                                             now=later)
        assert total == 1 and rows[0]["id"] == cmd.id and rows[0]["final"]


def test_with_the_broker_down_nothing_is_sent_and_it_says_so(centre: Any) -> None:
    from opscentre.broker import free_port

    dead = Publisher(f"mqtt://127.0.0.1:{free_port()}", "opscentre", "x").start()
    try:
        svc = CommandService(centre.key, dead)
        with centre.sessions() as db:
            [cmd] = svc.issue(db, commands.Request(("CMD-X-1",), "restart", {}), "otto")
        assert (cmd.state, cmd.reason) == ("unsent", "broker_unavailable")
        assert cmd.finished_at is not None
    finally:
        dead.stop()
