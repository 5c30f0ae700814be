"""In-process scanner simulator (`sim://?code=TOKEN&delay_ms=800`).

Scriptable for demos, training mode and tests: `scan(code)` (as if a code were
presented), `feed_bytes(raw)` (any bytes, garbage included, through the same framing
as the serial scanner), `unplug()`, `replug()`. URI parameters: `code` (scanned by
itself `delay_ms` after each read starts; for the demo), plus the framing parameters of
the serial scanner (`suffix`, `gap_ms`, `max_len`, `dedup_ms`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kiosk.devices.base import Device, DeviceError, DeviceState, DeviceStatus, DeviceUri
from kiosk.devices.scanner.options import FRAMING_PARAMS, ScannerOptions
from kiosk.devices.scanner.pipeline import ScanEvent, ScanPipeline
from kiosk.devices.scanner.protocol import LineFramer, Suffix


class SimQrScanner(Device):
    kind = "scanner"
    uri_params = FRAMING_PARAMS | {"code", "delay_ms"}

    def __init__(self, uri: DeviceUri) -> None:
        super().__init__(uri)
        self.options = ScannerOptions.from_uri(uri)
        self.pipeline = ScanPipeline(LineFramer(self.options.framer), self.options.dedup_s,
                                     name="scanner sim")
        self._opened = False
        self._plugged = True
        self._auto_code = uri.param("code")
        self._delay = uri.int_param("delay_ms", 300) / 1000.0
        self._poller: threading.Thread | None = None
        self._stop = threading.Event()

    def open(self) -> None:
        if self._opened:
            return
        self._opened = True
        self._stop.clear()
        # The inter-character timeout needs a clock, like the serial reader thread.
        self._poller = threading.Thread(target=self._poll, daemon=True, name="scanner-sim")
        self._poller.start()

    def close(self) -> None:
        self._opened = False
        self._stop.set()
        if self._poller is not None:
            self._poller.join(1.0)
            self._poller = None

    def status(self) -> DeviceStatus:
        if not self._opened:
            return DeviceStatus(DeviceState.OFFLINE)
        if not self._plugged:
            return DeviceStatus(DeviceState.NO_DEVICE, message="unplugged")
        return DeviceStatus(DeviceState.ONLINE)

    # -- scripting -----------------------------------------------------------------------
    def scan(self, code: str) -> None:
        suffix = self.options.framer.suffix.value
        if self.options.framer.suffix is Suffix.NONE:
            self.feed_bytes(code.encode("utf-8"))
            self.pipeline.poll(time.monotonic() + self.options.framer.gap_s)
        else:
            self.feed_bytes(code.encode("utf-8") + suffix)

    def feed_bytes(self, raw: bytes) -> None:
        if self._opened and self._plugged:
            self.pipeline.feed(raw)

    @property
    def plugged(self) -> bool:
        return self._plugged

    def unplug(self) -> None:
        self._plugged = False
        self.pipeline.reset()

    def replug(self) -> None:
        self._plugged = True
        self.pipeline.stats.reconnects += 1

    # -- service --------------------------------------------------------------------------
    def read_code(self, timeout: float, cancel: threading.Event, *, fresh: bool = True) -> str:
        if not self._opened:
            raise DeviceError("device.scanner.offline", "scanner not open", retryable=False)
        if fresh:
            self.pipeline.clear()
        timer = None
        if self._auto_code:
            timer = threading.Timer(self._delay, self.scan, args=(self._auto_code,))
            timer.daemon = True
            timer.start()
        try:
            return self.pipeline.wait_code(timeout, cancel, lambda: self._plugged).code
        finally:
            if timer is not None:
                timer.cancel()

    def subscribe(self, cb: Callable[[ScanEvent], None]) -> Callable[[], None]:
        return self.pipeline.subscribe(cb)

    def _poll(self) -> None:
        while not self._stop.wait(0.05):
            self.pipeline.poll()
