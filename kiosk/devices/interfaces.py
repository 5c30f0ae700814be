"""Typed device interfaces the flows depend on (never on a transport)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from kiosk.devices.base import DeviceStatus
from kiosk.identity import Identity


@runtime_checkable
class IdCardReader(Protocol):
    kind: str

    def read_identity(self, timeout: float, cancel: threading.Event) -> Identity:
        """Wait for a card, read it and return the identity; raise DeviceError/Cancelled."""
        ...

    def status(self) -> DeviceStatus: ...


@dataclass(frozen=True)
class PrintOutcome:
    ok: bool
    pages: int = 0
    job_id: str = ""
    error_key: str = ""
    detail: str = ""


@runtime_checkable
class ReceiptPrinter(Protocol):
    kind: str

    def print_raw(self, data: bytes) -> PrintOutcome:
        """Send encoded ESC/POS bytes and report the real outcome."""
        ...

    def status(self) -> DeviceStatus: ...


@runtime_checkable
class A4Printer(Protocol):
    kind: str

    def print_pdf(self, pdf: bytes, title: str, timeout: float = 120.0) -> PrintOutcome:
        """Submit a PDF and follow the job to its end."""
        ...

    def status(self) -> DeviceStatus: ...
