"""The signalling hub over real WebSockets (uvicorn on 127.0.0.1): terminals and agents
speak docs/assist.md from plain clients; every message, every refusal, the records."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from assist_helpers import (
    TURN_SECRET,
    WAIT_S,
    Client,
    agent,
    call_msg,
    sign_in,
    terminal,
)
from sqlalchemy import select

from opscentre.models import AssistCall


def record(centre: SimpleNamespace, cid: str) -> AssistCall:
    centre.served.hub.records.flush()
    with centre.sessions() as db:
        row = db.scalar(select(AssistCall).where(AssistCall.id == cid))
    assert row is not None, f"no record of {cid}"
    return row


def answered_call(served: Any, amy: Client) -> tuple[Client, str]:
    """A terminal's call, waiting, taken by `amy` and answered: (terminal socket, call id)."""
    t = terminal(served)
    cid = str(uuid.uuid4())
    t.send(call_msg(cid))
    t.expect("queued")
    amy.send({"type": "take", "call": cid})
    amy.expect("taken", call=cid)
    t.expect("answered")
    return t, cid


# -- logins ------------------------------------------------------------------------------------
@pytest.mark.parametrize("password", ["wrong-password", ""])
def test_terminal_with_a_bad_password_is_closed_4401(quiet: SimpleNamespace,
                                                     password: str) -> None:
    t = terminal(quiet.served, password=password)
    assert t.closed() == 4401


def test_terminal_without_credentials_or_unknown_is_closed_4401(quiet: SimpleNamespace) -> None:
    served = quiet.served
    assert Client(f"{served.ws}/assist/terminal").closed() == 4401
    t = Client(f"{served.ws}/assist/terminal",
               header=["Authorization: Basic " + base64.b64encode(b"DG-NOBODY:x").decode()])
    assert t.closed() == 4401
    # the centre's own broker account is in the file too: it is not a terminal's password
    t = Client(f"{served.ws}/assist/terminal", header=[
        "Authorization: Basic " + base64.b64encode(b"DG-T-0001:centre-pass").decode()])
    assert t.closed() == 4401


def test_agent_socket_refusals(quiet: SimpleNamespace) -> None:
    served, sessions = quiet.served, quiet.sessions
    url = f"{served.ws}/assist/agent"
    assert Client(url).closed() == 4401  # no session
    cookie, csrf = sign_in(sessions, "vera")  # a viewer may not answer calls
    assert Client(url, cookie=f"kops_session={cookie}").closed() == 4403
    cookie, csrf = sign_in(sessions, "amy")
    c = Client(url, cookie=f"kops_session={cookie}")
    c.send({"type": "status", "state": "available"})  # anything before hello
    assert c.closed() == 4403
    c = Client(url, cookie=f"kops_session={cookie}")
    c.send({"type": "hello", "csrf": csrf[:-2] + "xx"})
    assert c.closed() == 4403
    c = Client(url, cookie=f"kops_session={cookie}")
    c.send({"type": "hello"})
    assert c.closed() == 4403
    # another site's page cannot ride on the agent's cookie
    c = Client(url, cookie=f"kops_session={cookie}", origin="http://evil.example")
    assert c.closed() == 4403
    assert not served.hub.agents


def test_operator_may_answer_too(quiet: SimpleNamespace) -> None:
    a = agent(quiet.served, quiet.sessions, "otto")
    a.send({"type": "status", "state": "available"})
    q = a.expect("queue")
    assert q["agents"] == [{"login": "otto", "name": q["agents"][0]["name"],
                            "state": "available"}]
    assert q["agents"][0]["name"] != "otto"  # citizens hear a staff number, not the login
    a.close()


# -- calls -------------------------------------------------------------------------------------
def test_no_agent_on_duty_is_unavailable_and_recorded(quiet: SimpleNamespace) -> None:
    away = agent(quiet.served, quiet.sessions, "amy", on_duty=False)  # signed in, not on duty
    t = terminal(quiet.served)
    cid = str(uuid.uuid4())
    t.send(call_msg(cid))
    assert t.recv() == {"type": "unavailable", "reason": "no_agent"}
    assert t.closed() == 1000
    row = record(quiet, cid)
    assert (row.outcome, row.terminal, row.answered_at) == ("no_agent", "DG-T-0001", None)
    away.close()


