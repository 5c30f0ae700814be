"""What the rest of the app may rely on from an A4 printer: print a PDF, follow the job."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from kiosk.devices.base import DeviceService, PrintOutcome

__all__ = ["A4Printer", "PrintOutcome"]


@runtime_checkable
class A4Printer(DeviceService, Protocol):
    def print_pdf(self, pdf: bytes, title: str, timeout: float = 120.0) -> PrintOutcome:
        """Submit a PDF and follow the job to its end (or `timeout` seconds)."""
        ...
