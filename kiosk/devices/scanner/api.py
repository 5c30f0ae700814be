"""What flows may rely on from a code scanner (no transport, no protocol)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from kiosk.devices.base import DeviceService
from kiosk.devices.scanner.pipeline import ScanEvent


@runtime_checkable
class CodeScanner(DeviceService, Protocol):
    def read_code(self, timeout: float, cancel: threading.Event, *, fresh: bool = True) -> str:
        """Wait for the next code (`fresh`: scanned from now on); raise DeviceError/Cancelled."""
        ...

    def subscribe(self, cb: Callable[[ScanEvent], None]) -> Callable[[], None]:
        """Call `cb` for every code (on the reader thread); return an unsubscribe function."""
        ...


@runtime_checkable
class ScriptableScanner(CodeScanner, Protocol):
    """A scanner a script can present codes to (the simulator: demo, training, tests)."""

    def scan(self, code: str) -> None:
        """Act as if `code` had been shown to the scanner."""
        ...
