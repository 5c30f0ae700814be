"""Scanner line protocol: pure framing of the byte stream a serial code scanner sends.

Scanners send the decoded data followed by a configurable suffix (CR, LF or CRLF).
`LineFramer` cuts the stream on that suffix; when a scanner is set up without a
suffix (or with the wrong one), an inter-character gap ends the code instead.
Oversized input and garbage (control bytes, undecodable data) come out as their own
frame kinds so the service can log and drop them. Everything here is a pure
function of the bytes and the times passed in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import Enum

# Honeywell serial trigger (the scanner must be in manual/serial-trigger mode).
SYN = 0x16
HONEYWELL_TRIGGER_ON = bytes([SYN]) + b"T\r"
HONEYWELL_TRIGGER_OFF = bytes([SYN]) + b"U\r"
HONEYWELL_BEEP = bytes([SYN, 0x07]) + b"\r"

TRIGGERS: dict[str, tuple[bytes, bytes]] = {
    "honeywell": (HONEYWELL_TRIGGER_ON, HONEYWELL_TRIGGER_OFF),
}

# What some scanners send when they could not decode anything (e.g. ZKTeco "%%NoRead").
NOREAD_MARKERS = frozenset({"%%NoRead", "NoRead", "NOREAD"})

# QR holds at most 7089 numeric / 2953 binary characters; anything longer is not a code.
DEFAULT_MAX_LEN = 4096
DEFAULT_GAP_S = 0.2


class Suffix(Enum):
    CR = b"\r"
    LF = b"\n"
    CRLF = b"\r\n"
    NONE = b""

    @classmethod
    def parse(cls, name: str) -> Suffix:
        """`CR`, `LF`, `CRLF` or `NONE` (case-insensitive)."""
        try:
            return cls[name.strip().upper() or "NONE"]
        except KeyError:
            raise ValueError(f"unknown suffix {name!r}: use CR, LF, CRLF or NONE") from None


class FrameKind(str, Enum):
    CODE = "code"
    GARBAGE = "garbage"
    OVERSIZE = "oversize"
    NOREAD = "noread"


@dataclass(frozen=True)
class Framed:
    kind: FrameKind
    code: str = ""
    size: int = 0  # bytes of the frame (without suffix)
    reason: str = ""  # why it is garbage; for the log
    fingerprint: str = ""  # length and short hash, never the payload

    def __repr__(self) -> str:  # a code may carry a token: keep it out of reprs
        return f"Framed({self.kind.value}, size={self.size}, {self.fingerprint})"


@dataclass(frozen=True)
class FramerConfig:
    suffix: Suffix = Suffix.CR
    gap_s: float = DEFAULT_GAP_S  # inter-character timeout; 0 disables the fallback
    max_len: int = DEFAULT_MAX_LEN

    def __post_init__(self) -> None:
        if self.max_len < 1:
            raise ValueError("max_len must be positive")
        if self.gap_s < 0:
            raise ValueError("gap_s must not be negative")
        if self.suffix is Suffix.NONE and self.gap_s == 0:
            raise ValueError("without a suffix the inter-character timeout must be on")


def fingerprint(raw: bytes) -> str:
    """What a log may say about a payload: its length and a short hash."""
    return f"len={len(raw)} sha256={hashlib.sha256(raw).hexdigest()[:10]}"


def _decode(raw: bytes) -> str | None:
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return None


def classify(raw: bytes) -> Framed:
    """Turn one frame's bytes into a code, a no-read marker or garbage."""
    fp = fingerprint(raw)
    text = _decode(raw)
    if text is None:
        return Framed(FrameKind.GARBAGE, size=len(raw), reason="undecodable", fingerprint=fp)
    bad = [c for c in text if (ord(c) < 0x20 and c != "\t") or 0x7F <= ord(c) < 0xA0
           or c == "\ufffd"]
    if bad:
        return Framed(FrameKind.GARBAGE, size=len(raw),
                      reason=f"control bytes ({len(bad)})", fingerprint=fp)
    text = text.strip(" \t")
    if not text:
        return Framed(FrameKind.GARBAGE, size=len(raw), reason="blank", fingerprint=fp)
    if text in NOREAD_MARKERS:
        return Framed(FrameKind.NOREAD, size=len(raw), fingerprint=fp)
    return Framed(FrameKind.CODE, code=text, size=len(raw), fingerprint=fp)


