"""In-process receipt printer simulator (`sim://?paper=ok&spool=DIR&profile=80mm`).

Encodes like a real printer of the chosen `profile` (and `qr`, `size`), keeps every
job's bytes in `jobs` and, with `spool`, writes them as `receipt-NNN.bin`.
`paper=low|out` and `cover=open` make it misbehave; `set_paper()` and `set_cover()`
change that at run time (training mode, tests). Any other value is refused.
"""

from __future__ import annotations

from pathlib import Path

from kiosk.devices.base import (
    Device,
    DeviceError,
    DeviceState,
    DeviceStatus,
    DeviceUri,
    PrintOutcome,
)
from kiosk.devices.receipt.escpos import profile_from_uri
from kiosk.devices.receipt.escpos_protocol import EncodeError, encode_receipt
from kiosk.devices.receipt.model import Receipt

PAPER_STATES = ("ok", "low", "out")


def _choice(uri: DeviceUri, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = uri.param(name, default) or default
    if value not in allowed:
        raise DeviceError("device.unsupported_uri", f"receipt sim: {name}={value!r} "
                          f"(expected one of {', '.join(allowed)})", retryable=False)
    return value


class SimReceiptPrinter(Device):
    kind = "receipt"
    uri_params = frozenset({"paper", "cover", "spool", "profile", "qr", "size"})

    def __init__(self, uri: DeviceUri) -> None:
        super().__init__(uri)
        self.profile = profile_from_uri(uri)
        self.jobs: list[bytes] = []
        self.paper = _choice(uri, "paper", PAPER_STATES, "ok")
        self.cover_open = _choice(uri, "cover", ("open", "closed"), "closed") == "open"
        spool = uri.param("spool")
        self.spool = Path(spool) if spool else None
        self._opened = False

    def open(self) -> None:
        self._opened = True
        if self.spool:
            self.spool.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        self._opened = False

    def set_paper(self, state: str) -> None:
        """`ok`, `low` or `out` (training mode and tests)."""
        if state not in PAPER_STATES:
            raise ValueError(f"paper state {state!r} not in {PAPER_STATES}")
        self.paper = state

    def set_cover(self, open_: bool) -> None:
        self.cover_open = open_

    def status(self) -> DeviceStatus:
        if not self._opened:
            return DeviceStatus(DeviceState.OFFLINE)
        details = set()
        if self.paper == "low":
            details.add("paper_low")
        if self.paper == "out":
            details.add("paper_out")
        if self.cover_open:
            details.add("cover_open")
        state = DeviceState.USER_ERROR if {"paper_out", "cover_open"} & details \
            else DeviceState.ONLINE
        return DeviceStatus(state, frozenset(details))

    @property
    def columns(self) -> int:
        return self.profile.columns

    def encode(self, receipt: Receipt) -> bytes:
        return encode_receipt(receipt, self.profile)

    def print_receipt(self, receipt: Receipt) -> PrintOutcome:
        try:
            data = self.encode(receipt)
        except EncodeError as exc:
            return PrintOutcome(False, error_key="device.receipt.bad_document",
                                detail=str(exc), retryable=False)
        return self.print_raw(data)

    def print_raw(self, data: bytes) -> PrintOutcome:
        with self.lock:
            st = self.status()
            if st.state == DeviceState.OFFLINE:
                return PrintOutcome(False, error_key="device.receipt.offline")
            if "paper_out" in st.details:
                return PrintOutcome(False, error_key="device.receipt.paper_out")
            if "cover_open" in st.details:
                return PrintOutcome(False, error_key="device.receipt.cover_open")
            self.jobs.append(bytes(data))
            if self.spool:
                (self.spool / f"receipt-{len(self.jobs):03d}.bin").write_bytes(data)
            return PrintOutcome(True, pages=1, job_id=str(len(self.jobs)))
