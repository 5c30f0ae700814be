"""Rasterise a PDF page to PNG bytes for the on-screen preview (pypdfium2, OpenCV).

The preview is built while the citizen waits, so the PNG is written for speed: no
per-row filter search and zlib level 1 (about 5x faster than Pillow's defaults for a
1000 px certificate page, and no larger). pdfium's BGR pixels go to OpenCV as they are.
"""

from __future__ import annotations

import threading

# pdfium is not thread-safe: the flow thread and the screen's page renderer share it.
PDFIUM_LOCK = threading.Lock()


def pdf_page_png(pdf: bytes, page: int = 0, width_px: int = 900) -> bytes:
    with PDFIUM_LOCK:
        return _page_png(pdf, page, width_px)


def _page_png(pdf: bytes, page: int, width_px: int) -> bytes:
    import cv2
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        p = doc[page]
        scale = width_px / p.get_width()
        bitmap = p.render(scale=scale)
        pixels = bitmap.to_numpy()
        if pixels.ndim == 3 and pixels.shape[2] == 4:  # BGRx/BGRA: the page is opaque
            pixels = pixels[:, :, :3]
        if bitmap.mode not in ("BGR", "BGRA", "BGRX", "L"):
            raise ValueError(f"unexpected pdfium bitmap mode {bitmap.mode}")
        ok, png = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, 1,
                                                cv2.IMWRITE_PNG_FILTER,
                                                cv2.IMWRITE_PNG_FILTER_NONE])
        if not ok:
            raise ValueError("PNG encoding failed")
        return png.tobytes()
    finally:
        doc.close()


def pdf_page_pixels(pdf: bytes, page: int, width_px: int) -> tuple[bytes, int, int, int]:
    """The page as 32-bit pixels (pdfium's BGRx: Qt's RGB32 on little-endian machines),
    with width, height and bytes per line — for a screen to show without a PNG detour."""
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        doc = pdfium.PdfDocument(pdf)
        try:
            p = doc[page]
            bitmap = p.render(scale=width_px / p.get_width(), force_bitmap_format=None,
                              rev_byteorder=False, prefer_bgrx=True)
            if bitmap.mode not in ("BGRX", "BGRA"):
                raise ValueError(f"unexpected pdfium bitmap mode {bitmap.mode}")
            return (bytes(bitmap.buffer), bitmap.width, bitmap.height, bitmap.stride)
        finally:
            doc.close()


def pdf_page_count(pdf: bytes) -> int:
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        doc = pdfium.PdfDocument(pdf)
        try:
            return len(doc)
        finally:
            doc.close()
