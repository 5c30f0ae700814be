"""The on-screen preview PNG (written by OpenCV, fast settings) is pdfium's picture of the
page, colours in the right order: the red seal stays red."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
from PIL import Image

from flowpacks import BUILTIN_DIR
from kiosk.documents.a4 import render_a4
from kiosk.documents.preview import pdf_page_count, pdf_page_png

SEAL_DOC = {"kind": "a4", "title": "t", "blocks": [
    {"type": "title", "text": "预览"},
    {"type": "issuer", "office": "东莞市社会保险基金管理中心", "date": "2026年11月22日",
     "seal": "assets/seal_dg_social_insurance.png", "qr": "https://x.test/v/1"}]}


def test_preview_png_is_the_pages_pixels_in_rgb() -> None:
    pdf = render_a4(SEAL_DOC, {}, lambda rel: Path(BUILTIN_DIR) / rel, masked=True).pdf
    png = pdf_page_png(pdf, 0, width_px=700)
    assert png.startswith(b"\x89PNG")
    shown = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    doc = pdfium.PdfDocument(pdf)
    try:
        page = doc[0]
        expected = np.asarray(page.render(scale=700 / page.get_width()).to_pil().convert("RGB"))
    finally:
        doc.close()
    assert shown.shape == expected.shape and abs(shown.shape[1] - 700) <= 1
    assert np.array_equal(shown, expected)
    r, g, b = (shown[..., i].astype(int) for i in range(3))
    red = (r > 150) & (g < 110) & (b < 110)  # the seal's ink
    blue = (b > 150) & (r < 110) & (g < 110)
    assert red.sum() > 1000 and blue.sum() < red.sum() // 20
    assert pdf_page_count(pdf) == 1
