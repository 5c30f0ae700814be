"""The terminal's side of the signalling protocol (kiosk/assist/signalling.py): frames from
the centre as docs/assist.md writes them, each one's refusals, and fuzzed input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.assist import signalling as sig

GOOD: list[tuple[dict[str, Any], object]] = [
    ({"type": "queued", "call": "c1", "position": 2, "wait_s": 90, "agents": 1},
     sig.Queued("c1", 2, 90, 1)),
    ({"type": "unavailable", "reason": "no_agent"}, sig.Unavailable("no_agent")),
    ({"type": "answered", "agent": "工作人员 07", "ice_policy": "relay",
      "ice_servers": [{"urls": ["turn:t:3478?transport=udp"], "username": "1:c",
                       "credential": "x"}, {"urls": "stun:s:3478"}]},
     sig.Answered("工作人员 07", (sig.IceServer(("turn:t:3478?transport=udp",), "1:c", "x"),
                                 sig.IceServer(("stun:s:3478",))), "relay")),
    ({"type": "answer", "sdp": "v=0"}, sig.Answer("v=0")),
    ({"type": "hold"}, sig.Hold()),
    ({"type": "resume"}, sig.Resume()),
    ({"type": "transferring", "to": "工作人员 09"}, sig.Transferring("工作人员 09")),
    ({"type": "ended", "reason": "centre_shutdown"}, sig.Ended("centre_shutdown")),
    ({"type": "error", "error": "call_ended"}, sig.ErrorMessage("call_ended")),
    ({"type": "something_newer", "x": 1}, None),  # a later centre's message: ignored
]


@pytest.mark.parametrize("frame,message", GOOD, ids=[f["type"] for f, _ in GOOD])
def test_frames_from_the_centre(frame: dict[str, object], message: object) -> None:
    assert sig.parse(json.dumps(frame, ensure_ascii=False)) == message


@pytest.mark.parametrize("text,why", [
    ("not json", "not JSON"),
    ("[1, 2]", "not an object"),
    ('{"type": "queued", "position": "2"}', "position must be a number"),
    ('{"type": "queued", "position": true}', "position must be a number"),
    ('{"type": "queued", "wait_s": Infinity}', "wait_s must be a number"),
    ('{"type": "queued", "agents": 1e400}', "agents must be a number"),
    ('{"type": "answer"}', "sdp must be a string"),
    ('{"type": "answered", "ice_policy": "sometimes", "ice_servers": []}', "ice_policy"),
    ('{"type": "answered", "ice_servers": {}}', "ice_servers must be a list"),
    ('{"type": "answered", "ice_servers": [{"urls": []}]}', "needs urls"),
    ('{"type": "answered", "ice_servers": [{"urls": "turn:x", "username": 5}]}',
     "username must be a string"),
    ('{"type": "queued", "x": "' + "a" * sig.MAX_FRAME + '"}', "256 KiB"),
])
def test_bad_frames_are_refused_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(sig.ProtocolError, match=why):
        sig.parse(text)


def test_frames_to_the_centre() -> None:
    assert json.loads(sig.call_message("c1", "social_security_certificate", "社保参保证明",
                                       "zh_HK")) == {
        "type": "call", "call": "c1", "service": "social_security_certificate",
        "service_title": "社保参保证明", "lang": "zh_HK"}
    assert json.loads(sig.call_message("c1", "", "", "fr"))["lang"] == "zh_CN"
    assert json.loads(sig.offer_message("v=0", restart=True)) == \
        {"type": "offer", "sdp": "v=0", "restart": True}
    assert json.loads(sig.hangup_message("idle"))["reason"] == "idle"
    assert json.loads(sig.hangup_message("dropped"))["reason"] == "error"  # not a hangup reason
    assert sig.terminal_url("wss://ops.example.org:8443/") == \
        "wss://ops.example.org:8443/assist/terminal"
    assert sig.terminal_url("ws://127.0.0.1:8080/centre") == \
        "ws://127.0.0.1:8080/centre/assist/terminal"
    with pytest.raises(ValueError):
        sig.terminal_url("http://ops.example.org")
    assert sig.basic_auth("DG-T-0001", "pw") == "Basic REctVC0wMDAxOnB3"


FIELDS = ("call", "position", "wait_s", "agents", "reason", "agent", "ice_servers",
          "ice_policy", "sdp", "to", "error")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(st.one_of(
    st.text(max_size=200),
    st.fixed_dictionaries({"type": st.sampled_from(
        ["queued", "unavailable", "answered", "answer", "hold", "resume", "transferring",
         "ended", "error"])}, optional=dict.fromkeys(FIELDS, json_values)).map(json.dumps)))
def test_any_frame_is_a_message_or_a_protocol_error(text: str) -> None:
    try:
        sig.parse(text)
    except sig.ProtocolError:
        pass


def test_settings_come_from_the_terminals_config() -> None:
    from dataclasses import replace

    from kiosk.assist.engine import AssistSettings
    from kiosk.config import AssistConfig, Config, TerminalConfig

    cfg = replace(Config(), terminal=replace(TerminalConfig(), id="DG-T-0042"),
                  assist=replace(AssistConfig(), centre_url="wss://ops.example.org:8443",
                                 ring_timeout_s=45.0, video_fps=10, max_bitrate_kbps=400))
    s = AssistSettings.from_config(cfg, "fleet-password")
    assert (s.centre_url, s.terminal_id, s.password) == \
        ("wss://ops.example.org:8443", "DG-T-0042", "fleet-password")
    assert (s.ring_timeout_s, s.reconnect_s, s.video_width, s.video_height, s.video_fps,
            s.max_bitrate_kbps) == (45.0, 20.0, 640, 480, 10, 400)
    assert "fleet-password" not in repr(s)  # settings may be logged; the password never
