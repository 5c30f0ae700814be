"""ESC/POS encoding of a `Receipt`: pure functions from data to exact bytes.

Chinese text is sent as GB18030 after putting the printer into Chinese
(double-byte, "Kanji") mode with `FS &` explicitly. python-escpos 3.1's `text()`
switches to GB18030 only when a string contains U+4E00..U+9FA5, so full-width
punctuation (，。：￥) alone or characters outside that block (㐀, 䶮, 𠀀) come out as
'?'; every command byte is therefore produced here, from the ESC/POS reference.
"""

from __future__ import annotations

import io
import unicodedata

from kiosk.devices.receipt.model import (
    Align,
    Cut,
    Feed,
    PaperProfile,
    QrCode,
    Receipt,
    Rule,
    SizeCommand,
    TextLine,
)

ESC, FS, GS, DLE = b"\x1b", b"\x1c", b"\x1d", b"\x10"
LF = b"\n"
ESC_INIT = ESC + b"@"
FS_CHINESE_ON = FS + b"&"
FS_CHINESE_OFF = FS + b"."
DLE_EOT_PRINTER = DLE + b"\x04\x01"
DLE_EOT_OFFLINE = DLE + b"\x04\x02"
DLE_EOT_ERROR = DLE + b"\x04\x03"
DLE_EOT_PAPER = DLE + b"\x04\x04"
# Processed in order after everything before it: its answer means "job printed".
GS_R_PAPER = GS + b"r\x01"
# DLE DC4 fn=8: real-time "clear receive and print buffers"; answers 37 25 00.
DLE_DC4_CLEAR = DLE + b"\x14\x08\x01\x03\x14\x01\x06\x02\x08"
CLEAR_RESPONSE = b"\x37\x25\x00"

_ALIGN = {Align.LEFT: 0, Align.CENTER: 1, Align.RIGHT: 2}
# A line must not start with these (closing punctuation, simple kinsoku rule).
_NO_LINE_START = set("，。、：；！？）》」』】〕…％,.;:!?)]%")
QR_EC = {"L": 48, "M": 49, "Q": 50, "H": 51}


class EncodeError(ValueError):
    """A receipt cannot be encoded for this printer (bad QR size, data too long)."""


def char_width(ch: str) -> int:
    """Printer columns one character takes: CJK/full-width take two."""
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    return sum(char_width(ch) for ch in text)


def wrap_text(text: str, columns: int) -> list[str]:
    """Break text into lines of at most `columns` columns, CJK-aware.

    Latin words stay whole when they fit a line; closing punctuation never starts
    a line: the character before it moves down with it instead.
    """
    if columns < 2:
        raise EncodeError(f"cannot wrap to {columns} columns")
    lines: list[str] = []
    for para in text.split("\n"):
        cur: list[str] = []
        width = 0
        for tok in _tokens(para):
            w = display_width(tok)
            if width + w <= columns:
                cur.append(tok)
                width += w
                continue
            carry: list[str] = []
            # Carry the previous character down only if it fits with the punctuation
            # (an over-long word is hard-broken below and must not be reordered).
            if (tok[0] in _NO_LINE_START and len(cur) > 1
                    and display_width(cur[-1]) + w <= columns):
                carry = [cur.pop()]
            if "".join(cur).strip():
                lines.append("".join(cur).rstrip())
            if not tok.strip() and not carry:
                cur, width = [], 0
                continue
            while display_width(tok) > columns:  # a single over-long word: hard break
                head, tok = _split_at_width(tok, columns)
                lines.append(head)
            cur = [*carry, tok]
            width = display_width("".join(cur))
        lines.append("".join(cur).rstrip())
    return lines


def _tokens(text: str) -> list[str]:
    """Split into breakable units: runs of Latin letters/digits, or single characters."""
    out: list[str] = []
    word = ""
    for ch in text:
        if char_width(ch) == 1 and (ch.isalnum() or ch in "-_./:@#%+=&?~") and ch.isascii():
            word += ch
            continue
        if word:
            out.append(word)
            word = ""
        out.append(ch)
    if word:
        out.append(word)
    return out


def _split_at_width(text: str, columns: int) -> tuple[str, str]:
    width = 0
    for i, ch in enumerate(text):
        width += char_width(ch)
        if width > columns:
            return text[:i], text[i:]
    return text, ""


_CONTROL = dict.fromkeys((*range(0x20), 0x7F))


def encode_text(text: str) -> bytes:
    """GB18030 bytes for a printer in Chinese mode (4-byte forms for rare characters).

    Control characters are dropped so that data can never inject printer commands
    (an ESC in a name would otherwise switch styles or cut). GB18030 covers all of
    Unicode, so only unpaired surrogates can fail; they become '?'.
    """
    return text.translate(_CONTROL).encode("gb18030", errors="replace")


def cmd_align(align: Align) -> bytes:
    return ESC + b"a" + bytes([_ALIGN[align]])


def cmd_bold(on: bool) -> bytes:
    return ESC + b"E" + (b"\x01" if on else b"\x00")


