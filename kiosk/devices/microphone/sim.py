"""In-process microphone simulator (`sim://?tone_hz=440&level=0.1`).

A quiet sine tone (`tone_hz=0`: silence) at `level` of full scale, 48 kHz mono in 20 ms
chunks at real time. Scriptable: `lose()`, `regain()`.
"""

from __future__ import annotations

import math
from array import array

from kiosk.devices.base import DeviceError, DeviceUri
from kiosk.devices.microphone.api import FRAME_SAMPLES, SAMPLE_RATE
from kiosk.devices.microphone.service import MicrophoneDevice


class ToneSource:
    def __init__(self, tone_hz: float, level: float) -> None:
        self.name = "sim"
        self.paced = True
        self.tone_hz, self.level = tone_hz, level
        self.present = True
        self.opened = 0  # how often the "device" was opened (tests read it)
        self._n = 0

    def open(self) -> bool:
        if self.present:
            self.opened += 1
        return self.present

    def release(self) -> None:
        pass

    def read(self) -> bytes | None:
        if not self.present:
            return None
        amp = 32767 * self.level
        w = 2 * math.pi * self.tone_hz / SAMPLE_RATE
        start, self._n = self._n, self._n + FRAME_SAMPLES
        return array("h", (int(amp * math.sin(w * (start + i)))
                           for i in range(FRAME_SAMPLES))).tobytes()


class SimMicrophone(MicrophoneDevice):
    uri_params = MicrophoneDevice.uri_params | {"tone_hz", "level"}

    def __init__(self, uri: DeviceUri) -> None:
        try:
            tone = float(uri.param("tone_hz", "440") or 0)
            level = float(uri.param("level", "0.1") or 0)
            if not (0 <= tone < SAMPLE_RATE / 2) or not (0 <= level <= 1):
                raise ValueError("tone_hz must be 0..24000 and level 0..1")
        except ValueError as exc:
            raise DeviceError("device.unsupported_uri", f"microphone sim: {exc}",
                              retryable=False) from None
        self.sim = ToneSource(tone, level)
        super().__init__(uri, self.sim)

    def lose(self) -> None:
        self.sim.present = False

    def regain(self) -> None:
        self.sim.present = True
