"""What remote help may rely on from a speaker: play PCM, stop, and what it has played."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from kiosk.devices.base import DeviceService


@dataclass(frozen=True)
class SpeakerCounters:
    """What reached the speaker: for the technician's status page and for tests proving
    the agent's voice arrived (never the sound itself)."""

    chunks: int = 0
    samples: int = 0
    level_rms: float = 0.0  # RMS of the last second played, 0..1 of full scale
    playing: bool = False


@runtime_checkable
class Speaker(DeviceService, Protocol):
    def play(self, pcm: bytes, sample_rate: int = 48_000) -> None:
        """Queue mono s16le PCM for playing; never blocks (a backlog drops the oldest)."""
        ...

    def stop(self) -> None:
        """Stop at once and drop whatever is queued (the call ended)."""
        ...

    def counters(self) -> SpeakerCounters: ...
