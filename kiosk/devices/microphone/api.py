"""What remote help may rely on from a microphone: 20 ms chunks of PCM, subscriptions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from kiosk.devices.base import DeviceService

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms at 48 kHz: one Opus frame


@dataclass(frozen=True)
class AudioChunk:
    """20 ms of sound, 48 kHz mono signed 16-bit little-endian, held in memory only."""

    seq: int
    at: float  # time.monotonic() when captured
    pcm: bytes = field(repr=False, compare=False)
    sample_rate: int = SAMPLE_RATE

    @property
    def samples(self) -> int:
        return len(self.pcm) // 2


AudioCallback = Callable[[AudioChunk], None]


@runtime_checkable
class Microphone(DeviceService, Protocol):
    def subscribe(self, cb: AudioCallback) -> Callable[[], None]:
        """Call `cb` with every chunk (on the capture thread) until unsubscribed.

        Capture runs only while someone is subscribed: the last unsubscribe lets the
        device go, so the microphone is never on outside a call.
        """
        ...

    def subscriber_count(self) -> int:
        """How many subscriptions are open (0: the microphone is released)."""
        ...
