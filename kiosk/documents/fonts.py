"""Find and register an embeddable CJK TrueType font for reportlab (once per process).

Every document embeds a subset of the font, and reportlab's subsetter starts by copying
the whole `glyf` table (about 15 MiB of wqy-zenhei) to cut a few hundred glyphs out of
it: ~3 ms a document, twice that once the kiosk serves large blocks by mmap (fresh pages
for each copy; see `kiosk.runtime.fixed_mmap_threshold`). The registered face hands out
that table as a read-only view instead; slices of it are bytes, as before.
"""

from __future__ import annotations

import os
import threading
import types
from pathlib import Path
from typing import Any

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


class TableView:
    """A font table inside the font file's bytes, not copied; slicing gives bytes."""

    def __init__(self, data: bytes, pos: int, length: int) -> None:
        self._view = memoryview(data)[pos:pos + length]

    def __len__(self) -> int:
        return len(self._view)

    def __getitem__(self, index: slice) -> bytes:
        if not isinstance(index, slice):
            raise TypeError("a font table view is read by slices")
        return self._view[index].tobytes()


def _glyf_as_view(face: Any) -> None:
    """Make `face.get_table("glyf")` return a TableView (the other tables are small)."""
    copy_table = face.get_table

    def get_table(self: Any, tag: str) -> Any:
        if tag == "glyf" and isinstance(self._ttf_data, bytes):
            pos, length = self.get_table_pos(tag)
            return TableView(self._ttf_data, pos, length)
        return copy_table(tag)

    face.get_table = types.MethodType(get_table, face)


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
        font = TTFont(CJK_FONT_NAME, str(path), subfontIndex=0)  # a .ttc's first face
        _glyf_as_view(font.face)
        pdfmetrics.registerFont(font)
        _registered = CJK_FONT_NAME
        return _registered