def cmd_size(double_width: bool, double_height: bool, how: SizeCommand) -> bytes:
    """Character size for ASCII and Chinese characters alike."""
    gs_n = (0x10 if double_width else 0) | (0x01 if double_height else 0)
    fs_n = (0x04 if double_width else 0) | (0x08 if double_height else 0)
    esc_n = (0x20 if double_width else 0) | (0x10 if double_height else 0)
    if how is SizeCommand.GS:
        return GS + b"!" + bytes([gs_n])
    if how is SizeCommand.FS:
        return ESC + b"!" + bytes([esc_n]) + FS + b"!" + bytes([fs_n])
    return GS + b"!" + bytes([gs_n]) + FS + b"!" + bytes([fs_n])


def cmd_feed(lines: int) -> bytes:
    if not 0 <= lines <= 255:
        raise EncodeError(f"feed of {lines} lines")
    return ESC + b"d" + bytes([lines])


def cmd_cut(partial: bool, feed_lines: int) -> bytes:
    """Feed to the cutter plus `feed_lines` and cut (GS V 65/66 n)."""
    return GS + b"V" + (b"B" if partial else b"A") + bytes([max(0, min(255, feed_lines))])


def _gs_k(fn: int, payload: bytes) -> bytes:
    n = len(payload) + 2
    return GS + b"(k" + bytes([n & 0xFF, n >> 8, 0x31, fn]) + payload


def cmd_qr_native(data: str, size: int, ec: str = "M") -> bytes:
    """GS ( k: model 2, module size, error correction, store (UTF-8), print."""
    if not 1 <= size <= 16:
        raise EncodeError(f"QR module size {size} outside 1..16")
    payload = data.encode("utf-8")
    if not payload or len(payload) > 7089:
        raise EncodeError(f"QR data of {len(payload)} bytes")
    return (_gs_k(0x41, b"\x32\x00")  # fn 165: model 2
            + _gs_k(0x43, bytes([size]))  # fn 167: module size
            + _gs_k(0x45, bytes([QR_EC[ec]]))  # fn 169: error correction
            + _gs_k(0x50, b"\x30" + payload)  # fn 180: store
            + _gs_k(0x51, b"\x30"))  # fn 181: print


def cmd_raster(width: int, height: int, packed: bytes) -> bytes:
    """GS v 0: a 1-bit raster image, rows of ceil(width/8) bytes, MSB first."""
    wb = (width + 7) // 8
    if len(packed) != wb * height or height > 0xFFFF or wb > 0xFFFF:
        raise EncodeError("raster image size mismatch")
    return GS + b"v0\x00" + bytes([wb & 0xFF, wb >> 8, height & 0xFF, height >> 8]) + packed


def qr_raster(data: str, size: int, max_dots: int, ec: str = "M") -> tuple[int, int, bytes]:
    """Render a QR code to packed 1-bit rows (black = 1), `size` dots per module."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_Q

    levels = {"L": ERROR_CORRECT_L, "M": ERROR_CORRECT_M, "Q": ERROR_CORRECT_Q,
              "H": ERROR_CORRECT_H}
    qr = qrcode.QRCode(error_correction=levels[ec], box_size=1, border=2)
    qr.add_data(data.encode("utf-8"))
    qr.make(fit=True)
    matrix = qr.get_matrix()
    modules = len(matrix)
    scale = max(1, min(size, max_dots // modules))
    width = modules * scale
    wb = (width + 7) // 8
    out = io.BytesIO()
    for row in matrix:
        bits = bytearray(wb)
        for x, dark in enumerate(row):
            if dark:
                for k in range(x * scale, x * scale + scale):
                    bits[k >> 3] |= 0x80 >> (k & 7)
        out.write(bytes(bits) * scale)
    return width, width, out.getvalue()


def encode_line(item: TextLine, prof: PaperProfile) -> bytes:
    """Style commands then the wrapped text lines of one `TextLine`."""
    mult = 2 if item.double_width else 1
    out = cmd_align(item.align) + cmd_bold(item.bold) + cmd_size(
        item.double_width, item.double_height, prof.size_command)
    for line in wrap_text(item.text, prof.columns // mult):
        out += encode_text(line) + LF
    return out


def encode_receipt(receipt: Receipt, profile: PaperProfile | None = None) -> bytes:
    """The whole job: init, Chinese mode, items, and a cut at the end if asked."""
    prof = profile or PaperProfile()
    normal = cmd_align(Align.LEFT) + cmd_bold(False) + cmd_size(False, False, prof.size_command)
    out = bytearray(ESC_INIT + FS_CHINESE_ON)
    for item in receipt.items:
        if isinstance(item, TextLine):
            out += encode_line(item, prof)
        elif isinstance(item, Rule):
            ch = item.char or "-"
            out += normal + encode_text(ch * (prof.columns // display_width(ch))) + LF
        elif isinstance(item, Feed):
            out += cmd_feed(item.lines)
        elif isinstance(item, QrCode):
            out += cmd_align(Align.CENTER)
            if prof.native_qr:
                out += cmd_qr_native(item.data, item.size) + LF
            else:
                w, h, packed = qr_raster(item.data, item.size, prof.dots)
                out += cmd_raster(w, h, packed)
            out += cmd_align(Align.LEFT)
        elif isinstance(item, Cut):
            out += cmd_cut(item.partial, prof.cut_feed_lines)
    return bytes(out)
