"""`SerialQrScanner`: a serial QR/barcode scanner (`qr+serial:///dev/ttyACM0?suffix=CR`).

URI parameters: `baud` (9600), `suffix` (CR, LF, CRLF, NONE), `gap_ms` (inter-character
timeout that ends a code when no suffix comes, 200; 0 = off), `max_len` (4096 bytes),
`dedup_ms` (same code again within this window is ignored, 1500), `trigger`
(`honeywell` for scanners in serial-trigger mode: SYN T CR / SYN U CR around each
read), `retrigger_ms` (3000), `reconnect_ms` (500).

A reader thread owns the port. When the port disappears (USB unplugged, pty closed) the
service reports `no_device`, keeps trying to reopen the same path, and carries on when
the scanner comes back, without a restart of the app.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from kiosk.devices.base import (
    Check,
    Device,
    DeviceError,
    DeviceState,
    DeviceStatus,
    DeviceUri,
    SelfTestReport,
)
from kiosk.devices.scanner.options import OPTION_PARAMS, ScannerOptions
from kiosk.devices.scanner.pipeline import ScanEvent, ScanPipeline
from kiosk.devices.scanner.protocol import TRIGGERS, LineFramer
from kiosk.devices.scanner.transport import SerialTransport, TransportLost

log = logging.getLogger(__name__)


def port_of(uri: DeviceUri) -> str:
    """`qr+serial:///dev/ttyACM0` -> `/dev/ttyACM0`; `qr+serial://ttyACM0` -> `/dev/ttyACM0`."""
    netloc = urlsplit(uri.raw).netloc  # keeps the case that `hostname` lowers
    if uri.path and not netloc:
        return uri.path
    if netloc and uri.path:
        return f"{netloc}{uri.path}"
    if netloc:
        return netloc if netloc.upper().startswith("COM") else f"/dev/{netloc}"
    raise DeviceError("device.unsupported_uri", "scanner: no serial port in URI",
                      retryable=False)


class SerialQrScanner(Device):
    kind = "scanner"
    uri_params = OPTION_PARAMS

    def __init__(self, uri: DeviceUri) -> None:
        super().__init__(uri)
        self.options = ScannerOptions.from_uri(uri)
        self.port = port_of(uri)
        self.pipeline = ScanPipeline(LineFramer(self.options.framer), self.options.dedup_s,
                                     name=f"scanner {self.port}")
        self._transport = SerialTransport(self.port, self.options.baud)
        self._state = DeviceState.OFFLINE
        self._message = ""
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._io = threading.Lock()  # the reader thread and trigger writes share the port
        self._armed = 0  # reads in progress that want the trigger on

    # -- Device ----------------------------------------------------------------------
    def open(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._connect()
        if self._state is not DeviceState.ONLINE:
            log.warning("scanner %s not available yet (%s); will keep trying", self.port,
                        self._message)
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"scanner-{self.port}")
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        with self._io:
            self._transport.close()
        self._state = DeviceState.OFFLINE

    def status(self) -> DeviceStatus:
        details = frozenset({"trigger_mode"}) if self.options.trigger else frozenset()
        return DeviceStatus(self._state, details, self._message)

    def capabilities(self) -> dict[str, Any]:
        return {**super().capabilities(), "port": self.port, "baud": self.options.baud,
                "suffix": self.options.framer.suffix.name, "trigger": self.options.trigger,
                "max_len": self.options.framer.max_len}

    def self_test(self) -> SelfTestReport:
        st = self.status()
        checks = [Check("port", st.state is DeviceState.ONLINE, st.message or st.state.value)]
        if self.options.trigger and st.state is DeviceState.ONLINE:
            on, off = TRIGGERS[self.options.trigger]
            try:
                self._write(on)
                self._write(off)
                checks.append(Check("trigger", True, "trigger commands sent"))
            except TransportLost as exc:
                checks.append(Check("trigger", False, str(exc)))
        checks.append(Check("stats", True, " ".join(
            f"{k}={v}" for k, v in self.pipeline.stats.to_dict().items())))
        return SelfTestReport(self.kind, self.uri.raw, all(c.passed for c in checks),
                              tuple(checks))

    # -- service ------------------------------------------------------------------------
    def read_code(self, timeout: float, cancel: threading.Event, *, fresh: bool = True) -> str:
        """Wait for a code scanned from now on (`fresh`: earlier scans are dropped)."""
        if self._thread is None:
            raise DeviceError("device.scanner.offline", "scanner not open", retryable=False)
        if fresh:
            self.pipeline.clear()
        deadline = time.monotonic() + timeout
        self._arm(+1)
        try:
            while True:
                remaining = deadline - time.monotonic()
                step = min(remaining, self.options.retrigger_s) if self.options.trigger \
                    else remaining
                try:
                    return self.pipeline.wait_code(max(0.0, step), cancel, self._online).code
                except DeviceError as err:
                    if err.key != "scanner.timeout" or time.monotonic() >= deadline:
                        raise
                    self._send_trigger(on=True)  # the scanner's own read time-out ran out
        finally:
            self._arm(-1)

    def subscribe(self, cb: Callable[[ScanEvent], None]) -> Callable[[], None]:
        return self.pipeline.subscribe(cb)

    # -- internals ------------------------------------------------------------------------
    def _online(self) -> bool:
        return self._state is DeviceState.ONLINE

    def _arm(self, delta: int) -> None:
        with self._io:
            self._armed = max(0, self._armed + delta)
            armed = self._armed
        if self.options.trigger and ((armed == 1 and delta > 0) or (armed == 0 and delta < 0)):
            self._send_trigger(on=delta > 0)

    def _send_trigger(self, on: bool) -> None:
        if not self.options.trigger:
            return
        cmd = TRIGGERS[self.options.trigger][0 if on else 1]
        try:
            self._write(cmd)
        except TransportLost as exc:
            log.info("scanner %s: trigger not sent (%s)", self.port, exc)

    def _write(self, data: bytes) -> None:
        with self._io:
            self._transport.write(data)

    def _connect(self) -> bool:
        with self._io:
            try:
                self._transport.open()
            except TransportLost as exc:
                self._state, self._message = DeviceState.NO_DEVICE, str(exc)
                return False
            self._state, self._message = DeviceState.ONLINE, ""
            armed = self._armed
        self.pipeline.reset()
        if armed:
            self._send_trigger(on=True)  # a read was waiting when the scanner came back
        return True

    def _lost(self, exc: Exception) -> None:
        log.warning("scanner %s lost: %s", self.port, exc)
        with self._io:
            self._transport.close()
        self._state, self._message = DeviceState.NO_DEVICE, "unplugged"
        self.pipeline.reset()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._transport.is_open:
                if self._stop.wait(self.options.reconnect_s):
                    break
                if self._connect():
                    self.pipeline.stats.reconnects += 1
                    log.info("scanner %s is back", self.port)
                continue
            try:
                data = self._transport.read()
            except TransportLost as exc:
                if not self._stop.is_set():
                    self._lost(exc)
                continue
            if data:
                self.pipeline.feed(data)
            else:
                self.pipeline.poll()
