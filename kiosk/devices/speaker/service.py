"""`SpeakerDevice`: counters and level shared by the simulator and the ALSA speaker."""

from __future__ import annotations

import math
import threading
import time
from array import array
from collections import deque
from typing import Any

from kiosk.devices.base import Device, DeviceError, DeviceState, DeviceStatus, DeviceUri
from kiosk.devices.speaker.api import SpeakerCounters


def _square_sum(pcm: bytes) -> tuple[float, int]:
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    return float(sum(s * s for s in samples)), len(samples)


class SpeakerDevice(Device):
    kind = "speaker"
    uri_params = frozenset[str]()

    def __init__(self, uri: DeviceUri) -> None:
        super().__init__(uri)
        self._opened = False
        self._stats_lock = threading.Lock()
        self._chunks = 0
        self._samples = 0
        self._window: deque[tuple[float, float, int]] = deque()  # (at, sum of squares, n)
        self._last_at = 0.0

    def open(self) -> None:
        self._opened = True

    def close(self) -> None:
        self.stop()
        self._opened = False

    def status(self) -> DeviceStatus:
        if not self._opened:
            return DeviceStatus(DeviceState.OFFLINE)
        playing = self.counters().playing
        return DeviceStatus(DeviceState.ONLINE, frozenset({"playing"}) if playing else frozenset())

    def capabilities(self) -> dict[str, Any]:
        return {**super().capabilities(), "sample_rate": 48_000, "channels": 1}

    def play(self, pcm: bytes, sample_rate: int = 48_000) -> None:
        if not self._opened:
            raise DeviceError("device.speaker.offline", "speaker not open", retryable=False)
        now = time.monotonic()
        sq, n = _square_sum(pcm)
        with self._stats_lock:
            self._chunks += 1
            self._samples += n
            self._last_at = now
            self._window.append((now, sq, n))
            while self._window and self._window[0][0] < now - 1.0:
                self._window.popleft()
        self._output(pcm, sample_rate)

    def stop(self) -> None:
        with self._stats_lock:
            self._last_at = 0.0
        self._halt()

    def counters(self) -> SpeakerCounters:
        now = time.monotonic()
        with self._stats_lock:
            recent = [(sq, n) for at, sq, n in self._window if at >= now - 1.0]
            total = sum(n for _, n in recent)
            rms = math.sqrt(sum(sq for sq, _ in recent) / total) / 32768 if total else 0.0
            playing = self._last_at > 0 and now - self._last_at < 0.5
            return SpeakerCounters(self._chunks, self._samples, rms, playing)

    # -- the output (transport) ----------------------------------------------------------
    def _output(self, pcm: bytes, sample_rate: int) -> None:
        """Hand the PCM to the sound card (the simulator keeps only the counters)."""

    def _halt(self) -> None:
        """Stop the sound card and drop what is queued."""
