"""The print_receipt step hands a `Receipt` to the printer, which lays it out for its
paper and encodes it with its own model profile (the step knows no ESC/POS)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emulators.escpos_decoder import decode, text_width
from kiosk.devices.registry import create_device
from kiosk.flows.context import FlowContext, FlowResult
from kiosk.flows.engine import FlowEngine
from kiosk.flows.interaction import ScriptedInteraction
from kiosk.flows.model import FlowPackage, parse_flow
from kiosk.flows.screens import Response, Screen, ScreenKind
from kiosk.session import Session

LONG = "东莞市社会保险基金管理中心莞城分中心自助服务区第三号终端机"
RECEIPT: dict[str, Any] = {"kind": "receipt", "lines": [
    {"type": "text", "text": "办理凭条", "align": "center", "big": True},
    {"type": "kv", "label": "办理地点", "value": "{place}"},
    {"type": "qr", "value": "https://www.gdzwfw.gov.cn/v/{code}", "size": "{qr_size}"}]}
FLOW = {"id": "r", "title": "t", "steps": [
    {"id": "receipt", "type": "print_receipt", "template": "slip"}]}


def run(uri: str, qr_size: int = 6) -> tuple[FlowResult, Any, list[dict], list[Screen]]:
    template = {**RECEIPT, "lines": [*RECEIPT["lines"][:2],
                                     {**RECEIPT["lines"][2], "size": qr_size}]}
    pkg = FlowPackage(Path("."), "test", "1", "0", {"r": parse_flow(FLOW, "flows/r.toml")},
                      {"slip": template})
    session = Session()
    session.data.update({"place": LONG, "code": "AB12CD34"})
    ui = ScriptedInteraction(session.cancel, lambda s: Response(
        "skip" if s.kind is ScreenKind.ERROR else "next"))
    records: list[dict] = []
    printer = create_device("receipt", uri)
    printer.open()
    ctx = FlowContext(pkg.flows["r"], pkg, session, ui, {"receipt": printer}, None,
                      {"id": "DG-T-1"}, recorder=lambda s, p: records.append(p))
    result = FlowEngine().run(ctx)
    printer.close()
    return result, printer, records, ui.screens


def test_a_58mm_printer_gets_a_32_column_receipt_in_its_own_encoding() -> None:
    result, printer, records, _ = run("sim://?profile=58mm-basic")
    assert result.outcome == "completed", result
    job = decode(printer.jobs[0])
    assert max(text_width(line) for line in job.lines) <= 32
    assert "".join(job.lines).count("东莞市") == 1 and len(job.lines) >= 3  # wrapped, whole
    # 58mm-basic has no QR engine: the printer sends the code as a raster image
    assert job.qr_codes == [] and len(job.images) == 1
    assert records[0]["outcome"] == "printed"


def test_an_80mm_printer_draws_the_qr_itself() -> None:
    result, printer, _, _ = run("sim://?profile=80mm")
    job = decode(printer.jobs[0])
    assert result.outcome == "completed"
    assert job.qr_codes == ["https://www.gdzwfw.gov.cn/v/AB12CD34"] and job.images == []
    assert max(text_width(line) for line in job.lines) > 32  # the long value uses 48 columns


def test_a_receipt_the_printer_cannot_encode_is_not_offered_again() -> None:
    result, printer, records, screens = run("sim://", qr_size=40)  # QR modules 1..16 only
    assert result.outcome == "completed" and printer.jobs == []
    error = next(s for s in screens if s.kind is ScreenKind.ERROR)
    assert error.text == "凭条内容无法打印"
    assert [a.id for a in error.actions] == ["skip", "home"]  # no "print again"
    assert [(r["outcome"], r["error_key"]) for r in records] == [
        ("failed", "device.receipt.bad_document")]
