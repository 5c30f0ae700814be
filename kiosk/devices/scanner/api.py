"""What flows may rely on from a code scanner (no transport, no protocol)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from kiosk.devices.base import DeviceStatus
from kiosk.devices.scanner.pipeline import ScanEvent


@runtime_checkable
class CodeScanner(Protocol):
    kind: str

    def read_code(self, timeout: float, cancel: threading.Event, *, fresh: bool = True) -> str:
        """Wait for the next code (`fresh`: scanned from now on); raise DeviceError/Cancelled."""
        ...

    def subscribe(self, cb: Callable[[ScanEvent], None]) -> Callable[[], None]:
        """Call `cb` for every code (on the reader thread); return an unsubscribe function."""
        ...

    def status(self) -> DeviceStatus: ...