def test_whole_call_take_offer_answer_hold_end(quiet: SimpleNamespace) -> None:
    served = quiet.served
    a = agent(served, quiet.sessions, "amy")
    t = terminal(served)
    cid = str(uuid.uuid4())
    t.send(call_msg(cid))
    assert t.expect("queued") == {"type": "queued", "call": cid, "position": 1,
                                  "wait_s": math.ceil(served.hub.expected_handle_s()),
                                  "agents": 1}
    q = a.expect_queue(lambda q: bool(q["calls"]))
    (row,) = q["calls"]
    assert {k: row[k] for k in ("call", "terminal", "service_title", "lang", "state",
                                "agent")} == {
        "call": cid, "terminal": "DG-T-0001", "service_title": "社保缴费证明", "lang": "zh_CN",
        "state": "waiting", "agent": ""}
    a.send({"type": "take", "call": cid})
    a.expect("taken", call=cid, terminal="DG-T-0001", service_title="社保缴费证明")
    answered = t.expect("answered")
    name = answered["agent"]
    assert name.startswith("工作人员 ") and "amy" not in name
    assert answered["ice_policy"] == "all"
    (ice,) = answered["ice_servers"]
    expiry, _, user_call = ice["username"].partition(":")
    assert user_call == cid and int(expiry) > time.time() + 3000
    mac = hmac.new(TURN_SECRET.encode(), ice["username"].encode(), hashlib.sha1).digest()
    assert ice["credential"] == base64.b64encode(mac).decode()
    assert ice["urls"] == ["turn:127.0.0.1:3478?transport=udp"]

    t.send({"type": "offer", "sdp": "v=0 terminal offer", "restart": False})
    offer = a.expect("offer", call=cid, sdp="v=0 terminal offer", restart=False,
                     ice_policy="all")
    assert offer["ice_servers"][0]["urls"] == ice["urls"]
    a.send({"type": "answer", "call": cid, "sdp": "v=0 agent answer"})
    assert t.expect("answer") == {"type": "answer", "sdp": "v=0 agent answer"}
    a.send({"type": "hold", "call": cid})
    assert t.expect("hold") == {"type": "hold"}
    a.expect_queue(lambda q: q["calls"][0]["state"] == "held")
    t.send({"type": "offer", "sdp": "v=0 again", "restart": True})  # a new connection
    a.expect("offer", call=cid, sdp="v=0 again", restart=True)
    a.send({"type": "resume", "call": cid})
    assert t.expect("resume") == {"type": "resume"}
    a.send({"type": "end", "call": cid, "outcome": "resolved"})
    assert t.expect("ended") == {"type": "ended", "reason": "agent"}
    assert t.closed() == 1000
    a.expect("ended", call=cid, reason="agent")
    row = record(quiet, cid)
    assert (row.outcome, row.end_reason, row.agent, row.agents) == (
        "resolved", "agent", "amy", ["amy"])
    assert row.answered_at is not None and row.ended_at is not None
    assert row.service == "social_security_certificate" and row.lang == "zh_CN"
    assert row.hold_s >= 0
    a.close()


