"""Print steps in a flow against real printer stacks: paper out mid-job, retry, no duplicate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emulators.escpos_listener import EscposListener
from emulators.ippeve_peer import IppEvePrinter
from kiosk.devices.registry import create_device
from kiosk.flows.context import FlowContext
from kiosk.flows.engine import FlowEngine
from kiosk.flows.interaction import ScriptedInteraction
from kiosk.flows.model import FlowPackage, parse_flow
from kiosk.flows.screens import Response, Screen, ScreenKind
from kiosk.identity import Identity, IdentitySource, mask_name
from kiosk.session import Session

A4 = {"kind": "a4", "title": "证明", "blocks": [
    {"type": "title", "text": "社会保险参保缴费证明"},
    {"type": "fields", "fields": [{"label": "姓名", "value": "{identity.name|name}"}]}]}
RECEIPT = {"kind": "receipt", "lines": [
    {"type": "text", "text": "办理凭条", "align": "center", "big": True},
    {"type": "kv", "label": "办理人", "value": "{identity.name|name}"},
    {"type": "text", "text": "温馨提示：证明三个月内有效，请妥善保管。"}]}
FLOW = {"id": "cert", "title": "t", "steps": [
    {"id": "preview", "type": "preview", "template": "cert_a4"},
    {"id": "print", "type": "print_a4"},
    {"id": "receipt", "type": "print_receipt", "template": "cert_receipt"},
    {"id": "print_again", "type": "print_a4"}]}  # a flow revisiting print: must not reprint


def run(a4_uri: str, receipt_uri: str, answer: Any) -> tuple[Any, list[dict], list[Screen]]:
    pkg = FlowPackage(Path("."), "test", "1", "0", {"cert": parse_flow(FLOW, "flows/cert.toml")},
                      {"cert_a4": A4, "cert_receipt": RECEIPT})
    session = Session()
    session.set_identity(Identity(IdentitySource.ID_CARD, "441900199001011234", "陈小明"))
    ui = ScriptedInteraction(session.cancel, answer)
    records: list[dict] = []
    devices = {"a4": create_device("a4", a4_uri), "receipt": create_device("receipt",
                                                                          receipt_uri)}
    for d in devices.values():
        d.open()
    ctx = FlowContext(pkg.flows["cert"], pkg, session, ui, devices, None, {"id": "DG-T-1"},
                      recorder=lambda stream, p: records.append({"stream": stream, **p}))
    result = FlowEngine().run(ctx)
    for d in devices.values():
        d.close()
    return result, records, ui.screens


def test_paper_out_mid_job_retry_prints_exactly_once(ipp_printer: IppEvePrinter,
                                                     listener: EscposListener) -> None:
    ipp_printer.arm_fault("paper-out-mid-job")
    errors: list[Screen] = []

    def answer(s: Screen) -> Response | None:
        if s.kind is ScreenKind.PREVIEW:
            return Response("print")
        if s.kind is ScreenKind.ERROR:
            errors.append(s)
            if len(errors) == 1:
                return Response("help")
            ipp_printer.load_paper()  # staff came and loaded paper
            return Response("retry")
        if s.kind is ScreenKind.INFO:
            return Response("back")
        return None

    result, records, screens = run(ipp_printer.uri + "?poll=0.1", listener.uri, answer)
    assert result.outcome == "completed", result
    assert errors[0].text == "打印机缺纸，证明未打印"
    assert [a.id for a in errors[0].actions] == ["help", "cancel", "retry"]
    assert any(s.kind is ScreenKind.INFO and "12345" in s.text for s in screens)
    assert [p.name for p in ipp_printer.printed()] == ["job-2.pdf"]  # one certificate
    a4 = [r for r in records if r["printer"] == "a4"]
    assert [(r["outcome"], r["error_key"]) for r in a4] == [
        ("failed", "device.a4.paper_out"), ("printed", "")]
    assert all(r["citizen"] == "4419**********1234" and r["document"] == "cert_a4"
               for r in a4)
    assert a4[1]["pages"] == 1 and a4[1]["attempt"] == 2
    assert "陈小明" not in str(records) and "441900199001011234" not in str(records)
    assert len(listener.printer.completed_jobs) == 1
    assert listener.printer.completed_jobs[0].lines[1] == "办理人：" + mask_name("陈小明")


def test_receipt_paper_out_can_be_skipped(ipp_printer: IppEvePrinter,
                                          listener: EscposListener) -> None:
    listener.printer.paper_out_after_lines = 1

    def answer(s: Screen) -> Response | None:
        if s.kind is ScreenKind.PREVIEW:
            return Response("print")
        if s.kind is ScreenKind.ERROR:
            assert [a.id for a in s.actions] == ["help", "skip", "retry"]
            return Response("skip")
        return None

    result, records, _ = run(ipp_printer.uri + "?poll=0.1", listener.uri, answer)
    assert result.outcome == "completed"
    assert len(ipp_printer.printed()) == 1
    rec = [r for r in records if r["printer"] == "receipt"]
    assert [(r["outcome"], r["error_key"]) for r in rec] == [("failed",
                                                              "device.receipt.paper_out")]
    assert listener.printer.completed_jobs == []


def test_cancel_after_a4_failure_ends_the_flow(ipp_printer: IppEvePrinter,
                                               listener: EscposListener) -> None:
    ipp_printer.arm_fault("jam-mid-job")

    def answer(s: Screen) -> Response | None:
        if s.kind is ScreenKind.PREVIEW:
            return Response("print")
        if s.kind is ScreenKind.ERROR:
            return Response("cancel")
        return None

    result, records, _ = run(ipp_printer.uri + "?poll=0.1", listener.uri, answer)
    assert result.outcome == "cancelled"
    assert [r["error_key"] for r in records] == ["device.a4.jam"]
    assert ipp_printer.printed() == [] and listener.printer.completed_jobs == []
