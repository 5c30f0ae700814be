"""Former home of the device contracts; each kind's contract is now in `<kind>/api.py`.

Kept as re-exports so that older imports keep working; new code imports from the
kind's `api` module (or `kiosk.devices.base` for `PrintOutcome`).
"""

from __future__ import annotations

from kiosk.devices.a4.api import A4Printer
from kiosk.devices.base import PrintOutcome
from kiosk.devices.idcard.api import CardEvent, CardEventSink, IdCardReader
from kiosk.devices.receipt.api import ReceiptPrinter

__all__ = ["A4Printer", "CardEvent", "CardEventSink", "IdCardReader", "PrintOutcome",
           "ReceiptPrinter"]
