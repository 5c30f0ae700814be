"""Technician actions on real and simulated devices: test prints, card read, scan, restart."""

from __future__ import annotations

import io
import threading

from pypdf import PdfReader

from emulators.escpos_decoder import decode
from emulators.escpos_listener import EscposListener
from kiosk.devices.registry import create_device
from kiosk.maintenance import actions
from synthetic.citizens import BY_KEY


def opened(kind: str, uri: str):  # type: ignore[no-untyped-def]
    dev = create_device(kind, uri)
    dev.open()
    return dev


def test_test_receipt_on_a_real_tcp_printer() -> None:
    with EscposListener() as listener:
        dev = opened("receipt", listener.uri + "?status_timeout=1")
        try:
            res = actions.print_test_receipt(dev, "DG-T-1")
        finally:
            dev.close()
        assert res.ok and res.key == "maintenance.result.printed", res
        text = decode(bytes(listener.printer.received)).render_text()
        assert "打印测试" in text and "DG-T-1" in text and "莞家政务自助终端中文打印正常" in text


def test_test_receipt_reports_paper_out(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with EscposListener() as listener:
        listener.printer.set_paper("out")
        dev = opened("receipt", listener.uri + "?status_timeout=1")
        try:
            res = actions.print_test_receipt(dev, "DG-T-1")
        finally:
            dev.close()
    assert not res.ok and res.key == "device.receipt.paper_out"


def test_test_page_is_one_a4_page_with_the_terminal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    dev = opened("a4", f"sim://?spool={tmp_path}")
    res = actions.print_test_page(dev, "DG-T-2")
    assert res.ok and res.data["pages"] == 1
    pdf = PdfReader(io.BytesIO((tmp_path / "a4-001.pdf").read_bytes()))
    page = pdf.pages[0]
    assert round(float(page.mediabox.width)) == 595 and round(float(page.mediabox.height)) == 842
    text = page.extract_text()
    assert "Test page" in text and "DG-T-2" in text


def test_test_page_on_a_jammed_printer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = actions.print_test_page(opened("a4", "sim://?media=jam"), "DG-T-2")
    assert not res.ok and res.key == "device.a4.jam"


def test_card_read_shows_masked_data_only() -> None:
    dev = opened("idcard", "sim://?card=ouyang")
    res = actions.try_card_read(dev, 2.0, threading.Event())
    c = BY_KEY["ouyang"]
    assert res.ok and res.data["id_number"] == c.id_number[:4] + "*" * 10 + c.id_number[-4:]
    assert c.id_number not in repr(res) and c.name not in repr(res)
    assert res.data["name"].startswith(c.name[0])


def test_card_read_without_a_card_times_out_and_cancel_works() -> None:
    dev = opened("idcard", "sim://")
    assert actions.try_card_read(dev, 0.1, threading.Event()).key == "idcard.no_card"
    cancel = threading.Event()
    cancel.set()
    assert actions.try_card_read(dev, 5.0, cancel).key == "maintenance.result.cancelled"


def test_scan_shows_length_and_a_masked_excerpt() -> None:
    dev = opened("scanner", "sim://?code=TOKEN-ABCDEFGHIJKLMNOP&delay_ms=20")
    try:
        res = actions.try_scan(dev, 5.0, threading.Event())
    finally:
        dev.close()
    assert res.ok and res.data == {"length": 22, "masked": "TOKE**************MNOP"}
    assert "ABCDEFGHIJ" not in repr(res)


def test_scan_timeout_and_a_device_that_cannot_scan() -> None:
    dev = opened("scanner", "sim://")
    try:
        assert actions.try_scan(dev, 0.1, threading.Event()).key == "scanner.timeout"
    finally:
        dev.close()
    res = actions.try_scan(opened("receipt", "sim://"), 0.1, threading.Event())
    assert not res.ok and res.key == "maintenance.result.unsupported"


def test_restart_reopens_the_device() -> None:
    with EscposListener() as listener:
        dev = opened("receipt", listener.uri + "?status_timeout=1")
        before = listener.connections
        try:
            res = actions.restart(dev)
        finally:
            dev.close()
        assert res.ok and res.data["status"]["state"] == "online"
        assert listener.connections > before  # a new TCP connection after the reset
