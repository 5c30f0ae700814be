"""The terminal's call engine against real peers on loopback (tests/assist/conftest.py):
the centre's terminal socket, an aiortc agent, coturn. Media both ways, the data channel,
hold, a socket that comes back, ring timeout, no agent, refused login, clean release."""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from assist_peers import WAIT_S, Centre, Coturn, Events, Script, free_port, wait_until

from kiosk.assist.engine import AssistCall, AssistSettings, CallDevices
from kiosk.devices.camera.sim import SimCamera
from kiosk.devices.microphone.sim import SimMicrophone
from kiosk.devices.registry import create_device
from kiosk.devices.speaker.sim import SimSpeaker


@pytest.fixture(scope="module")
def devices() -> Iterator[SimpleNamespace]:
    camera = create_device("camera", "sim://?size=640x480&fps=15")
    mic = create_device("microphone", "sim://?tone_hz=440&level=0.1")
    speaker = create_device("speaker", "sim://")
    assert isinstance(camera, SimCamera) and isinstance(mic, SimMicrophone)
    assert isinstance(speaker, SimSpeaker)
    for d in (camera, mic, speaker):
        d.open()
    yield SimpleNamespace(camera=camera, mic=mic, speaker=speaker,
                          call=CallDevices(camera, mic, speaker))
    for d in (camera, mic, speaker):
        d.close()


def settings(centre: Centre, **kw: Any) -> AssistSettings:
    base: dict[str, Any] = {"centre_url": centre.url, "terminal_id": "DG-T-0001",
                            "password": centre.password, "ring_timeout_s": 20.0,
                            "reconnect_s": 15.0, "video_width": 320, "video_height": 240,
                            "video_fps": 10, "media_timeout_s": 1.5}
    return AssistSettings(**{**base, **kw})


def start(centre: Centre, devices: SimpleNamespace, script: Script,
          **kw: Any) -> tuple[AssistCall, Events]:
    centre.reset(script)
    events = Events()
    call = AssistCall(settings(centre, **kw), devices.call, events)
    call.start(service="social_security_certificate", service_title="社保参保证明",
               lang="zh_CN")
    return call, events


def released(devices: SimpleNamespace, call: AssistCall) -> None:
    """Camera and microphone let go, speaker stopped, no picture of the agent kept."""
    assert not call.active
    assert devices.mic.subscriber_count() == 0
    assert devices.camera.latest() is None  # the capture worker drops it with its last watcher
    wait_until(lambda: "capturing" not in devices.camera.status().details, "camera idle")
    assert not devices.speaker.counters().playing
    assert call.remote_video.latest() is None


def ended(events: Events, call: AssistCall) -> str:
    reason = str(events.wait("ended").reason)
    assert call.join(WAIT_S)
    assert events.kinds().count("ended") == 1 and events.kinds()[-1] == "ended"
    return reason


def agent_media(centre: Centre, n: int = -1) -> Any:
    wait_until(lambda: len(centre.agent.media) > (max(n, 0)), "the agent's peer")
    return centre.agent.media[n]


def written_files() -> set[str]:
    """Regular files this process holds open for writing (from /proc/self/fd*)."""
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            with open(f"/proc/self/fdinfo/{fd}") as info:
                info.readline()  # "pos:"
                flags = int(info.readline().split()[1], 8)  # "flags:", octal
        except (OSError, ValueError, IndexError):
            continue  # closed meanwhile
        if target.startswith("/") and os.path.isfile(target) and flags & (os.O_WRONLY | os.O_RDWR):
            out.add(target)
    return out