def test_queue_positions_and_take_of_a_taken_call(quiet: SimpleNamespace) -> None:
    served = quiet.served
    amy = agent(served, quiet.sessions, "amy")
    abe = agent(served, quiet.sessions, "abe")
    t1, t2 = terminal(served, "DG-T-0001"), terminal(served, "DG-T-0002")
    c1, c2 = str(uuid.uuid4()), str(uuid.uuid4())
    t1.send(call_msg(c1))
    assert t1.expect("queued")["position"] == 1
    t2.send(call_msg(c2))
    second = t2.expect("queued")
    assert (second["position"], second["agents"]) == (2, 2)
    assert second["wait_s"] == math.ceil(served.hub.expected_handle_s() * 2 / 2)
    amy.expect_queue(lambda q: len(q["calls"]) == 2)
    amy.send({"type": "take", "call": c1})
    amy.expect("taken", call=c1)
    t1.expect("answered")
    assert t2.expect("queued")["position"] == 1  # moved up
    abe.send({"type": "take", "call": c1})
    assert abe.expect("error") == {"type": "error", "error": "not_waiting", "call": c1}
    abe.send({"type": "answer", "call": c1, "sdp": "v=0 not mine"})
    assert abe.expect("error")["error"] == "not_yours"
    abe.send({"type": "end", "call": c1, "outcome": "resolved"})
    assert abe.expect("error")["error"] == "not_yours"
    amy.send({"type": "take", "call": c2})  # one call at a time
    assert amy.expect("error")["error"] == "busy"
    # the citizen hangs up before anyone answers: abandoned
    t2.send({"type": "hangup", "reason": "citizen"})
    assert t2.closed() == 1000
    assert record(quiet, c2).outcome == "abandoned"
    # after an answer: the agent is told, and may still give the outcome
    t1.send({"type": "hangup", "reason": "citizen"})
    amy.expect("ended", call=c1, reason="citizen")
    assert record(quiet, c1).outcome == "unresolved"
    amy.send({"type": "end", "call": c1, "outcome": "callback"})
    # (a queue message already on its way may come first: wait for the record itself)
    deadline = time.monotonic() + WAIT_S
    while record(quiet, c1).outcome != "callback" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert record(quiet, c1).outcome == "callback"
    for c in (amy, abe, t1, t2):
        c.close()


def test_transfer(quiet: SimpleNamespace) -> None:
    served = quiet.served
    amy = agent(served, quiet.sessions, "amy")
    abe = agent(served, quiet.sessions, "abe", on_duty=False)
    t = terminal(served)
    cid = str(uuid.uuid4())
    t.send(call_msg(cid, lang="en"))
    t.expect("queued")
    amy.send({"type": "take", "call": cid})
    amy.expect("taken")
    first = t.expect("answered")["agent"]
    amy.send({"type": "transfer", "call": cid, "to": "abe"})  # signed in but away
    assert amy.expect("error")["error"] == "no_such_agent"
    amy.send({"type": "transfer", "call": cid, "to": "nobody"})
    assert amy.expect("error")["error"] == "no_such_agent"
    amy.send({"type": "transfer", "call": cid, "to": "amy"})
    assert amy.expect("error")["error"] == "no_such_agent"
    abe.send({"type": "status", "state": "available"})
    amy.expect_queue(lambda q: any(x["login"] == "abe" and x["state"] == "available"
                                   for x in q["agents"]))
    amy.send({"type": "transfer", "call": cid, "to": "abe"})
    to = t.expect("transferring")["to"]
    assert to.startswith("Agent ") and to != first  # in the citizen's language (en)
    assert abe.expect("transferred", call=cid)["from"].endswith(first.split()[-1])
    amy.send({"type": "end", "call": cid, "outcome": "resolved"})  # no longer hers
    assert amy.expect("error")["error"] == "not_yours"
    abe.send({"type": "take", "call": cid})
    abe.expect("taken", call=cid)
    assert t.expect("answered")["agent"] == to
    t.send({"type": "offer", "sdp": "v=0 to abe", "restart": False})
    abe.expect("offer", call=cid, sdp="v=0 to abe")
    abe.send({"type": "end", "call": cid, "outcome": "unresolved"})
    t.expect("ended", reason="agent")
    row = record(quiet, cid)
    assert (row.agents, row.agent, row.outcome) == (["amy", "abe"], "abe", "unresolved")
    for c in (amy, abe, t):
        c.close()


