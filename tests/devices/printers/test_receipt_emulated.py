"""ESC/POS over real TCP sockets and a real pty against the emulated printer."""

from __future__ import annotations

from emulators.escpos_listener import EscposListener
from emulators.escpos_serial import EscposSerialEmulator
from kiosk.devices.base import DeviceState
from kiosk.devices.receipt.api import ReceiptPrinter
from kiosk.devices.receipt.escpos_protocol import encode_receipt
from kiosk.devices.receipt.model import Align, Cut, QrCode, Receipt, TextLine
from kiosk.devices.registry import create_device

CHINESE = ["莞家政务，欢迎您！", "金额：￥1,234.50。", "标点：、；？“引号”（括号）《书名》",
           "生僻字：㐀䶮𠀀"]
RECEIPT = Receipt((TextLine("办理凭条", Align.CENTER, True, True, True),
                   *(TextLine(t) for t in CHINESE), QrCode("http://127.0.0.1/verify/AB12"),
                   Cut()))


def _printer(uri: str):  # type: ignore[no-untyped-def]
    dev = create_device("receipt", uri + ("&" if "?" in uri else "?") + "poll_interval=0.05")
    dev.open()
    return dev


def test_chinese_round_trip_over_tcp(listener: EscposListener) -> None:
    dev = _printer(listener.uri)
    outcome = dev.print_raw(encode_receipt(RECEIPT))
    dev.close()
    assert outcome.ok, outcome
    job = listener.printer.completed_jobs[0]
    assert job.lines[0] == "办理凭条" and job.lines[1:5] == CHINESE
    assert job.qr_codes == ["http://127.0.0.1/verify/AB12"]
    assert listener.printer.status_queries[:4] == [1, 2, 3, 4]  # checked before printing
    listener.saver.save_new()
    png = listener.saver.out / "receipt-001.png"  # type: ignore[operator]
    assert png.stat().st_size > 2000


def test_chinese_round_trip_over_a_pty(serial_printer: EscposSerialEmulator) -> None:
    dev = _printer(f"escpos+serial://{serial_printer.port}?baud=115200")
    outcome = dev.print_receipt(RECEIPT)
    dev.close()
    assert outcome.ok, outcome
    assert serial_printer.printer.completed_jobs[0].lines[1:5] == CHINESE


def test_status_through_the_wire(listener: EscposListener) -> None:
    dev = _printer(listener.uri)
    assert dev.status().state is DeviceState.ONLINE
    listener.printer.set_paper("low")
    assert dev.status().details == {"paper_low"}
    listener.printer.set_paper("out")
    assert dev.status().state is DeviceState.USER_ERROR and "paper_out" in dev.status().details
    listener.printer.set_paper("ok")
    listener.printer.set_cover(True)
    assert "cover_open" in dev.status().details
    listener.printer.set_cover(False)
    listener.printer.answer_status = False
    st = dev.status()
    assert "status_unknown" in st.details and "paper_out" not in st.details
    dev.close()


def test_paper_out_refuses_before_sending(listener: EscposListener) -> None:
    listener.printer.set_paper("out")
    dev = _printer(listener.uri)
    outcome = dev.print_receipt(RECEIPT)
    assert not outcome.ok and outcome.error_key == "device.receipt.paper_out"
    assert b"\x1c&" not in listener.printer.received  # nothing of the job was sent
    dev.close()


def test_paper_out_mid_job_is_reported_and_the_rest_is_cleared(listener: EscposListener) -> None:
    listener.printer.paper_out_after_lines = 3
    dev = _printer(listener.uri)
    outcome = dev.print_receipt(RECEIPT)
    assert not outcome.ok and outcome.error_key == "device.receipt.paper_out"
    assert "mid-job" in outcome.detail
    assert listener.printer.clears == 1 and listener.printer.pending == 0
    listener.printer.set_paper("ok")  # the technician reloads paper
    assert listener.printer.process() == b"" and listener.printer.completed_jobs == []
    retry = dev.print_receipt(RECEIPT)
    assert retry.ok
    done = listener.printer.completed_jobs
    assert len(done) == 1 and done[0].lines[1:5] == CHINESE  # one whole receipt, no half one
    dev.close()


def test_cover_opened_mid_job(listener: EscposListener) -> None:
    dev = _printer(listener.uri)
    listener.printer.paper_out_after_lines = None
    orig = listener.printer._event

    def open_cover(ev):  # type: ignore[no-untyped-def]
        if ev.kind == "text" and ev.value == CHINESE[1]:
            listener.printer.cover_open = True
        return orig(ev)

    listener.printer._event = open_cover  # type: ignore[method-assign]
    outcome = dev.print_receipt(RECEIPT)
    assert outcome.error_key == "device.receipt.cover_open"
    dev.close()


def test_connection_dropped_mid_job(listener: EscposListener) -> None:
    listener.drop_after_bytes = 40
    dev = _printer(listener.uri)
    outcome = dev.print_receipt(RECEIPT)
    assert not outcome.ok and outcome.error_key == "device.receipt.offline"
    assert listener.drops == 1
    assert dev.print_receipt(RECEIPT).ok  # reconnects for the next job
    dev.close()


def test_serial_cable_pulled_mid_job(serial_printer: EscposSerialEmulator) -> None:
    dev = _printer(f"escpos+serial://{serial_printer.port}?baud=9600")
    serial_printer.drop_after_bytes = 30
    outcome = dev.print_receipt(RECEIPT)
    assert not outcome.ok and outcome.error_key in ("device.receipt.offline",
                                                     "device.receipt.timeout")
    dev.close()


def test_silent_printer_prints_but_says_unconfirmed(listener: EscposListener) -> None:
    listener.printer.answer_status = False
    listener.printer.answer_gs_r = False
    dev = create_device("receipt", listener.uri + "?end_marker=0&status_timeout=0.1")
    assert isinstance(dev, ReceiptPrinter)
    dev.open()
    outcome = dev.print_receipt(RECEIPT)
    assert outcome.ok and outcome.detail.startswith("unconfirmed")
    dev.close()


def test_refused_connection_is_offline() -> None:
    lst = EscposListener()
    port = lst.port
    lst.stop()  # nothing listens there any more
    dev = create_device("receipt", f"escpos+tcp://127.0.0.1:{port}?connect_timeout=1")
    assert isinstance(dev, ReceiptPrinter)
    assert dev.status().state is DeviceState.OFFLINE
    assert dev.print_raw(b"x").error_key == "device.receipt.offline"


def test_missing_serial_port_is_no_device(tmp_path) -> None:  # type: ignore[no-untyped-def]
    dev = create_device("receipt", f"escpos+serial://{tmp_path}/ttyNONE")
    assert dev.status().state is DeviceState.NO_DEVICE
