"""What a technician does to one device: test prints, a card read, a scan, a restart.

Each action returns an `ActionResult` (pass/fail, translation key, masked detail) and
never raises for a device problem. Card and scan results are masked: the technician
sees that the read worked, not whose card it was.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kiosk import __version__
from kiosk.devices.a4.api import A4Printer
from kiosk.devices.base import Cancelled, Device, DeviceError
from kiosk.devices.idcard.api import CardReader
from kiosk.devices.receipt.api import ReceiptPrinter
from kiosk.devices.scanner.api import CodeScanner
from kiosk.identity import mask_id_number, mask_name, scrub_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActionResult:
    action: str
    kind: str
    ok: bool
    key: str  # maintenance.result.* or the device's error key
    detail: str = ""  # masked
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "kind": self.kind, "ok": self.ok, "key": self.key,
                "detail": self.detail, "data": self.data, "seconds": round(self.seconds, 3)}


def _timed(action: str, kind: str, fn: Any) -> ActionResult:
    started = time.monotonic()
    try:
        res: ActionResult = fn()
    except Cancelled:
        res = ActionResult(action, kind, False, "maintenance.result.cancelled")
    except DeviceError as exc:
        res = ActionResult(action, kind, False, exc.key, scrub_text(exc.detail))
    except Exception as exc:  # a driver bug: show it to the technician, keep the screen alive
        log.exception("maintenance action %s on %s failed", action, kind)
        res = ActionResult(action, kind, False, "maintenance.result.error", type(exc).__name__)
    return ActionResult(res.action, res.kind, res.ok, res.key, res.detail, res.data,
                        time.monotonic() - started)


# -- test prints ---------------------------------------------------------------------------
def make_test_receipt(terminal_id: str, now: datetime | None = None) -> Any:
    """The test receipt: title, terminal, time, a character ruler, a QR code, a cut."""
    from kiosk.devices.receipt.model import Align, Cut, Feed, QrCode, Receipt, Rule, TextLine

    stamp = (now or datetime.now()).strftime("%Y-%m-%d %H:%M:%S")
    return Receipt((
        TextLine("打印测试 / PRINT TEST", Align.CENTER, bold=True, double_height=True),
        Rule("="),
        TextLine(f"终端 Terminal: {terminal_id}"),
        TextLine(f"时间 Time: {stamp}"),
        TextLine(f"版本 Version: {__version__}"),
        Rule("-"),
        TextLine("0123456789" * 3),
        TextLine("莞家政务自助终端中文打印正常"),
        TextLine("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        QrCode(f"TEST:{terminal_id}:{stamp}", 5),
        Feed(2),
        Cut(),
    ))


def _unsupported(action: str, device: Device) -> ActionResult:
    return ActionResult(action, device.kind, False, "maintenance.result.unsupported",
                        f"{type(device).__name__} is not a device for {action}")


def print_test_receipt(device: Device, terminal_id: str) -> ActionResult:
    def run() -> ActionResult:
        if not isinstance(device, ReceiptPrinter):
            return _unsupported("test_receipt", device)
        outcome = device.print_receipt(make_test_receipt(terminal_id))
        return _print_result("test_receipt", device.kind, outcome)

    return _timed("test_receipt", device.kind, run)


def make_test_page(terminal_id: str, now: datetime | None = None) -> bytes:
    """One A4 test page: title, terminal, time, margins frame, a ruler and a grey scale."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    from kiosk.documents.fonts import register_cjk_font

    font = register_cjk_font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    c.setTitle("打印测试页 Test page")
    w, h = A4
    c.setLineWidth(0.6)
    c.rect(10 * mm, 10 * mm, w - 20 * mm, h - 20 * mm)  # 10 mm margins: all four visible?
    c.setFont(font, 22)
    c.drawCentredString(w / 2, h - 40 * mm, "打印测试页  Test page")
    c.setFont(font, 12)
    stamp = (now or datetime.now()).strftime("%Y-%m-%d %H:%M:%S")
    for i, line in enumerate((f"终端 Terminal: {terminal_id}", f"时间 Time: {stamp}",
                              f"版本 Version: {__version__}",
                              "四边的框线都应完整可见；灰阶应有 10 级。",
                              "All four frame lines must be visible; 10 grey steps.")):
        c.drawString(25 * mm, h - (60 + 9 * i) * mm, line)
    for i in range(0, 181, 10):  # a 180 mm ruler
        x = 15 * mm + i * mm
        c.line(x, 120 * mm, x, (126 if i % 50 == 0 else 123) * mm)
        if i % 50 == 0:
            c.drawCentredString(x, 128 * mm, str(i))
    c.line(15 * mm, 120 * mm, 195 * mm, 120 * mm)
    for i in range(10):  # grey scale
        c.setFillGray(i / 9.0)
        c.rect(15 * mm + i * 18 * mm, 80 * mm, 18 * mm, 25 * mm, stroke=1, fill=1)
    c.showPage()
    c.save()
    return buf.getvalue()


def print_test_page(device: Device, terminal_id: str, timeout_s: float = 120.0) -> ActionResult:
    def run() -> ActionResult:
        if not isinstance(device, A4Printer):
            return _unsupported("test_page", device)
        outcome = device.print_pdf(make_test_page(terminal_id), "test page", timeout_s)
        return _print_result("test_page", device.kind, outcome)

    return _timed("test_page", device.kind, run)


def _print_result(action: str, kind: str, outcome: Any) -> ActionResult:
    if outcome.ok:
        return ActionResult(action, kind, True, "maintenance.result.printed",
                            scrub_text(outcome.detail),
                            {"pages": outcome.pages, "job": outcome.job_id})
    return ActionResult(action, kind, False, outcome.error_key or "maintenance.result.failed",
                        scrub_text(outcome.detail))


# -- reads ---------------------------------------------------------------------------------
def try_card_read(device: Device, timeout_s: float, cancel: threading.Event) -> ActionResult:
    """Read one card and show only masked fields; the identity is dropped at once."""

    def run() -> ActionResult:
        if not isinstance(device, CardReader):
            return _unsupported("card_read", device)
        ident = device.read_identity(timeout_s, cancel)
        data = {"id_number": mask_id_number(ident.id_number), "name": mask_name(ident.name),
                "card_kind": ident.card_kind, "source": ident.source.value,
                "photo": bool(ident.photo)}
        return ActionResult("card_read", device.kind, True, "maintenance.result.card_read",
                            f"{data['id_number']} {data['name']}", data)

    return _timed("card_read", device.kind, run)


def try_scan(device: Device, timeout_s: float, cancel: threading.Event) -> ActionResult:
    """Wait for one code at the scanner; show its length and a masked excerpt."""

    def run() -> ActionResult:
        if not isinstance(device, CodeScanner):
            return _unsupported("scan", device)
        text = device.read_code(timeout_s, cancel)
        return ActionResult("scan", device.kind, True, "maintenance.result.scanned",
                            f"{len(text)} chars: {mask_id_number(text)}",
                            {"length": len(text), "masked": mask_id_number(text)})

    return _timed("scan", device.kind, run)


# -- restart -------------------------------------------------------------------------------
def restart(device: Device) -> ActionResult:
    """Close and reopen a device (`reset()`), then report its new status."""

    def run() -> ActionResult:
        with device.lock:
            device.reset()
        st = device.status()
        ok = st.state.value == "online"
        return ActionResult("restart", device.kind, ok,
                            "maintenance.result.restarted" if ok else "maintenance.result.failed",
                            " ".join([st.state.value, *sorted(st.details)]),
                            {"status": st.to_dict()})

    return _timed("restart", device.kind, run)