def test_socket_loss_on_either_side(quiet: SimpleNamespace) -> None:
    served = quiet.served
    amy = agent(served, quiet.sessions, "amy")
    t, cid = answered_call(served, amy)
    t.close()  # the terminal's socket goes without a hangup
    amy.expect("ended", call=cid, reason="terminal_gone")
    assert record(quiet, cid).outcome == "dropped"

    t, cid = answered_call(served, amy)
    amy.close()  # the agent's browser goes
    assert t.expect("ended") == {"type": "ended", "reason": "agent_gone"}
    assert t.closed() == 1000
    row = record(quiet, cid)
    assert (row.outcome, row.end_reason) == ("dropped", "agent_gone")


def test_agent_reload_within_grace_keeps_the_call(quiet: SimpleNamespace) -> None:
    """An agent's page reloaded mid-call (or a blip): the citizen is not dropped; the page's
    new socket gets the call again, the terminal is asked for a new media connection, and
    the call ends as the agent says. Gone for longer than the grace: dropped as before."""
    hub = quiet.served.hub
    hub.settings = hub.settings.model_copy(update={"reconnect_grace_s": WAIT_S})
    try:
        amy = agent(quiet.served, quiet.sessions, "amy")
        t, cid = answered_call(quiet.served, amy)
        amy.close()  # F5 on the agent's page
        cookie, csrf = sign_in(quiet.sessions, "amy")  # the reloaded page's socket
        amy = Client(f"{quiet.served.ws}/assist/agent", cookie=f"kops_session={cookie}",
                     origin=quiet.served.url)
        amy.send({"type": "hello", "csrf": csrf})
        amy.expect("taken", call=cid)  # the call is still hers
        assert t.expect("answered")["ice_servers"]  # not "ended": a new connection instead
        t.send({"type": "offer", "sdp": "v=0 for the reloaded page", "restart": True})
        amy.expect("offer", call=cid, restart=True, sdp="v=0 for the reloaded page")
        amy.send({"type": "end", "call": cid, "outcome": "resolved"})
        t.expect("ended", reason="agent")
        amy.expect("ended", call=cid)
        assert record(quiet, cid).outcome == "resolved"
        # gone for longer than the grace: the citizen is told and the call recorded dropped
        hub.settings = hub.settings.model_copy(update={"reconnect_grace_s": 0.2})
        t, cid = answered_call(quiet.served, amy)
        amy.close()
        assert t.expect("ended") == {"type": "ended", "reason": "agent_gone"}
        assert (record(quiet, cid).outcome, record(quiet, cid).end_reason) == (
            "dropped", "agent_gone")
        t.close()
    finally:
        hub.settings = hub.settings.model_copy(update={"reconnect_grace_s": 0})


def test_terminal_rejoins_within_grace(quiet: SimpleNamespace) -> None:
    hub = quiet.served.hub
    hub.settings = hub.settings.model_copy(update={"reconnect_grace_s": WAIT_S})
    try:
        amy = agent(quiet.served, quiet.sessions, "amy")
        t, cid = answered_call(quiet.served, amy)
        amy.send({"type": "hold", "call": cid})
        t.expect("hold")
        t.close()
        t = terminal(quiet.served)  # a new socket after the drop, the same call
        t.send(call_msg(cid))
        assert t.expect("answered")["ice_servers"]
        t.expect("hold")
        t.send({"type": "offer", "sdp": "v=0 after the drop", "restart": True})
        amy.expect("offer", call=cid, restart=True, sdp="v=0 after the drop")
        # another terminal cannot take the call over
        other = terminal(quiet.served, "DG-T-0002")
        other.send(call_msg(cid))
        assert other.expect("error")["error"] == "bad_request"
        other.close()
        t.send({"type": "hangup", "reason": "session_end"})
        amy.expect("ended", call=cid, reason="session_end")
        assert record(quiet, cid).outcome == "session_end"
        # a finished call's id cannot start again
        t = terminal(quiet.served)
        t.send(call_msg(cid))
        assert t.expect("error")["error"] == "call_ended"
        amy.close()
    finally:
        hub.settings = hub.settings.model_copy(update={"reconnect_grace_s": 0})