class LineFramer:
    """Cut a scanner's byte stream into frames: on the suffix, else on a silent gap."""

    def __init__(self, config: FramerConfig | None = None) -> None:
        self.config = config or FramerConfig()
        self._buf = bytearray()
        self._discarding = False  # inside an oversized frame: drop until its end
        self._discarded = 0
        self._skip_lf = False  # suffix CR but the scanner sends CRLF: drop the LF
        self._last_byte = 0.0

    @property
    def pending(self) -> int:
        return len(self._buf)

    def reset(self) -> None:
        """Forget a partial frame (after an unplug or a reconnect)."""
        self._buf.clear()
        self._discarding = False
        self._discarded = 0
        self._skip_lf = False

    def feed(self, data: bytes, now: float) -> list[Framed]:
        """Add received bytes; return the frames they complete."""
        out = self.poll(now)  # a silent gap before these bytes ends the previous frame
        if not data:
            return out
        self._last_byte = now
        if self._skip_lf:
            self._skip_lf = False
            if data[:1] == b"\n":
                data = data[1:]
        suffix = self.config.suffix.value
        # Search from a little before the new bytes: a suffix may be split across reads.
        start = max(0, len(self._buf) - len(suffix) + 1)
        self._buf.extend(data)
        cut = False
        while suffix:
            i = self._buf.find(suffix, start)
            if i < 0:
                break
            raw = bytes(self._buf[:i])
            del self._buf[:i + len(suffix)]
            start, cut = 0, True
            if self.config.suffix is Suffix.CR and self._buf[:1] == b"\n":
                del self._buf[:1]  # the scanner sends CRLF although CR was configured
            out.extend(self._end_frame(raw))
        if cut and not self._buf and self.config.suffix is Suffix.CR:
            self._skip_lf = True
        if len(self._buf) > self.config.max_len:
            keep = len(suffix) - 1 if suffix else 0
            self._discarded += len(self._buf) - keep
            del self._buf[:len(self._buf) - keep]
            self._discarding = True
        return out

    def _end_frame(self, raw: bytes) -> list[Framed]:
        if self._discarding or len(raw) > self.config.max_len:
            size = self._discarded + len(raw)
            self._discarding = False
            self._discarded = 0
            return [Framed(FrameKind.OVERSIZE, size=size,
                           reason=f"longer than {self.config.max_len} bytes",
                           fingerprint=f"len={size}")]
        if self.config.suffix is Suffix.LF and raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw:
            return []  # an empty line (a stray suffix): nothing to report
        return [classify(raw)]

    def poll(self, now: float) -> list[Framed]:
        """End a partial frame if no byte arrived for the inter-character timeout."""
        if self.config.gap_s <= 0 or not (self._buf or self._discarding):
            return []
        if now - self._last_byte < self.config.gap_s:
            return []
        self._skip_lf = False
        raw = bytes(self._buf)
        self._buf.clear()
        if self.config.suffix in (Suffix.CR, Suffix.CRLF):
            raw = raw.rstrip(b"\r")  # half a CRLF, or a CR-terminated frame cut short
        return self._end_frame(raw)

    def deadline(self) -> float | None:
        """When `poll` would next end a partial frame (None: nothing pending)."""
        if self.config.gap_s <= 0 or not (self._buf or self._discarding):
            return None
        return self._last_byte + self.config.gap_s


class DuplicateFilter:
    """Suppress the same code read again within a short window (presentation mode)."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._last: tuple[str, float] | None = None

    def accept(self, code: str, now: float) -> bool:
        last = self._last
        self._last = (code, now)
        if self.window_s <= 0 or last is None:
            return True
        return not (last[0] == code and now - last[1] < self.window_s)

    def reset(self) -> None:
        self._last = None
