"""What the rest of the app may rely on from a receipt printer: print a `Receipt`.

The printer encodes the receipt itself with its own model profile (paper width, QR
support, size commands), so callers never see ESC/POS.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from kiosk.devices.base import DeviceService, PrintOutcome
from kiosk.devices.receipt.model import Receipt

__all__ = ["PrintOutcome", "ReceiptPrinter"]


@runtime_checkable
class ReceiptPrinter(DeviceService, Protocol):
    @property
    def columns(self) -> int:
        """Characters per line on this printer's paper (48 on 80 mm, 32 on 58 mm)."""
        ...

    def print_receipt(self, receipt: Receipt) -> PrintOutcome:
        """Encode the receipt for this printer, print it and report the real outcome."""
        ...

    def encode(self, receipt: Receipt) -> bytes:
        """The bytes `print_receipt` sends (raises EncodeError); for a technician's copy."""
        ...

    def print_raw(self, data: bytes) -> PrintOutcome:
        """Send bytes already encoded for this printer (a technician's test job)."""
        ...
