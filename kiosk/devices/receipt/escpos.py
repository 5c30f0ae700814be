"""ESC/POS receipt printer service: `escpos+tcp://`, `escpos+serial://`, `escpos+usb://`.

URI parameters: `profile=80mm|58mm|58mm-basic`, `qr=native|image`,
`size=gs|fs|both`, `end_marker=1|0`, `status_timeout` (s, per DLE EOT answer),
`job_timeout` (s, until the printer confirms the job), plus the transport's own
(`baud`, `flow`, `connect_timeout`, `write_timeout`, `in_ep`, `out_ep`).

`print_receipt(receipt)` encodes with the URI's profile and prints; `print_raw` (the
same for bytes already encoded) reports the real outcome: it refuses to start when the printer says
paper out / cover open, and after sending it asks `GS r 1`, which the printer
answers only once everything before it has printed. While waiting it polls
`DLE EOT` (answered in real time), so paper running out mid-job ends the job with
`device.receipt.paper_out`, and the rest of the job is cleared from the printer's
buffer (`DLE DC4 8`) so a retry cannot produce a receipt and a half.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kiosk.devices.base import (
    Check,
    Device,
    DeviceError,
    DeviceState,
    DeviceStatus,
    DeviceUri,
    PrintOutcome,
    SelfTestReport,
)
from kiosk.devices.receipt import escpos_protocol as proto
from kiosk.devices.receipt.escpos_status import (
    QUERY_ORDER,
    EscposStatus,
    error_key,
    is_status_byte,
    parse_gs_r_paper,
    parse_status,
    probe_status,
    to_device_status,
)
from kiosk.devices.receipt.model import PaperProfile, QrMode, Receipt, SizeCommand
from kiosk.devices.receipt.transport import Transport, TransportError, transport_for

log = logging.getLogger(__name__)

CHUNK = 4096


def profile_from_uri(uri: DeviceUri) -> PaperProfile:
    try:
        prof = PaperProfile.named(uri.param("profile", "80mm"))
        kw: dict[str, Any] = {}
        if uri.param("qr"):
            kw["qr"] = QrMode(uri.param("qr"))
        if uri.param("size"):
            kw["size_command"] = SizeCommand(uri.param("size"))
        if uri.param("end_marker"):
            kw["end_marker"] = uri.param("end_marker") not in ("0", "false", "no")
        if uri.param("clear_on_error"):
            kw["clear_on_error"] = uri.param("clear_on_error") not in ("0", "false", "no")
    except ValueError as exc:
        raise DeviceError("device.unsupported_uri", f"{uri.raw}: {exc}", retryable=False) \
            from None
    return prof.with_options(**kw) if kw else prof


_COMMON_PARAMS = frozenset({"profile", "qr", "size", "end_marker", "clear_on_error",
                            "status_timeout", "job_timeout", "poll_interval", "write_timeout"})
_TRANSPORT_PARAMS = {
    "escpos+tcp": frozenset({"connect_timeout"}),
    "escpos+serial": frozenset({"baud", "flow", "port"}),
    "escpos+usb": frozenset({"in_ep", "out_ep"}),
}


class EscposReceiptPrinter(Device):
    kind = "receipt"
    uri_params = _COMMON_PARAMS

    @classmethod
    def accepted_params(cls, scheme: str) -> frozenset[str] | None:
        return _COMMON_PARAMS | _TRANSPORT_PARAMS.get(scheme, frozenset())

    def __init__(self, uri: DeviceUri, transport: Transport | None = None) -> None:
        super().__init__(uri)
        self.transport = transport or transport_for(uri)
        self.profile = profile_from_uri(uri)
        self.status_timeout = float(uri.param("status_timeout", "0.5"))
        self.job_timeout = float(uri.param("job_timeout", "30"))
        self.poll_interval = float(uri.param("poll_interval", "0.5"))
        self._job_end_seen: tuple[bool, bool] | None = None
        # Bytes that were no DLE EOT answer while status() asked (not an ESC/POS peer).
        self._noise = bytearray()

    # -- lifecycle ---------------------------------------------------------------
    def open(self) -> None:
        with self.lock:
            self.transport.open()

    def close(self) -> None:
        with self.lock:
            self.transport.close()

    def capabilities(self) -> dict[str, Any]:
        p = self.profile
        return {**super().capabilities(), "profile": p.name, "columns": p.columns,
                "dots": p.dots, "qr": p.qr.value, "status": self.transport.can_read,
                "transport": repr(self.transport)}

    # -- status ------------------------------------------------------------------
    def _read_status_byte(self) -> int | None:
        """Next DLE EOT answer; a GS r answer seen on the way is remembered."""
        deadline = time.monotonic() + self.status_timeout
        malformed: int | None = None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return malformed
            data = self.transport.read(1, left)
            for b in data:
                if is_status_byte(b):
                    return b
                if len(self._noise) < 64:
                    self._noise.append(b)
                gs_r = parse_gs_r_paper(b)
                if gs_r is not None:
                    self._job_end_seen = gs_r
                else:
                    malformed = b

    def _poll(self) -> EscposStatus:
        if not self.transport.can_read:
            return EscposStatus()
        replies: dict[int, int | None] = {}
        for n in QUERY_ORDER:
            self.transport.write(b"\x10\x04" + bytes([n]))
            b = self._read_status_byte()
            replies[n] = b
            if b is None or not is_status_byte(b):
                break  # a printer that did not answer DLE EOT 1 will not answer the rest
        return parse_status(replies)

    def _ensure_open(self) -> None:
        if not self.transport.is_open:
            self.transport.open()

    def status(self) -> DeviceStatus:
        """Online only if the printer answers DLE EOT with status bytes (`probe_status`)."""
        with self.lock:
            try:
                self._ensure_open()
                if not self.transport.can_read:
                    return to_device_status(EscposStatus())
                try:
                    self.transport.discard_input()  # stale bytes are nobody's answer
                except TransportError:  # a TCP printer closes idle connections: reconnect
                    self.transport.open()
                self._noise = bytearray()
                polled = self._poll()
                return probe_status(polled, bytes(self._noise))
            except TransportError as exc:
                state = DeviceState.NO_DEVICE if exc.missing else DeviceState.OFFLINE
                return DeviceStatus(state, frozenset(), exc.detail)

    def self_test(self) -> SelfTestReport:
        st = self.status()
        checks = (Check("link", self.transport.is_open, repr(self.transport)
                        if self.transport.is_open else st.message),
                  Check("status_answer", "status_unknown" not in st.details
                        and st.state not in (DeviceState.OFFLINE, DeviceState.NO_DEVICE),
                        "DLE EOT answered" if "status_unknown" not in st.details
                        else st.message),
                  Check("ready", st.state is DeviceState.ONLINE,
                        " ".join([st.state.value, *sorted(st.details)])))
        return SelfTestReport(self.kind, self.uri.raw, all(c.passed for c in checks), checks)

    # -- printing ----------------------------------------------------------------
    @property
    def columns(self) -> int:
        return self.profile.columns

    def encode(self, receipt: Receipt) -> bytes:
        return proto.encode_receipt(receipt, self.profile)

    def print_receipt(self, receipt: Receipt) -> PrintOutcome:
        try:
            data = self.encode(receipt)
        except proto.EncodeError as exc:  # this printer cannot print it: retrying cannot help
            return PrintOutcome(False, error_key="device.receipt.bad_document",
                                detail=str(exc), retryable=False)
        return self.print_raw(data)

    def print_raw(self, data: bytes) -> PrintOutcome:
        with self.lock:
            try:
                return self._print(data)
            except TransportError as exc:
                log.warning("receipt print failed: %s", exc.detail)
                return PrintOutcome(False, error_key="device.receipt.offline", detail=exc.detail)

    def _print(self, data: bytes) -> PrintOutcome:
        self._ensure_open()
        try:
            self.transport.discard_input()
        except TransportError:  # a TCP printer closes idle connections: reconnect once
            self.transport.open()
        before = to_device_status(self._poll())
        key = error_key(before)
        if key:
            return PrintOutcome(False, error_key=key, detail=_describe(before))
        self._job_end_seen = None
        for i in range(0, len(data), CHUNK):
            self.transport.write(data[i:i + CHUNK])
        if not self.transport.can_read:
            return PrintOutcome(True, pages=1, detail="unconfirmed: transport cannot read")
        if self.profile.end_marker:
            return self._await_end()
        after = to_device_status(self._poll())
        key = error_key(after)
        if key:
            self._clear_after_error()
            return PrintOutcome(False, error_key=key, detail=_describe(after))
        detail = "unconfirmed: " + after.message if "status_unknown" in after.details else ""
        return PrintOutcome(True, pages=1, detail=detail or _describe(after))

    def _await_end(self) -> PrintOutcome:
        """Wait for the GS r answer; poll DLE EOT meanwhile for paper out / cover open."""
        self.transport.write(proto.GS_R_PAPER)
        deadline = time.monotonic() + self.job_timeout
        next_poll = time.monotonic() + self.poll_interval
        last = DeviceStatus(DeviceState.BUSY)
        while True:
            if self._job_end_seen is None:
                for b in self.transport.read(1, 0.05):
                    if parse_gs_r_paper(b) is not None:
                        self._job_end_seen = parse_gs_r_paper(b)
            if self._job_end_seen is not None:
                near_end, _ = self._job_end_seen
                return PrintOutcome(True, pages=1, detail="paper_low" if near_end else "")
            now = time.monotonic()
            if now >= deadline:
                self._clear_after_error()
                return PrintOutcome(False, error_key="device.receipt.timeout",
                                    detail=f"no end-of-job answer in {self.job_timeout:.0f}s; "
                                           f"last status {_describe(last)}")
            if now >= next_poll:
                last = to_device_status(self._poll())
                next_poll = time.monotonic() + self.poll_interval
                key = error_key(last)
                if key and self._job_end_seen is None:
                    self._clear_after_error()
                    return PrintOutcome(False, error_key=key,
                                        detail="stopped mid-job: " + _describe(last))

    def _clear_after_error(self) -> None:
        if not self.profile.clear_on_error:
            return
        try:
            self.transport.write(proto.DLE_DC4_CLEAR)
            self.transport.read(3, self.status_timeout)
            self.transport.discard_input()
        except TransportError:
            pass


def _describe(st: DeviceStatus) -> str:
    return " ".join([st.state.value, *sorted(st.details), st.message]).strip()
