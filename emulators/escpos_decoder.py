"""Decode an ESC/POS byte stream the way a printer would, into events and text.

Used by the port-9100 listener, the serial printer emulator and the demo to show
what a receipt actually says. Works incrementally (`Decoder.feed`) because bytes
arrive in pieces over TCP or serial. Unknown commands are kept as `unknown` events
rather than guessed at, so a test notices when the encoder sends something new.
Text is decoded as GB18030 only while the printer is in Chinese (Kanji) mode
(after `FS &`); otherwise as code page 437 — as a real printer would, so a job that
forgets `FS &` shows up garbled here too.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any

ESC, FS, GS, DLE, LF = 0x1B, 0x1C, 0x1D, 0x10, 0x0A
_PREFIX = (ESC, FS, GS, DLE)

# ESC commands with one argument byte, and GS ones.
_ESC_1 = {0x61, 0x45, 0x21, 0x2D, 0x4D, 0x74, 0x7B, 0x47, 0x64, 0x4A, 0x33, 0x20, 0x56,
          0x72, 0x52, 0x55, 0x63}
_GS_1 = {0x21, 0x42, 0x48, 0x66, 0x68, 0x77, 0x61, 0x72, 0x49, 0x62, 0x45}
_GS_2 = {0x4C, 0x57, 0x50}
_FS_1 = {0x21, 0x43, 0x2D, 0x57}


@dataclass(frozen=True)
class Style:
    align: str = "left"
    bold: bool = False
    double_width: bool = False
    double_height: bool = False
    underline: int = 0


@dataclass
class Event:
    # text | feed | qr | image | cut | status_query | gs_r | clear | init | chinese |
    # recover | unknown
    kind: str
    value: Any = None
    style: Style | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Token:
    kind: str
    raw: bytes
    arg: Any = None


def next_token(buf: bytes | bytearray, i: int) -> Token | None:
    """The command or text run starting at `i`, or None if `buf` ends inside it."""
    n = len(buf)
    if i >= n:
        return None
    b = buf[i]

    def take(k: int, kind: str, arg: Any = None) -> Token | None:
        return Token(kind, bytes(buf[i:i + k]), arg) if i + k <= n else None

    if b == LF:
        return take(1, "lf")
    if b not in _PREFIX:
        j = i
        while j < n and buf[j] not in _PREFIX and buf[j] != LF:
            j += 1
        return Token("bytes", bytes(buf[i:j]))
    if i + 1 >= n:
        return None
    c = buf[i + 1]
    if b == ESC:
        if c == 0x40:
            return take(2, "init")
        if c in (0x32, 0x3C):
            return take(2, "esc")
        if c in _ESC_1:
            return take(3, "esc", c)
        return take(2, "unknown")
    if b == FS:
        if c in (0x26, 0x2E):
            return take(2, "fs", c)
        if c in _FS_1:
            return take(3, "fs", c)
        if c == 0x53:
            return take(4, "fs", c)
        return take(2, "unknown")
    if b == GS:
        if c == 0x56:  # GS V m [n]
            if i + 2 >= n:
                return None
            m = buf[i + 2]
            return take(4 if m in (65, 66, 97, 98, 103, 104) else 3, "cut", m)
        if c == 0x28:  # GS ( X pL pH body
            if i + 4 >= n:
                return None
            plen = buf[i + 3] | buf[i + 4] << 8
            return take(5 + plen, "gs_paren", buf[i + 2])
        if c == 0x76:  # GS v 0 m xL xH yL yH data
            if i + 7 >= n:
                return None
            wb = buf[i + 4] | buf[i + 5] << 8
            h = buf[i + 6] | buf[i + 7] << 8
            return take(8 + wb * h, "raster", (wb, h))
        if c in _GS_1:
            return take(3, "gs", c)
        if c in _GS_2:
            return take(4, "gs", c)
        return take(2, "unknown")
    # DLE
    if c == 0x04 or c == 0x05:
        return take(3, "dle_eot" if c == 0x04 else "dle_enq")
    if c == 0x14:
        if i + 2 >= n:
            return None
        fn = buf[i + 2]
        size = {1: 5, 2: 5, 7: 5, 8: 10}.get(fn, 3)
        return take(size, "dle_dc4", fn)
    return take(2, "unknown")


class Decoder:
    """Printer-side interpretation: style state, Chinese mode, lines, QR codes."""

    def __init__(self, encoding: str = "gb18030") -> None:
        self.encoding = encoding
        self.style = Style()
        self.chinese = False
        self.line = bytearray()
        self._line_style = self.style
        self.qr: dict[str, Any] = {"size": 3, "ec": 48, "data": b""}

    def _flush(self, out: list[Event]) -> None:
        text = bytes(self.line).decode(self.encoding if self.chinese else "cp437",
                                       errors="replace")
        out.append(Event("text", text, self._line_style))
        self.line.clear()

    def apply(self, tok: Token) -> list[Event]:
        """Events a token produces (text is emitted at LF or a print command)."""
        out: list[Event] = []
        k, raw = tok.kind, tok.raw
        if k == "bytes":
            if not self.line:
                self._line_style = self.style
            self.line += bytes(x for x in raw if x >= 0x20 or x == 0x09)
        elif k == "lf":
            if not self.line:
                self._line_style = self.style
            self._flush(out)
        elif k == "init":
            self.style, self.chinese = Style(), False
            out.append(Event("init"))
        elif k == "esc":
            c, arg = tok.arg, raw[-1]
            if c == 0x61:
                self.style = replace(self.style, align={0: "left", 1: "center", 2: "right",
                                                        48: "left", 49: "center",
                                                        50: "right"}.get(arg, "left"))
            elif c == 0x45:
                self.style = replace(self.style, bold=bool(arg & 1))
            elif c == 0x21:
                self.style = replace(self.style, bold=bool(arg & 0x08),
                                     double_height=bool(arg & 0x10),
                                     double_width=bool(arg & 0x20))
            elif c == 0x2D:
                self.style = replace(self.style, underline=arg % 48 if arg >= 48 else arg)
            elif c == 0x64:
                if self.line:
                    self._flush(out)
                out.append(Event("feed", arg))
        elif k == "fs":
            c = tok.arg
            if c == 0x26:
                self.chinese = True
                out.append(Event("chinese", True))
            elif c == 0x2E:
                self.chinese = False
                out.append(Event("chinese", False))
            elif c == 0x21:
                arg = raw[-1]
                self.style = replace(self.style, double_width=bool(arg & 0x04),
                                     double_height=bool(arg & 0x08))
        elif k == "gs":
            if tok.arg == 0x21:
                arg = raw[-1]
                self.style = replace(self.style, double_width=(arg >> 4) > 0,
                                     double_height=(arg & 0x0F) > 0)
            elif tok.arg == 0x72:
                out.append(Event("gs_r", raw[-1]))
        elif k == "cut":
            if self.line:
                self._flush(out)
            m = tok.arg
            out.append(Event("cut", "partial" if m in (1, 49, 66, 98, 104) else "full"))
        elif k == "gs_paren":
            out.extend(self._gs_paren(tok))
        elif k == "raster":
            if self.line:
                self._flush(out)
            wb, h = tok.arg
            out.append(Event("image", {"width": wb * 8, "height": h, "data": raw[8:]},
                             self.style))
        elif k == "dle_eot":
            out.append(Event("status_query", raw[2]))
        elif k == "dle_dc4":
            out.append(Event("clear" if tok.arg == 8 else "dle_dc4", tok.arg))
        elif k == "dle_enq":
            out.append(Event("recover", raw[2]))
        elif k == "unknown":
            out.append(Event("unknown", raw.hex()))
        return out

    def _gs_paren(self, tok: Token) -> list[Event]:
        raw = tok.raw
        if tok.arg != 0x6B or len(raw) < 7 or raw[5] != 0x31:
            return [] if tok.arg in (0x4C, 0x38, 0x48) else [Event("unknown", raw[:5].hex())]
        fn, body = raw[6], raw[7:]
        if fn == 0x43 and body:
            self.qr["size"] = body[0]
        elif fn == 0x45 and body:
            self.qr["ec"] = body[0]
        elif fn == 0x50:
            self.qr["data"] = body[1:]
        elif fn == 0x51:
            out: list[Event] = []
            if self.line:
                self._flush(out)
            out.append(Event("qr", self.qr["data"].decode("utf-8", errors="replace"),
                             self.style, {"size": self.qr["size"], "ec": self.qr["ec"]}))
            return out
        return []


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
    def images(self) -> list[dict[str, Any]]:
        return [e.value for e in self.events if e.kind == "image"]

    @property
    def cuts(self) -> int:
        return sum(1 for e in self.events if e.kind == "cut")

    @property
    def unknown(self) -> list[str]:
        return [e.value for e in self.events if e.kind == "unknown"]

    def render_text(self, columns: int = 48) -> str:
        """A readable plain-text picture of the receipt."""
        out: list[str] = []
        for e in self.events:
            if e.kind == "text":
                st = e.style or Style()
                text = e.value
                w = text_width(text) * (2 if st.double_width else 1)
                pad = 0
                if st.align == "center":
                    pad = max(0, (columns - w) // 2)
                elif st.align == "right":
                    pad = max(0, columns - w)
                shown = " ".join(text) if st.double_width else text
                out.append(" " * pad + shown)
            elif e.kind == "feed":
                out.extend([""] * int(e.value))
            elif e.kind == "qr":
                out.append(f"[QR: {e.value}]".center(columns))
            elif e.kind == "image":
                out.append(f"[image {e.value['width']}x{e.value['height']}]".center(columns))
            elif e.kind == "cut":
                out.append("✂" + "-" * (columns - 1))
        return "\n".join(out) + "\n"


def text_width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def decode(data: bytes, encoding: str = "gb18030") -> Decoded:
    """Decode a whole ESC/POS stream. Never raises: a truncated command ends decoding."""
    dec = Decoder(encoding)
    d = Decoded()
    i = 0
    while True:
        tok = next_token(data, i)
        if tok is None:
            break
        i += len(tok.raw)
        d.events.extend(dec.apply(tok))
    if dec.line:
        dec._flush(d.events)
    return d