def test_a_call_carries_sound_and_pictures_both_ways_and_the_data_channel(
        centre: Centre, devices: SimpleNamespace) -> None:
    heard_before = devices.speaker.counters().samples
    files_before = written_files()
    call, events = start(centre, devices, Script(agent_name="工作人员 07"))
    assert events.wait("answered").agent == "工作人员 07"
    queued = [e for e in events.items if e.kind == "queued"]
    assert [(e.position, e.wait_s, e.agents) for e in queued] == [(2, 90, 1), (1, 30, 1)]
    events.wait("media")
    assert events.kinds()[:2] == ["connecting", "queued"]
    (msg,) = centre.messages("call")
    assert (msg["service"], msg["service_title"], msg["lang"]) == \
        ("social_security_certificate", "社保参保证明", "zh_CN")
    assert centre.messages("offer")[0]["restart"] is False
    media = agent_media(centre)
    assert "relay" not in media.offer_candidates  # no TURN given: direct
    # the citizen's camera (640x480) arrives resized to the configured 320x240, and the tone
    wait_until(lambda: media.video_frames >= 5 and media.audio_frames >= 25, "terminal media")
    assert media.video_size == (320, 240)
    wait_until(lambda: media.audio_peak > 1500, "the microphone's tone at the agent")
    # the agent's voice reaches the speaker, the agent's picture the remote video
    wait_until(lambda: devices.speaker.counters().samples - heard_before >= 48_000,
               "a second of the agent's voice")
    # the agent's tone (RMS 0.345 of full scale; aiortc's encoder upmixes mono to stereo
    # at -3 dB, so 0.244 arrives), not silence
    assert devices.speaker.counters().level_rms > 0.2
    frame = wait_until(call.remote_video.latest, "the agent's picture")
    assert frame.size == (320, 240)
    assert frame.image.mean() > 60  # grey with a bright square, not black
    got: list[Any] = []
    unsubscribe = call.remote_video.subscribe(got.append)
    wait_until(lambda: len(got) >= 3, "frames to a subscriber")
    unsubscribe()
    # data channel: the terminal's screen to the agent, the agent's proposal to the UI
    call.send({"type": "screen", "seq": 7, "step": "period", "kind": "choice"})
    wait_until(lambda: media.channel_messages, "the screen at the agent")
    assert media.channel_messages[0]["seq"] == 7
    centre.propose({"type": "propose", "id": "p3", "seq": 7, "action": "choose",
                    "value": "12"})
    proposal = events.wait("proposal")
    assert proposal.message == {"type": "propose", "id": "p3", "seq": 7,
                                "action": "choose", "value": "12"}
    assert written_files() <= files_before  # nothing of the call goes to disk
    stats = call.stats()
    wait_until(lambda: call.stats().bytes_sent > 0, "stats")
    assert stats.connections == 1
    call.hang_up()
    call.hang_up("idle")  # once is enough: the second changes nothing
    assert ended(events, call) == "citizen"
    wait_until(lambda: centre.messages("hangup"), "the hangup at the centre")
    assert [m["reason"] for m in centre.messages("hangup")] == ["citizen"]
    released(devices, call)


def test_hold_sends_black_and_silence_until_resumed_then_a_transfer(
        centre: Centre, devices: SimpleNamespace) -> None:
    call, events = start(centre, devices, Script())
    events.wait("media")
    media = agent_media(centre)
    wait_until(lambda: media.audio_peak > 1500 and media.video_mean > 60, "live media")
    centre.send({"type": "hold"})
    events.wait("held")
    n = media.audio_frames
    wait_until(lambda: media.audio_frames > n + 10, "frames after the hold")
    media.audio_peak, n = 0, media.audio_frames
    wait_until(lambda: media.audio_frames > n + 25 and media.video_mean < 5, "held media")
    assert media.audio_peak < 200  # silence (a codec's rounding at most)
    centre.send({"type": "resume"})
    events.wait("resumed")
    wait_until(lambda: media.audio_peak > 1500 and media.video_mean > 60, "media again")
    # the agent passes the call on: a new agent answers, a new connection (not a restart)
    mark = len(events.items)
    centre.send({"type": "transferring", "to": "工作人员 09"})
    assert events.wait("transferring", after=mark).agent == "工作人员 09"
    assert call.remote_video.latest() is None  # the first agent's picture is gone
    centre.send({"type": "answered", "agent": "工作人员 09", "ice_servers": [],
                 "ice_policy": "all"})
    assert events.wait("answered", after=mark).agent == "工作人员 09"
    events.wait("media", after=mark)
    assert [o["restart"] for o in centre.messages("offer")] == [False, False]
    assert "reconnecting" not in events.kinds()
    call.hang_up("session_end")
    assert ended(events, call) == "session_end"
    released(devices, call)


def test_a_lost_signalling_socket_rejoins_the_same_call(
        centre: Centre, devices: SimpleNamespace) -> None:
    call, events = start(centre, devices, Script())
    events.wait("media")
    mark = len(events.items)
    centre.drop_socket()
    events.wait("reconnecting", after=mark)
    events.wait("media", after=mark)  # a new connection on the new socket
    calls = centre.messages("call")
    assert len(calls) == 2 and calls[0]["call"] == calls[1]["call"] == call.call_id
    assert centre.messages("offer")[-1]["restart"] is True
    assert "answered" not in events.kinds()[mark:]  # the same agent: nothing new to say
    assert centre.sockets >= 2
    call.hang_up()
    assert ended(events, call) == "citizen"
    released(devices, call)


