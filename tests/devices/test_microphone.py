"""The microphone kind: 20 ms chunks of 48 kHz mono s16, captured only while subscribed."""

from __future__ import annotations

import itertools
import math
import threading
from array import array

import pytest

from kiosk.devices.base import DeviceError, DeviceState
from kiosk.devices.microphone.api import FRAME_SAMPLES, AudioChunk, Microphone
from kiosk.devices.microphone.sim import SimMicrophone
from kiosk.devices.registry import create_device


def _collect(mic: Microphone, n: int) -> list[AudioChunk]:
    got: list[AudioChunk] = []
    done = threading.Event()

    def cb(chunk: AudioChunk) -> None:
        got.append(chunk)
        if len(got) >= n:
            done.set()

    unsubscribe = mic.subscribe(cb)
    try:
        assert done.wait(5.0), "no sound from the simulator"
    finally:
        unsubscribe()
    return got[:n]


def test_sim_gives_a_quiet_tone_in_20ms_chunks() -> None:
    mic = create_device("microphone", "sim://?tone_hz=1000&level=0.2")
    assert isinstance(mic, Microphone)
    mic.open()
    chunks = _collect(mic, 5)
    assert [c.seq for c in chunks] == [1, 2, 3, 4, 5]
    assert all(c.samples == FRAME_SAMPLES and c.sample_rate == 48_000 for c in chunks)
    samples = array("h")
    for c in chunks:
        samples.frombytes(c.pcm)
    rms = math.sqrt(sum(s * s for s in samples) / len(samples)) / 32768
    assert 0.13 < rms < 0.15  # a sine at 0.2 of full scale: 0.2/sqrt(2)
    # 1 kHz at 48 kHz: 48 samples a period -> 2 zero crossings per 48 samples
    crossings = sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))
    assert abs(crossings - len(samples) / 24) <= 2
    mic.close()


def test_capture_runs_only_while_subscribed() -> None:
    mic = create_device("microphone", "sim://")
    assert isinstance(mic, SimMicrophone)
    mic.open()
    assert mic.subscriber_count() == 0 and "capturing" not in mic.status().details
    first = threading.Event()
    unsub_a = mic.subscribe(lambda _c: first.set())
    unsub_b = mic.subscribe(lambda _c: None)
    assert first.wait(5.0)
    assert mic.subscriber_count() == 2 and "capturing" in mic.status().details
    unsub_a()
    assert mic.subscriber_count() == 1 and "capturing" in mic.status().details
    unsub_b()
    unsub_b()  # twice is harmless
    assert mic.subscriber_count() == 0
    assert "capturing" not in mic.status().details  # the thread is gone: device released
    assert mic.sim.opened == 1
    mic.close()


def test_lost_microphone_is_reported_and_comes_back() -> None:
    mic = create_device("microphone", "sim://?lost_after=2")
    assert isinstance(mic, SimMicrophone)
    mic.open()
    mic.lose()
    unsubscribe = mic.subscribe(lambda _c: None)
    try:
        deadline = threading.Event()
        for _ in range(100):
            if mic.status().state is DeviceState.NO_DEVICE:
                break
            deadline.wait(0.05)
        assert mic.status().state is DeviceState.NO_DEVICE
    finally:
        unsubscribe()
    mic.regain()
    assert len(_collect(mic, 2)) == 2
    assert mic.status().state is DeviceState.ONLINE


def test_closed_microphone_refuses_subscribers_and_bad_uris_are_refused() -> None:
    mic = create_device("microphone", "sim://")
    with pytest.raises(DeviceError) as exc:
        mic.subscribe(lambda _c: None)  # type: ignore[attr-defined]
    assert exc.value.key == "device.microphone.offline"
    for uri in ("sim://?tone_hz=abc", "sim://?level=3", "sim://?tone=440"):
        with pytest.raises(DeviceError):
            create_device("microphone", uri)


def test_alsa_microphone_that_cannot_open_is_reported_lost() -> None:
    # No sound card here: the PyAV ALSA path must fail as a status, never as a crash.
    mic = create_device("microphone", "alsa://kiosk-no-such-card")
    mic.open()
    unsubscribe = mic.subscribe(lambda _c: None)  # type: ignore[attr-defined]
    try:
        wait = threading.Event()
        for _ in range(200):
            if mic.status().state is DeviceState.NO_DEVICE:
                break
            wait.wait(0.02)
        assert mic.status().state is DeviceState.NO_DEVICE
        assert mic.status().message == "cannot open"
    finally:
        unsubscribe()
    assert mic.subscriber_count() == 0  # type: ignore[attr-defined]
    mic.close()
