"""What flows and the UI may rely on from a camera: frames, subscriptions, status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from kiosk.devices.base import DeviceService


@dataclass(frozen=True)
class Frame:
    """One captured picture, held in memory only (never written anywhere)."""

    seq: int
    at: float  # time.monotonic() when captured
    image: Any = field(repr=False, compare=False)  # numpy uint8 HxWx3, BGR, read-only

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.image.shape[:2]
        return int(w), int(h)


FrameCallback = Callable[[Frame], None]


@runtime_checkable
class FrameSource(Protocol):
    def subscribe(self, cb: FrameCallback) -> Callable[[], None]:
        """Call `cb` with every new frame (on the capture thread) until unsubscribed.

        Capture runs while anyone is subscribed. `cb` must return quickly: it runs on
        the capture thread, so a slow consumer keeps only the newest frame it was given.
        """
        ...

    def latest(self) -> Frame | None: ...


@runtime_checkable
class Camera(FrameSource, DeviceService, Protocol):
    def wait_frame(self, after_seq: int, timeout: float) -> Frame | None:
        """The first frame newer than `after_seq`, or None after `timeout` (lost camera)."""
        ...
