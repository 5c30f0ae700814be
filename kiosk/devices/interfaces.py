"""Typed device interfaces the flows depend on (never on a transport)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, runtime_checkable

from kiosk.devices.base import DeviceStatus
from kiosk.identity import Identity


class CardEvent(str, Enum):
    """What a card reader reports while `read_identity` runs (for the identify screen)."""

    WAITING = "waiting"  # polling, no card on the reader
    PRESENT = "present"  # a card was found
    READING = "reading"  # reading it: "do not move the card"
    READ = "read"  # read and decoded
    FAILED = "failed"  # this attempt failed (the DeviceError says why)
    REMOVED = "removed"  # the card went away
    TAKE_OUT = "take_out"  # the card in the slot was used already: take it out first


CardEventSink = Callable[[CardEvent], None]


@runtime_checkable
class IdCardReader(Protocol):
    kind: str

    def read_identity(self, timeout: float, cancel: threading.Event,
                      on_event: CardEventSink | None = None) -> Identity:
        """Wait for a card, read it and return the identity; raise DeviceError/Cancelled.

        `on_event` (optional) is called from the reading thread with CardEvents.
        """
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
