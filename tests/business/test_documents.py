"""Every business A4 document: embedded CJK font, seal image, verification QR code, masked
ID number, page N of M — rendered from the reference platform's real answers."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from flowpacks import BUILTIN_DIR
from kiosk.documents.a4 import render_a4
from kiosk.flows.package import load_package
from synthetic.citizens import BY_KEY

from .conftest import flat, ink_ratio, needs_poppler, pdf_pages, render_pages


def _answer(client: Any, template: str) -> tuple[dict[str, Any], str]:
    chen, ouyang = BY_KEY["chen"], BY_KEY["ouyang"]
    if template == "ss_payment_detail_a4":
        return client.post_json("/api/v1/social-security/statement", {
            "id_number": chen.id_number, "kind": "payment_detail",
            "start": "2024-01", "end": "2025-12"}), "chen"
    if template == "tax_list_a4":
        return client.post_json("/api/v1/tax/records", {
            "id_number": chen.id_number, "start": "2023-01", "end": "2025-12"}), "chen"
    if template == "no_property_a4":
        return client.post_json("/api/v1/property/no-property", {
            "id_number": chen.id_number,
            "spouse_id_number": BY_KEY["huang"].id_number}), "chen"
    return client.post_json("/api/v1/provident-fund/repayments", {
        "id_number": ouyang.id_number, "start": "2024-01", "end": "2025-12"}), "ouyang"


@needs_poppler
@pytest.mark.parametrize("template", ["ss_payment_detail_a4", "tax_list_a4", "no_property_a4",
                                      "provident_fund_a4"])
def test_business_document(client, tmp_path: Path, template: str) -> None:  # type: ignore[no-untyped-def]
    pkg = load_package(BUILTIN_DIR)
    record, who = _answer(client, template)
    c = BY_KEY[who]
    data = {"record": record, "identity": {"id_number": c.id_number, "name": c.name},
            "terminal": {"id": "DG-TEST-0001"}, "now": {"date": str(date.today())}}
    doc = render_a4(pkg.templates[template], data, pkg.asset)
    pages = pdf_pages(doc.pdf, tmp_path, template)
    assert len(pages) == doc.pages
    text = flat("".join(pages))
    assert c.id_number not in text and c.id_number[:4] + "*" * 10 + c.id_number[-4:] in text
    for n, page in enumerate(pages, 1):
        assert f"第{n}页/共{len(pages)}页" in flat(page) and record["verify_code"] in flat(page)
    path = tmp_path / f"{template}.pdf"
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    cjk = [f for f in fonts if "WenQuanYi" in f or "Droid" in f or "Noto" in f]
    assert cjk and all(line.split()[-5] == "yes" for line in cjk), fonts
    reader = PdfReader(str(path))
    last = reader.pages[-1]
    assert list(last.images), "the seal image is missing"  # the issuer block ends the doc
    contents = last.get_contents()
    assert contents is not None and contents.get_data().count(b" re") > 200  # QR (vector)
    assert all(ink_ratio(p) > 0.01 for p in render_pages(doc.pdf, tmp_path, template))
    masked = render_a4(pkg.templates[template], data, pkg.asset, masked=True)
    screen = flat("".join(pdf_pages(masked.pdf, tmp_path, template + "-masked")))
    assert c.name not in screen  # the on-screen preview hides the name too
