"""A4 jobs through real IPP (and a real CUPS scheduler) to ippeveprinter."""

from __future__ import annotations

import subprocess

import pytest

from emulators.ippeve_peer import IppEvePrinter
from kiosk.devices.a4.api import A4Printer
from kiosk.devices.a4.ipp_protocol import GroupTag, Op, Tag, operation_attributes
from kiosk.devices.base import DeviceState
from kiosk.devices.registry import create_device


@pytest.fixture(scope="module")
def pdf() -> bytes:
    from kiosk.commands.print_test import sample_page_pdf

    return sample_page_pdf("ipp://test")


def _dev(uri: str):  # type: ignore[no-untyped-def]
    dev = create_device("a4", uri + ("&" if "?" in uri else "?") + "poll=0.1&cancel_wait=5")
    dev.open()
    return dev


def test_the_saved_file_is_the_pdf_we_sent(ipp_printer: IppEvePrinter, pdf: bytes) -> None:
    dev = _dev(ipp_printer.uri)
    assert dev.status().state is DeviceState.ONLINE
    assert dev.capabilities()["model"].endswith("Kiosk Laser A4")
    outcome = dev.print_pdf(pdf, "证明-test", timeout=30)
    assert outcome.ok and outcome.pages == 1 and outcome.job_id == "1"
    saved = ipp_printer.printed()
    assert [p.name for p in saved] == ["job-1.pdf"] and saved[0].read_bytes() == pdf


def test_paper_out_mid_job_then_reload(ipp_printer: IppEvePrinter, pdf: bytes) -> None:
    dev = _dev(ipp_printer.uri)
    ipp_printer.arm_fault("paper-out-mid-job")
    outcome = dev.print_pdf(pdf, "t", timeout=30)
    assert not outcome.ok and outcome.error_key == "device.a4.paper_out"
    assert "aborted" in outcome.detail
    assert "paper_out" in dev.status().details
    refused = dev.print_pdf(pdf, "t", timeout=30)  # refused up front: nothing submitted
    assert refused.error_key == "device.a4.paper_out" and refused.job_id == ""
    ipp_printer.load_paper()
    assert dev.status().state is DeviceState.ONLINE
    assert dev.print_pdf(pdf, "t", timeout=30).ok
    assert [p.name for p in ipp_printer.printed()] == ["job-2.pdf"]


def test_printer_stalls_without_paper_job_is_cancelled(ipp_printer: IppEvePrinter,
                                                        pdf: bytes) -> None:
    dev = _dev(ipp_printer.uri)
    ipp_printer.arm_fault("stall-paper-out")
    outcome = dev.print_pdf(pdf, "t", timeout=30)
    assert outcome.error_key == "device.a4.paper_out" and "cancelled" in outcome.detail
    job = dev.client.request(Op.GET_JOB_ATTRIBUTES, [operation_attributes(
        dev.client.printer_uri, "kiosk", [(Tag.INTEGER, "job-id", int(outcome.job_id))])])
    assert job.first(GroupTag.JOB, "job-state") == 7  # canceled: reloading paper prints nothing
    assert ipp_printer.printed() == []


def test_jam(ipp_printer: IppEvePrinter, pdf: bytes) -> None:
    dev = _dev(ipp_printer.uri)
    ipp_printer.arm_fault("jam-mid-job")
    outcome = dev.print_pdf(pdf, "t", timeout=30)
    assert outcome.error_key == "device.a4.jam"
    assert dev.status().state is DeviceState.USER_ERROR


def test_not_a_pdf_and_unreachable_printer(ipp_printer: IppEvePrinter) -> None:
    dev = _dev(ipp_printer.uri)
    assert dev.print_pdf(b"hello", "t").error_key == "device.a4.bad_document"
    port = ipp_printer.port
    ipp_printer.stop()
    gone = create_device("a4", f"ipp://127.0.0.1:{port}/ipp/print?timeout=2")
    assert isinstance(gone, A4Printer)
    assert gone.status().state is DeviceState.OFFLINE
    assert gone.print_pdf(b"%PDF-1.4", "t").error_key == "device.a4.offline"


def test_through_a_cups_queue(cupsd: str, ipp_printer: IppEvePrinter, pdf: bytes) -> None:
    res = subprocess.run(["lpadmin", "-h", cupsd, "-p", "Kiosk_A4", "-E", "-v", ipp_printer.uri,
                          "-m", "raw"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    dev = _dev(f"cups://Kiosk_A4?server={cupsd}")
    assert dev.status().state is DeviceState.ONLINE
    outcome = dev.print_pdf(pdf, "cups-test", timeout=60)
    assert outcome.ok, outcome
    assert ipp_printer.printed()[0].read_bytes() == pdf
    ipp_printer.arm_fault("paper-out-mid-job")
    failed = dev.print_pdf(pdf, "cups-test-2", timeout=60)
    assert failed.error_key == "device.a4.paper_out"


def test_cups_uri_errors() -> None:
    from kiosk.devices.base import DeviceError

    with pytest.raises(DeviceError):
        create_device("a4", "cups://")
    with pytest.raises(DeviceError):
        create_device("a4", "ipp://")
