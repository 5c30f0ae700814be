"""Seal and QR code on A4 documents, after the renderer stopped re-encoding them per page.

The seal's pixels in the PDF are the seal file's (alpha included), the seal of one office
never shows on another office's document, a replaced seal file is picked up, the seal
still covers the office name, and the QR codes scan to their value (decoded with
OpenCV from poppler's rendering at 300 dpi).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import ContentStream

from flowpacks import BUILTIN_DIR
from kiosk.documents.a4 import render_a4
from kiosk.flows.package import load_package
from reference_backend.data import contribution_record
from synthetic.citizens import BY_KEY

pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils missing")

ASSETS = Path(BUILTIN_DIR) / "assets"
SEAL_SI = ASSETS / "seal_dg_social_insurance.png"
SEAL_TAX = ASSETS / "seal_dg_tax.png"


def issuer_doc(office: str, seal: str, qr: str = "") -> dict[str, Any]:
    return {"kind": "a4", "title": "t", "blocks": [
        {"type": "title", "text": "证明"},
        {"type": "issuer", "office": office, "date": "2026年11月22日", "seal": seal,
         "qr": qr, "qr_caption": "扫码核验真伪"}]}


def resolver(root: Path):  # type: ignore[no-untyped-def]
    return lambda rel: root / rel


def seal_images(pdf: bytes, tmp_path: Path) -> list[Image.Image]:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    return [im.image.convert("RGBA") for im in PdfReader(str(path)).pages[0].images
            if im.image is not None]


def same_pixels(a: Image.Image, b: Path) -> bool:
    return np.array_equal(np.asarray(a), np.asarray(Image.open(b).convert("RGBA")))


def decode_qrs(pdf: bytes, tmp_path: Path) -> set[str]:
    path = tmp_path / "qr.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "300", "-png", "-f", "1", "-l", "1", str(path),
                    str(tmp_path / "page")], check=True)
    img = cv2.imread(str(next(tmp_path.glob("page*.png"))))
    assert img is not None
    ok, values, _, _ = cv2.QRCodeDetector().detectAndDecodeMulti(img)
    return {v for v in values if v} if ok else set()


def certificate_data(verify: str) -> dict[str, Any]:
    c = BY_KEY["chen"]
    record = contribution_record(c, 12, date(2026, 11, 22)) | {
        "verify_code": verify, "verify_url": f"http://127.0.0.1:8700/verify/{verify}"}
    return {"record": record, "identity": {"id_number": c.id_number, "name": c.name},
            "terminal": {"id": "DG-TEST-0001"}, "now": {"date": "2026-11-22"}}


def test_each_office_gets_its_own_seal_pixels(tmp_path: Path) -> None:
    root = Path(BUILTIN_DIR)
    for _ in range(2):  # the second round comes from the cache
        si = render_a4(issuer_doc("东莞市社会保险基金管理中心",
                                  "assets/seal_dg_social_insurance.png"), {}, resolver(root))
        tax = render_a4(issuer_doc("国家税务总局东莞市税务局", "assets/seal_dg_tax.png"), {},
                        resolver(root))
        [si_img] = seal_images(si.pdf, tmp_path)
        [tax_img] = seal_images(tax.pdf, tmp_path)
        assert same_pixels(si_img, SEAL_SI) and not same_pixels(si_img, SEAL_TAX)
        assert same_pixels(tax_img, SEAL_TAX) and not same_pixels(tax_img, SEAL_SI)


def test_a_replaced_seal_file_is_drawn_not_the_cached_one(tmp_path: Path) -> None:
    seal = tmp_path / "assets" / "seal.png"
    seal.parent.mkdir()
    shutil.copyfile(SEAL_SI, seal)
    tpl = issuer_doc("某办公室", "assets/seal.png")
    [first] = seal_images(render_a4(tpl, {}, resolver(tmp_path)).pdf, tmp_path)
    assert same_pixels(first, SEAL_SI)
    shutil.copyfile(SEAL_TAX, seal)  # a package update: same path, new picture
    st = seal.stat()
    os.utime(seal, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    [second] = seal_images(render_a4(tpl, {}, resolver(tmp_path)).pdf, tmp_path)
    assert same_pixels(second, SEAL_TAX)


def test_two_seals_in_one_document_stay_two(tmp_path: Path) -> None:
    tpl = issuer_doc("东莞市社会保险基金管理中心", "assets/seal_dg_social_insurance.png")
    tpl["blocks"] += issuer_doc("国家税务总局东莞市税务局", "assets/seal_dg_tax.png")["blocks"][1:]
    images = seal_images(render_a4(tpl, {}, resolver(Path(BUILTIN_DIR))).pdf, tmp_path)
    assert len(images) == 2
    assert {same_pixels(images[0], SEAL_SI), same_pixels(images[1], SEAL_TAX)} == {True}


def image_box(pdf: Path) -> tuple[float, float, float, float]:
    """Where the first image XObject lands on page 1 (x0, y0, x1, y1 in points)."""
    reader = PdfReader(str(pdf))
    page = reader.pages[0]
    ops = ContentStream(page.get_contents(), reader).operations
    ctm = np.eye(3)
    stack = []
    for operands, op in ops:
        if op == b"q":
            stack.append(ctm.copy())
        elif op == b"Q":
            ctm = stack.pop()
        elif op == b"cm":
            a, b, c, d, e, f = (float(v) for v in operands)
            ctm = np.array([[a, b, 0], [c, d, 0], [e, f, 1]]) @ ctm
        elif op == b"Do":
            corners = np.array([[0, 0, 1], [1, 1, 1]]) @ ctm
            return (corners[0][0], corners[0][1], corners[1][0], corners[1][1])
    raise AssertionError("no image drawn")


def word_box(pdf: Path, word: str) -> tuple[float, float, float, float]:
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    height = float(re.search(r'<page width="[\d.]+" height="([\d.]+)"', html)[1])  # type: ignore[index]
    m = re.search(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                  + re.escape(word) + "<", html)
    assert m, f"{word} not on the page"
    x0, y0, x1, y1 = (float(v) for v in m.groups())
    return x0, height - y1, x1, height - y0


def test_the_seal_covers_the_office_name_and_the_qr_scans(tmp_path: Path) -> None:
    pkg = load_package(BUILTIN_DIR)
    doc = render_a4(pkg.templates["ss_certificate_a4"], certificate_data("AB12-CD34-EF56"),
                    pkg.asset)
    path = tmp_path / "cert.pdf"
    path.write_bytes(doc.pdf)
    sx0, sy0, sx1, sy1 = image_box(path)
    wx0, wy0, wx1, wy1 = word_box(path, "东莞市社会保险基金管理中心")
    cx, cy = (wx0 + wx1) / 2, (wy0 + wy1) / 2
    assert sx0 < cx < sx1 and sy0 < cy < sy1  # stamped over the office name
    assert sx1 - sx0 == pytest.approx(38 * 72 / 25.4, abs=0.5)  # 38 mm wide
    [img] = seal_images(doc.pdf, tmp_path)
    assert same_pixels(img, SEAL_SI)
    assert decode_qrs(doc.pdf, tmp_path) == {"http://127.0.0.1:8700/verify/AB12-CD34-EF56"}


def test_a_qr_block_and_an_issuer_qr_on_one_page_scan_to_their_own_values(
        tmp_path: Path) -> None:
    tpl = issuer_doc("国家税务总局东莞市税务局", "assets/seal_dg_tax.png", qr="https://x.test/v/ISSUER")
    tpl["blocks"].insert(1, {"type": "qr", "value": "https://x.test/v/{code}", "caption": "扫码",
                             "size_mm": 30})
    doc = render_a4(tpl, {"code": "BLOCK-42"}, resolver(Path(BUILTIN_DIR)))
    assert decode_qrs(doc.pdf, tmp_path) == {"https://x.test/v/ISSUER", "https://x.test/v/BLOCK-42"}


def test_certificate_text_is_all_there(tmp_path: Path) -> None:
    pkg = load_package(BUILTIN_DIR)
    doc = render_a4(pkg.templates["ss_certificate_a4"], certificate_data("ZZ99-YY88-XX77"),
                    pkg.asset)
    path = tmp_path / "cert.pdf"
    path.write_bytes(doc.pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout.replace(" ", "")
    for expected in ("社会保险参保缴费证明", "扫码核验真伪", "验证码ZZ99-YY88-XX77",
                     "东莞市社会保险基金管理中心", "第1页/共1页", "4419**********3627"):
        assert expected in text


def test_text_that_looks_like_markup_is_printed_as_it_is(tmp_path: Path) -> None:
    """Paragraphs skip reportlab's markup parser now: `&`, `<b>` and line breaks in data
    must still come out as the characters they are, in paragraphs, fields and tables."""
    odd = "A&B <b>粗</b> 1<2 &amp;\n第二行"
    tpl = {"kind": "a4", "blocks": [
        {"type": "paragraph", "text": "{v}"},
        {"type": "fields", "columns": 1, "fields": [{"label": "<i>名</i>", "value": "{v}"}]},
        {"type": "table", "rows": "rows", "columns": [{"title": "&列", "value": "{v}"}]}]}
    doc = render_a4(tpl, {"v": odd, "rows": [{"v": odd}]}, resolver(Path(BUILTIN_DIR)))
    path = tmp_path / "odd.pdf"
    path.write_bytes(doc.pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    flat = " ".join(text.split())
    assert flat.count("A&B <b>粗</b> 1<2 &amp; 第二行") == 3, flat
    assert "<i>名</i>" in flat and "&列" in flat
