"""ESC/POS encoding of a `Receipt` (pure: Receipt -> bytes).

Chinese text is sent as GB18030 after putting the printer into Chinese
(double-byte) mode with `FS &` explicitly. python-escpos 3.1's `text()` only
switches to GB18030 when a string contains U+4E00..U+9FA5 and mangles full-width
punctuation otherwise, so text bytes are produced here; python-escpos supplies
the other command bytes (styles, QR codes, cut).
"""

from __future__ import annotations

import unicodedata

from escpos.printer import Dummy

from kiosk.devices.receipt.model import (
    Cut,
    Feed,
    PaperProfile,
    QrCode,
    Receipt,
    Rule,
    TextLine,
)

ESC_INIT = b"\x1b\x40"
FS_CHINESE_ON = b"\x1c\x26"
FS_CHINESE_OFF = b"\x1c\x2e"
DLE_EOT_PRINTER = b"\x10\x04\x01"
DLE_EOT_OFFLINE = b"\x10\x04\x02"
DLE_EOT_ERROR = b"\x10\x04\x03"
DLE_EOT_PAPER = b"\x10\x04\x04"


def display_width(text: str) -> int:
    """Printer columns a string takes: CJK/full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def encode_text(text: str) -> bytes:
    """Encode text for a printer in Chinese mode; unencodable characters become '?'."""
    return text.encode("gb18030", errors="replace")


def encode_receipt(receipt: Receipt, profile: PaperProfile | None = None) -> bytes:
    prof = profile or PaperProfile()
    p = Dummy()
    p._raw(ESC_INIT + FS_CHINESE_ON)
    for item in receipt.items:
        if isinstance(item, TextLine):
            p.set(align=item.align.value, bold=item.bold, double_width=item.double_width,
                  double_height=item.double_height, normal_textsize=not (
                      item.double_width or item.double_height))
            p._raw(encode_text(item.text) + b"\n")
        elif isinstance(item, Rule):
            p.set(align="left", bold=False, normal_textsize=True)
            p._raw(encode_text(item.char * prof.columns) + b"\n")
        elif isinstance(item, Feed):
            p._raw(b"\n" * item.lines)
        elif isinstance(item, QrCode):
            p.set(align="center")
            if prof.native_qr:
                p.qr(item.data, size=item.size, native=True)
            else:
                p.qr(item.data, size=item.size, native=False)
            p.set(align="left")
        elif isinstance(item, Cut):
            p.cut(mode="PART" if item.partial else "FULL")
    return bytes(p.output)
