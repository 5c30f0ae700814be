"""Unhappy paths across the flows, with real printer stacks where it matters:
A4 paper out mid-job (ippeveprinter), the queue ticket over ESC/POS TCP, a card moved
during the read, the social-security card, and the citizen who walks away."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from PySide6.QtWidgets import QPushButton

from emulators.escpos_listener import EscposListener
from emulators.ippeve_peer import IppEvePrinter
from kiosk.ui.citizen import tap
from synthetic.citizens import BY_KEY

from .conftest import all_texts, flat, needs_poppler, pdf_pages, receipt_texts


@pytest.fixture
def ipp_printer(dns_sd: None, tmp_path: Path) -> Iterator[IppEvePrinter]:
    with IppEvePrinter(tmp_path / "ippeve") as printer:
        yield printer


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[EscposListener]:
    with EscposListener(out=tmp_path / "receipts") as lst:
        yield lst


@needs_poppler
def test_paper_out_mid_job_on_a_multi_page_list(business_runtime, drive, ipp_printer,
                                                tmp_path) -> None:  # type: ignore[no-untyped-def]
    ipp_printer.arm_fault("paper-out-mid-job")
    rt = business_runtime(a4=ipp_printer.uri + "?poll=0.1")
    errors: list[str] = []

    def staff(win: Any, name: str) -> None:
        if name.endswith("print.error"):
            errors.append(name)
            ipp_printer.load_paper()  # staff loads paper; the citizen taps retry

    visit = drive(rt, "tax_list", script={"print.error": ["action-retry"]}, inspect=staff,
                  timeout_ms=120000)
    assert visit.ok, visit.names
    (err, texts), = visit.shown("print.error")
    assert (err.text == "打印机缺纸，证明未打印" and "重新打印" in texts) or "重试" in texts
    printed = ipp_printer.printed()
    assert len(printed) == 1  # one list on paper, not two
    pages = pdf_pages(printed[0].read_bytes(), tmp_path)
    assert len(pages) >= 2 and len(PdfReader(str(printed[0])).pages) == len(pages)
    for n, page in enumerate(pages, 1):
        assert f"第{n}页/共{len(pages)}页" in flat(page)
    assert len(rt.devices["receipt"].jobs) == 1


def test_cancel_after_a_jam_prints_nothing(business_runtime, drive, ipp_printer) -> None:  # type: ignore[no-untyped-def]
    ipp_printer.arm_fault("jam-mid-job")
    rt = business_runtime(a4=ipp_printer.uri + "?poll=0.1")
    visit = drive(rt, "no_property", script={"scope.choice": ["option-self"],
                                             "print.error": ["action-cancel"]},
                  timeout_ms=120000)
    assert not visit.ok
    assert ipp_printer.printed() == [] and rt.devices["receipt"].jobs == []


def test_queue_ticket_over_escpos_tcp(business_runtime, drive, listener) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime(receipt=listener.uri)
    visit = drive(rt, "queue_ticket", script={"start": [], "identify.identify": []})
    assert visit.ok, visit.names
    (screen, _), = visit.shown("show.info")
    (job,) = listener.printer.completed_jobs
    text = "\n".join(job.lines)
    assert "排队号票" in text and "社会保险" in text
    assert screen.big in text.replace(" ", "")
    assert "陈**" in text and BY_KEY["chen"].name not in text


def test_card_moved_during_the_read(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    rt.devices["idcard"].fail_next("idcard.card_moved")
    visit = drive(rt, "provident_fund", script={"start": ["card:ouyang"]})
    assert visit.ok, visit.names
    statuses = [s.status for s, _ in visit.shown("identify.identify") if s is not None]
    assert any("证件被移开" in s for s in statuses)
    assert len(rt.devices["a4"].jobs) == 1


def test_social_security_card_identifies_too(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime(idcard="sim://", sscard="sim://?card=ouyang")
    seen: dict[str, str] = {}

    def inspect(win: Any, name: str) -> None:
        if win.session is not None and win.session.identity is not None:
            seen["source"] = win.session.identity.source.value

    visit = drive(rt, "provident_fund", script={"start": []}, inspect=inspect)
    assert visit.ok, visit.names
    assert seen["source"] == "ss_card"


@pytest.mark.parametrize("flow,screen", [("tax_list", ".range.form"),
                                         ("no_property", ".spouse.identify"),
                                         ("evaluation", ".ticket_no.keyboard")])
def test_walking_away_wipes_the_session(business_runtime, qtbot, make_window, flow,
                                       screen) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    rt.config = rt.config.with_section("session", idle_timeout_s=1.5, countdown_s=1.0)
    win = make_window(rt)
    tap(win.attract.findChild(QPushButton, "attractTouch"))
    tap(win.home.tiles[flow])
    answers = {".consent": "action-agree", ".mode.choice": "option-range",
               ".scope.choice": "option-couple"}

    def step() -> bool:
        for suffix, button in answers.items():
            if win.current_screen.endswith(suffix):
                b = win.flow_view.findChild(QPushButton, button)
                if b is not None and b.isVisible():
                    tap(b)
        return win.current_screen.endswith(screen)

    qtbot.waitUntil(step, timeout=20000)
    session = win.session
    assert session is not None
    qtbot.waitUntil(lambda: win.current_screen == "attract", timeout=10000)
    assert win.session is None and session.identity is None and session.data == {}
    assert session.end_reason == "idle"
    qtbot.wait(300)
    text = all_texts(win)
    chen = BY_KEY["chen"]
    assert chen.name not in text and chen.id_number[-4:] not in text
    assert rt.devices["a4"].jobs == [] and receipt_texts(rt) == []
