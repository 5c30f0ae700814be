"""Decode an ESC/POS byte stream the way a printer would, into events and text.

Used by the port-9100 listener, the serial printer emulator and the demo to show
what a receipt actually says. Unknown commands are kept as `unknown` events rather
than guessed at, so a test notices when the encoder sends something new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ESC, FS, GS, DLE, LF = 0x1B, 0x1C, 0x1D, 0x10, 0x0A


@dataclass
class Style:
    align: str = "left"
    bold: bool = False
    double_width: bool = False
    double_height: bool = False
    underline: int = 0


@dataclass
class Event:
    kind: str  # text | qr | cut | status_query | image | unknown | init | chinese
    value: Any = None
    style: Style | None = None


@dataclass
class Decoded:
    events: list[Event] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return [e.value for e in self.events if e.kind == "text"]

    @property
    def qr_codes(self) -> list[str]:
        return [e.value for e in self.events if e.kind == "qr"]

    @property
    def cuts(self) -> int:
        return sum(1 for e in self.events if e.kind == "cut")

    def render_text(self, columns: int = 48) -> str:
        """A readable plain-text picture of the receipt."""
        import unicodedata

        def width(s: str) -> int:
            return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)

        out: list[str] = []
        for e in self.events:
            if e.kind == "text":
                st = e.style or Style()
                text = e.value
                mult = 2 if st.double_width else 1
                w = width(text) * mult
                pad = 0
                if st.align == "center":
                    pad = max(0, (columns - w) // 2)
                elif st.align == "right":
                    pad = max(0, columns - w)
                shown = " ".join(text) if st.double_width else text
                out.append(" " * pad + shown)
            elif e.kind == "qr":
                out.append(f"[QR: {e.value}]".center(columns))
            elif e.kind == "image":
                out.append(f"[image {e.value}]".center(columns))
            elif e.kind == "cut":
                out.append("✂" + "-" * (columns - 1))
        return "\n".join(out) + "\n"


def decode(data: bytes, encoding: str = "gb18030") -> Decoded:
    """Decode ESC/POS bytes. Never raises on malformed input: truncation ends decoding."""
    d = Decoded()
    style = Style()
    chinese = False
    buf = bytearray()
    i, n = 0, len(data)

    def flush_text() -> None:
        if buf:
            text = bytes(buf).decode(encoding if chinese else "cp437", errors="replace")
            d.events.append(Event("text", text, Style(**style.__dict__)))
            buf.clear()

    def need(k: int) -> bool:
        return i + k <= n

    while i < n:
        b = data[i]
        if b == LF:
            flush_text() if buf else d.events.append(Event("text", "", Style(**style.__dict__)))
            i += 1
        elif b == ESC and need(2):
            c = data[i + 1]
            if c == 0x40:
                flush_text(); style = Style(); chinese = False
                d.events.append(Event("init")); i += 2
            elif c in (0x61, 0x45, 0x21, 0x2D, 0x4D, 0x74, 0x7B, 0x47, 0x64, 0x4A, 0x33, 0x20,
                       0x56, 0x72) and need(3):
                arg = data[i + 2]
                if c == 0x61:
                    style.align = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center",
                                   50: "right"}.get(arg, "left")
                elif c == 0x45:
                    style.bold = bool(arg & 1)
                elif c == 0x21:
                    style.bold = bool(arg & 0x08)
                    style.double_height = bool(arg & 0x10)
                    style.double_width = bool(arg & 0x20)
                elif c == 0x2D:
                    style.underline = arg % 48 if arg >= 48 else arg
                elif c == 0x64:
                    flush_text()
                    d.events.extend(Event("text", "", Style(**style.__dict__)) for _ in range(arg))
                i += 3
            elif c == 0x32:
                i += 2
            else:
                flush_text(); d.events.append(Event("unknown", data[i:i + 2].hex())); i += 2
        elif b == FS and need(2):
            c = data[i + 1]
            flush_text()
            if c == 0x26:
                chinese = True; d.events.append(Event("chinese", True)); i += 2
            elif c == 0x2E:
                chinese = False; d.events.append(Event("chinese", False)); i += 2
            elif c == 0x21 and need(3):
                arg = data[i + 2]
                style.double_width = bool(arg & 0x04)
                style.double_height = bool(arg & 0x08)
                i += 3
            else:
                d.events.append(Event("unknown", data[i:i + 2].hex())); i += 2
        elif b == GS and need(2):
            c = data[i + 1]
            flush_text()
            if c == 0x21 and need(3):
                arg = data[i + 2]
                style.double_width = (arg >> 4) > 0
                style.double_height = (arg & 0x0F) > 0
                i += 3
            elif c == 0x56 and need(3):
                m = data[i + 2]
                d.events.append(Event("cut", "partial" if m in (1, 49, 66) else "full"))
                i += 4 if m in (65, 66) and need(4) else 3
            elif c == 0x28 and need(5) and data[i + 2] == 0x6B:
                plen = data[i + 3] | (data[i + 4] << 8)
                body = data[i + 5:i + 5 + plen]
                if len(body) < plen:
                    break
                if len(body) >= 3 and body[0] == 0x31 and body[1] == 0x50:
                    d.events.append(Event("qr", body[3:].decode("utf-8", errors="replace")))
                i += 5 + plen
            elif c == 0x76 and need(8) and data[i + 2] == 0x30:
                xl, xh, yl, yh = data[i + 4:i + 8]
                w, h = (xl | xh << 8), (yl | yh << 8)
                d.events.append(Event("image", f"{w * 8}x{h}"))
                i += 8 + w * h
            elif c in (0x42, 0x48, 0x66, 0x68, 0x77, 0x4C, 0x57, 0x61) and need(3):
                i += 3 if c not in (0x4C, 0x57) else 4
            else:
                d.events.append(Event("unknown", data[i:i + 2].hex())); i += 2
        elif b == DLE and need(3) and data[i + 1] == 0x04:
            flush_text(); d.events.append(Event("status_query", data[i + 2])); i += 3
        elif b in (ESC, FS, GS, DLE):
            break  # truncated command at the end of the stream
        else:
            if b >= 0x20 or b == 0x09:
                buf.append(b)
            i += 1
    flush_text()
    return d
