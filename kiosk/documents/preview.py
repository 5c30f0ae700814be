"""Rasterise a PDF page to PNG bytes for the on-screen preview (pypdfium2)."""

from __future__ import annotations

import io


def pdf_page_png(pdf: bytes, page: int = 0, width_px: int = 900) -> bytes:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        p = doc[page]
        scale = width_px / p.get_width()
        image = p.render(scale=scale).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()
    finally:
        doc.close()


def pdf_page_count(pdf: bytes) -> int:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        return len(doc)
    finally:
        doc.close()