def test_an_agent_without_camera_or_microphone_is_no_drop(
        centre: Centre, devices: SimpleNamespace) -> None:
    call, events = start(centre, devices, Script(agent_media=False))
    events.wait("answered")
    media = agent_media(centre)
    # the citizen's media flows for twice the media timeout (1.5 s) while none comes back
    wait_until(lambda: media.video_frames >= 30, "3 s of the citizen's video")
    assert "reconnecting" not in events.kinds() and "media" not in events.kinds()
    assert len(centre.messages("offer")) == 1
    call.hang_up()
    assert ended(events, call) == "citizen"
    released(devices, call)


def test_a_socket_lost_while_waiting_rejoins_the_queue_quietly(
        centre: Centre, devices: SimpleNamespace) -> None:
    call, events = start(centre, devices, Script(answer=False))
    events.wait("queued")
    centre.drop_socket()
    wait_until(lambda: len(centre.messages("call")) == 2, "the call again on a new socket")
    wait_until(lambda: events.kinds().count("queued") == 2, "the queue again")
    assert "reconnecting" not in events.kinds()  # the citizen still sees the queue
    call.hang_up()
    assert ended(events, call) == "citizen"
    wait_until(lambda: centre.messages("hangup"), "the hangup at the centre")
    assert centre.messages("hangup")[-1]["reason"] == "citizen"


def test_a_socket_back_too_late_ends_the_call_as_dropped(
        centre: Centre, devices: SimpleNamespace) -> None:
    call, events = start(centre, devices, Script(forget_calls=True))
    events.wait("media")
    centre.drop_socket()
    events.wait("reconnecting")
    assert ended(events, call) == "dropped"
    assert len(centre.messages("call")) == 2  # told once: no more tries until reconnect_s
    released(devices, call)


def test_ring_timeout_no_agent_refused_login_and_no_centre(
        centre: Centre, devices: SimpleNamespace) -> None:
    call, events = start(centre, devices, Script(answer=False), ring_timeout_s=1.0)
    events.wait("queued")
    assert ended(events, call) == "no_answer"
    wait_until(lambda: centre.messages("hangup"), "the hangup at the centre")
    assert centre.messages("hangup")[0]["reason"] == "no_answer"
    released(devices, call)

    call, events = start(centre, devices, Script(unavailable=True))
    assert events.wait("unavailable").reason == "no_agent"
    assert ended(events, call) == "no_answer"
    assert "answered" not in events.kinds()

    call, events = start(centre, devices, Script(), password="wrong-password")
    assert ended(events, call) == "refused_login"
    assert not centre.messages("call")

    events = Events()
    call = AssistCall(settings(centre, centre_url=f"ws://127.0.0.1:{free_port()}"),
                      devices.call, events)
    call.start(service="", service_title="", lang="en")
    assert ended(events, call) == "no_centre"
    released(devices, call)


def test_relay_only_call_survives_a_turn_outage_that_comes_back(
        centre: Centre, devices: SimpleNamespace, coturn: Coturn) -> None:
    call, events = start(centre, devices, Script(ice_policy="relay", turn=coturn))
    events.wait("media")
    media = agent_media(centre)
    assert media.offer_candidates and set(media.offer_candidates) == {"relay"}
    wait_until(lambda: media.video_frames >= 5 and media.audio_peak > 1500, "relayed media")
    mark = len(events.items)
    coturn.stop()
    events.wait("reconnecting", after=mark)
    coturn.start()  # the same port: the network is back
    events.wait("media", after=mark)
    assert centre.messages("offer")[-1]["restart"] is True
    again = agent_media(centre, 1)
    assert set(again.offer_candidates) == {"relay"}
    heard = devices.speaker.counters().samples
    wait_until(lambda: again.video_frames >= 5 and
               devices.speaker.counters().samples > heard + 24_000, "media after the outage")
    call.hang_up()
    assert ended(events, call) == "citizen"
    released(devices, call)


def test_an_outage_that_lasts_ends_the_call_as_dropped(
        centre: Centre, devices: SimpleNamespace, coturn: Coturn) -> None:
    call, events = start(centre, devices, Script(ice_policy="relay", turn=coturn),
                         reconnect_s=2.0, media_timeout_s=1.0)
    events.wait("media")
    coturn.stop()
    try:
        events.wait("reconnecting")
        assert ended(events, call) == "dropped"
        released(devices, call)
        wait_until(lambda: centre.messages("hangup"), "the hangup at the centre")
        # said at once; the centre records a hangup for `error` as dropped
        assert [m["reason"] for m in centre.messages("hangup")] == ["error"]
    finally:
        coturn.start()

