"""The printed certificate: embedded CJK font, masked ID number, QR, seal; checked in the PDF."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from flowpacks import BUILTIN_DIR
from kiosk.documents.a4 import render_a4
from kiosk.flows.package import load_package
from reference_backend.data import contribution_record
from synthetic.citizens import BY_KEY

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils missing")


@pytest.fixture(scope="module")
def pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pkg = load_package(BUILTIN_DIR)
    c = BY_KEY["chen"]
    record = contribution_record(c, 12, date(2026, 11, 22)) | {
        "verify_code": "AB12-CD34-EF56", "verify_url": "http://127.0.0.1:8700/verify/AB12-CD34-EF56"}
    data = {"record": record, "identity": {"id_number": c.id_number, "name": c.name},
            "terminal": {"id": "DG-TEST-0001"}, "now": {"date": "2026-11-22"}}
    out = tmp_path_factory.mktemp("pdf") / "cert.pdf"
    doc = render_a4(pkg.templates["ss_certificate_a4"], data, pkg.asset)
    out.write_bytes(doc.pdf)
    assert doc.pages == 1
    return out


def text_of(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout


def test_text_has_title_name_and_masked_id_only(pdf: Path) -> None:
    text = text_of(pdf)
    c = BY_KEY["chen"]
    assert "社会保险参保缴费证明" in text
    assert c.name in text  # the printed certificate names its holder
    assert "4419**********3627" in text
    assert c.id_number not in text.replace(" ", "")
    assert "第1页/共1页" in text.replace(" ", "")
    assert "AB12-CD34-EF56" in text
    assert "东莞市社会保险基金管理中心" in text and "2026年11月22日" in text


def test_cjk_font_is_embedded(pdf: Path) -> None:
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    cjk = [f for f in fonts if "WenQuanYi" in f or "Droid" in f or "Ming" in f]
    assert cjk, fonts
    for line in cjk:
        cols = line.split()
        assert cols[-5] == "yes"  # emb


def test_seal_and_qr_are_drawn(pdf: Path) -> None:
    page = PdfReader(str(pdf)).pages[0]
    images = list(page.images)
    assert images, "the seal image is missing"
    contents = page.get_contents()
    assert contents is not None
    content = contents.get_data()
    # the QR code is vector: many filled rectangles
    assert content.count(b" re") > 200
