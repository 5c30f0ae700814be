"""`alsa://<device>` microphone through PyAV's ALSA input (`alsa://default`, `alsa://hw:1,0`).

The device is opened at 48 kHz mono where it can; whatever it gives is resampled to
48 kHz mono s16 and cut into 20 ms chunks.
"""

from __future__ import annotations

import logging
from typing import Any

from kiosk.devices.base import DeviceUri
from kiosk.devices.microphone.api import FRAME_SAMPLES, SAMPLE_RATE
from kiosk.devices.microphone.service import MicrophoneDevice

log = logging.getLogger(__name__)


def alsa_name(uri: DeviceUri) -> str:
    """`alsa://default` -> default, `alsa://hw:1,0` -> hw:1,0 (netloc as written)."""
    rest = uri.raw.split("://", 1)[1] if "://" in uri.raw else ""
    return rest.split("?", 1)[0] or "default"


class AlsaSource:
    paced = False  # the sound card keeps time: read() blocks for the next 20 ms

    def __init__(self, device: str) -> None:
        self.name = f"alsa:{device}"
        self.device = device
        self._container: Any = None
        self._frames: Any = None
        self._resampler: Any = None
        self._buf = bytearray()

    def open(self) -> bool:
        import av

        try:
            self._container = av.open(self.device, format="alsa",
                                      options={"sample_rate": str(SAMPLE_RATE), "channels": "1"})
        except (OSError, av.FFmpegError) as exc:
            log.warning("microphone %s cannot open: %s", self.device, exc)
            self._container = None
            return False
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        self._frames = self._container.decode(audio=0)
        return True

    def read(self) -> bytes | None:
        need = FRAME_SAMPLES * 2
        try:
            while len(self._buf) < need:
                frame = next(self._frames)
                for out in self._resampler.resample(frame):
                    self._buf += bytes(out.planes[0])[: out.samples * 2]
        except Exception as exc:  # noqa: BLE001 - av raises many kinds; the device is gone
            log.warning("microphone %s: %s", self.device, exc)
            return None
        chunk = bytes(self._buf[:need])
        del self._buf[:need]
        return chunk

    def release(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001, S110 - closing a lost device
                pass
        self._container = self._frames = None
        self._buf.clear()


class AlsaMicrophone(MicrophoneDevice):
    def __init__(self, uri: DeviceUri) -> None:
        super().__init__(uri, AlsaSource(alsa_name(uri)))
