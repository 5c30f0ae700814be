"""Find and register an embeddable CJK TrueType font for reportlab (once per process)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

CJK_FONT_NAME = "KioskCJK"

# TrueType outlines only: reportlab cannot embed CFF-based OpenType (Noto CJK .otf).
CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)

_lock = threading.Lock()
_registered: str | None = None


class FontMissing(RuntimeError):
    pass


def find_cjk_font() -> Path:
    override = os.environ.get("KIOSK_CJK_FONT")
    for candidate in ([override] if override else []) + list(CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FontMissing(
        "no CJK TrueType font found; install fonts-wqy-zenhei or set KIOSK_CJK_FONT"
    )


def register_cjk_font() -> str:
    """Register the CJK font with reportlab and return its name."""
    global _registered
    with _lock:
        if _registered:
            return _registered
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        path = find_cjk_font()
        kwargs = {"subfontIndex": 0} if path.suffix.lower() == ".ttc" else {}
        pdfmetrics.registerFont(TTFont(CJK_FONT_NAME, str(path), **kwargs))
        _registered = CJK_FONT_NAME
        return _registered