# -- malformed and unknown ---------------------------------------------------------------------
@pytest.mark.parametrize("frame", ["not json", "[1, 2]", '"text"', "x" * (256 * 1024 + 1)])
def test_malformed_frame_closes_1008(quiet: SimpleNamespace, frame: str) -> None:
    t = terminal(quiet.served)
    t.send(frame)
    assert t.closed() == 1008


def test_malformed_agent_frame_closes_1008(quiet: SimpleNamespace) -> None:
    a = agent(quiet.served, quiet.sessions, "amy")
    a.sock.send_binary(b"\x00\x01")
    assert a.closed() == 1008


def test_unknown_types_and_bad_fields(quiet: SimpleNamespace) -> None:
    amy = agent(quiet.served, quiet.sessions, "amy")
    t = terminal(quiet.served)
    t.send({"type": "dance"})
    assert t.recv() == {"type": "error", "error": "unknown_type"}
    t.send({"type": "offer", "sdp": "v=0", "restart": False})  # no call yet
    assert t.recv() == {"type": "error", "error": "not_answered"}
    for bad in (call_msg("not-a-uuid"), call_msg(lang="fr"), call_msg(service=7)):
        t.send(bad)
        assert t.recv() == {"type": "error", "error": "bad_request"}
    t.send({"type": "hangup", "reason": "bored"})
    assert t.recv() == {"type": "error", "error": "bad_request"}
    amy.send({"type": "dance"})
    assert amy.expect("error") == {"type": "error", "error": "unknown_type"}
    amy.send({"type": "status", "state": "asleep"})
    assert amy.expect("error")["error"] == "bad_request"
    amy.send({"type": "take", "call": str(uuid.uuid4())})
    assert amy.expect("error")["error"] == "no_such_call"
    amy.send({"type": "end", "call": str(uuid.uuid4()), "outcome": "whatever"})
    assert amy.expect("error")["error"] == "bad_request"
    t.send(call_msg())
    t.expect("queued")  # the socket still works after every refusal
    t.close()
    amy.close()


def test_last_agent_leaving_tells_waiting_calls(quiet: SimpleNamespace) -> None:
    amy = agent(quiet.served, quiet.sessions, "amy")
    t = terminal(quiet.served, "DG-T-0003")
    cid = str(uuid.uuid4())
    t.send(call_msg(cid))
    t.expect("queued")
    amy.send({"type": "status", "state": "away"})
    assert t.expect("unavailable") == {"type": "unavailable", "reason": "no_agent"}
    assert t.closed() == 1000
    assert record(quiet, cid).outcome == "no_agent"
    amy.close()



def test_centre_shutdown_tells_the_terminal(quiet: SimpleNamespace) -> None:
    amy = agent(quiet.served, quiet.sessions, "amy")
    t = terminal(quiet.served)
    cid = str(uuid.uuid4())
    t.send(call_msg(cid))
    t.expect("queued")
    amy.send({"type": "take", "call": cid})
    t.expect("answered")
    quiet.served.hub.shutdown()  # what the centre does when it is stopped
    assert t.expect("ended") == {"type": "ended", "reason": "centre_shutdown"}
    assert t.closed() == 1001
    assert amy.closed() == 1001
    row = record(quiet, cid)
    assert (row.outcome, row.end_reason) == ("dropped", "centre_shutdown")


def test_agent_socket_ends_with_its_session(quiet: SimpleNamespace,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from opscentre import auth
    from opscentre.web import assist as web_assist

    monkeypatch.setattr(web_assist, "SESSION_CHECK_S", 0.1)
    otto = agent(quiet.served, quiet.sessions, "otto")
    t = terminal(quiet.served)
    cid = str(uuid.uuid4())
    t.send(call_msg(cid))
    t.expect("queued")
    otto.send({"type": "take", "call": cid})
    t.expect("answered")
    with quiet.sessions() as db:
        auth.set_disabled(db, "otto", True, by="test")
    try:
        assert otto.closed() == 4401
        assert t.expect("ended") == {"type": "ended", "reason": "agent_gone"}
    finally:
        with quiet.sessions() as db:
            auth.set_disabled(db, "otto", False, by="test")
