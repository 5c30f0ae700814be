"""Document benchmarks: A4 PDF render (1-page certificate, 10-page tax list), receipt encode.

`pdf_render_1page_s_baseline`: a bare reportlab page with the same embedded CJK font and
one line of text, measured in the same run, so `pdf_render_1page_s` can be read as a
ratio that survives a noisy machine.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import date
from typing import Any

TAX_LIST: dict[str, Any] = {
    "kind": "a4",
    "title": "个人所得税纳税记录",
    "page": {"header": "莞家政务自助服务终端打印", "footer": "第 {page} 页 / 共 {pages} 页",
             "watermark": "国家税务总局东莞市税务局"},
    "blocks": [
        {"type": "title", "text": "中华人民共和国个人所得税纳税记录"},
        {"type": "fields", "columns": 2, "fields": [
            {"label": "纳税人姓名", "value": "{name}"},
            {"label": "身份证件号码", "value": "{id}"}]},
        {"type": "table", "rows": "rows", "columns": [
            {"title": "序号", "value": "{n}", "width": 0.5, "align": "center"},
            {"title": "所得项目", "value": "{item}", "width": 1.6},
            {"title": "所得期间起", "value": "{start}", "width": 1, "align": "center"},
            {"title": "所得期间止", "value": "{end}", "width": 1, "align": "center"},
            {"title": "扣缴义务人", "value": "{payer}", "width": 2.2},
            {"title": "实缴（退）金额", "value": "{tax|money}", "width": 1.1, "align": "right"}]},
    ],
}


def tax_rows(n: int) -> list[dict[str, Any]]:
    return [{"n": i + 1, "item": "工资薪金所得", "start": f"2025-{i % 12 + 1:02d}-01",
             "end": f"2025-{i % 12 + 1:02d}-28", "payer": "东莞市某某电子科技有限公司",
             "tax": 123.45 + i} for i in range(n)]


def _median(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm (font registration, imports)
    samples = []
    for _ in range(max(repeat, 5)):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return round(statistics.median(samples), 4)


def bare_page() -> bytes:
    """The baseline: one A4 page, the embedded CJK font, one line of text."""
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    from kiosk.documents.fonts import register_cjk_font

    font = register_cjk_font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setFont(font, 12)
    c.drawString(20 * mm, 270 * mm, "社会保险参保缴费证明  第 1 页 / 共 1 页")
    c.showPage()
    c.save()
    return buf.getvalue()


def measure(repeat: int) -> dict[str, float]:
    import tomllib
    from pathlib import Path

    from flowpacks import BUILTIN_DIR
    from kiosk.devices.receipt.escpos_protocol import encode_receipt
    from kiosk.documents.a4 import render_a4
    from kiosk.documents.receipt import render_receipt
    from reference_backend.data import contribution_record
    from synthetic.citizens import BY_KEY

    root = Path(BUILTIN_DIR)

    def template(name: str) -> dict[str, Any]:
        return tomllib.loads((root / "templates" / f"{name}.toml").read_text("utf-8"))

    def asset(rel: str) -> Path:
        return root / rel

    c = BY_KEY["chen"]
    record = contribution_record(c, 12, date(2026, 11, 22)) | {
        "verify_code": "AAAA-BBBB-CCCC", "verify_url": "http://127.0.0.1/verify/AAAA-BBBB-CCCC",
        "title": "社会保险参保缴费证明"}
    data = {"record": record, "identity": {"id_number": c.id_number, "name": c.name},
            "terminal": {"id": "BENCH"}, "now": {"date": "2026-11-22",
                                                 "datetime": "2026-11-22 10:00"}}
    cert = template("ss_certificate_a4")
    tax_data = {"name": c.name, "id": "4419**********0000", "rows": tax_rows(1)}
    rows_per_page = len(tax_rows(1))
    # Grow the table until it fills ten pages.
    n = 200
    while render_a4(TAX_LIST, {**tax_data, "rows": tax_rows(n)}, asset).pages < 10:
        n += 40
    while n > rows_per_page and render_a4(TAX_LIST, {**tax_data, "rows": tax_rows(n - 10)},
                                          asset).pages >= 10:
        n -= 10
    tax_data["rows"] = tax_rows(n)
    assert render_a4(TAX_LIST, tax_data, asset).pages == 10
    receipt = render_receipt(template("ss_certificate_receipt"), data)
    return {
        "pdf_render_1page_s": _median(lambda: render_a4(cert, data, asset), repeat),
        "pdf_render_1page_s_baseline": _median(bare_page, repeat),
        "pdf_render_10page_s": _median(lambda: render_a4(TAX_LIST, tax_data, asset), repeat),
        "receipt_encode_s": _median(lambda: encode_receipt(receipt), repeat * 20),
    }
