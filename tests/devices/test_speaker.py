"""The speaker kind: the simulator counts what it plays (chunks, samples, RMS level)."""

from __future__ import annotations

import logging
import math
import threading
from array import array

import pytest

from kiosk.devices.base import DeviceError
from kiosk.devices.registry import create_device
from kiosk.devices.speaker.api import Speaker


def _tone(level: float, n: int = 960) -> bytes:
    return array("h", (int(32767 * level * math.sin(2 * math.pi * 440 * i / 48_000))
                       for i in range(n))).tobytes()


def test_sim_counts_samples_and_measures_the_level() -> None:
    spk = create_device("speaker", "sim://")
    assert isinstance(spk, Speaker)
    spk.open()
    assert spk.counters().chunks == 0 and not spk.counters().playing
    for _ in range(10):
        spk.play(_tone(0.5))
    c = spk.counters()
    assert (c.chunks, c.samples, c.playing) == (10, 9600, True)
    assert c.level_rms == pytest.approx(0.5 / math.sqrt(2), abs=0.01)
    spk.play(bytes(1920))  # silence lowers the level of the last second
    assert spk.counters().level_rms < c.level_rms
    spk.stop()
    assert not spk.counters().playing and spk.counters().samples == 10560
    spk.close()


def test_closed_speaker_refuses_sound() -> None:
    spk = create_device("speaker", "sim://")
    with pytest.raises(DeviceError) as exc:
        spk.play(_tone(0.1))  # type: ignore[attr-defined]
    assert exc.value.key == "device.speaker.offline"
    with pytest.raises(DeviceError):
        create_device("speaker", "sim://?volume=3")


def test_alsa_speaker_without_a_card_counts_and_stops_cleanly(
        caplog: pytest.LogCaptureFixture) -> None:
    # No sound card here: the writer thread's failure is logged once; play never blocks,
    # raises, or starts a thread (and a log line) for every 20 ms of sound after it.
    caplog.set_level(logging.WARNING, "kiosk.devices.speaker.alsa")
    spk = create_device("speaker", "alsa://kiosk-no-such-card")
    spk.open()
    for _ in range(40):  # more than the queue holds: the oldest sound is dropped
        spk.play(_tone(0.3))  # type: ignore[attr-defined]
    deadline = threading.Event()
    for _ in range(250):
        if caplog.records:
            break
        deadline.wait(0.02)
    for _ in range(20):
        spk.play(_tone(0.3))  # type: ignore[attr-defined]
    deadline.wait(0.2)  # a writer thread started by one of these has failed by now
    assert len(caplog.records) == 1, [r.getMessage() for r in caplog.records]
    assert spk.counters().chunks == 60  # type: ignore[attr-defined]
    spk.stop()  # type: ignore[attr-defined]
    assert not spk.counters().playing  # type: ignore[attr-defined]
    spk.close()
