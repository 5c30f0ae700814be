"""What flows and the UI may rely on from a document camera: a live view and stills."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from kiosk.devices.base import DeviceService
from kiosk.devices.camera.api import Frame, FrameSource


@runtime_checkable
class DocumentCamera(FrameSource, DeviceService, Protocol):
    def wait_frame(self, after_seq: int, timeout: float) -> Frame | None:
        """The first frame newer than `after_seq`, or None after `timeout` (lost camera)."""
        ...

    def still(self, timeout: float = 5.0) -> Frame | None:
        """A picture taken now, at the source's full resolution, for one page: a frame
        newer than any seen before the call (never one from before the citizen pressed
        take), or None if none came within `timeout`. Held in memory only."""
        ...
