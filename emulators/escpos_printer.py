"""A scriptable ESC/POS printer: the peer behind the TCP and serial emulators.

It consumes bytes as a printer does — ordinary commands in order, real-time
commands (`DLE EOT n`, `DLE DC4 8`) as soon as they arrive even while printing is
stopped — and answers status queries with the bits of the ESC/POS reference. It
can be told to run out of paper (now, or after N printed lines), to open the cover,
to stay silent on status queries (cheap printers) and to have a cutter fault.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from emulators.escpos_decoder import Decoder, Event, next_token

CLEAR_RESPONSE = b"\x37\x25\x00"


@dataclass
class Job:
    """What came out of the printer between two cuts."""

    events: list[Event] = field(default_factory=list)
    cut: bool = False

    @property
    def lines(self) -> list[str]:
        return [e.value for e in self.events if e.kind == "text"]

    @property
    def qr_codes(self) -> list[str]:
        return [e.value for e in self.events if e.kind == "qr"]


class EmulatedPrinter:
    def __init__(self, columns: int = 48, dots: int = 576) -> None:
        self.columns, self.dots = columns, dots
        self.lock = threading.RLock()
        self.paper = "ok"  # ok | low | out
        self.cover_open = False
        self.cutter_error = False
        self.answer_status = True  # False: a printer that never answers DLE EOT
        self.answer_gs_r = True
        self.paper_out_after_lines: int | None = None
        self.received = bytearray()  # every byte, for tests that check exact bytes
        self.jobs: list[Job] = [Job()]
        self.status_queries: list[int] = []
        self.clears = 0
        self.lines_printed = 0
        self._buf = bytearray()
        self._decoder = Decoder()

    # -- faults -------------------------------------------------------------------
    def set_paper(self, state: str) -> None:
        with self.lock:
            self.paper = state

    def set_cover(self, open_: bool) -> None:
        with self.lock:
            self.cover_open = open_

    @property
    def stopped(self) -> bool:
        return self.paper == "out" or self.cover_open or self.cutter_error

    # -- status bytes -------------------------------------------------------------
    def status_byte(self, n: int) -> int:
        b = 0x12
        if n == 1:
            b |= 0x08 if self.stopped else 0
        elif n == 2:
            b |= (0x04 if self.cover_open else 0) | (0x20 if self.paper == "out" else 0) \
                | (0x40 if self.cutter_error else 0)
        elif n == 3:
            b |= 0x08 if self.cutter_error else 0
        elif n == 4:
            b |= (0x0C if self.paper in ("low", "out") else 0) | (0x60 if self.paper == "out"
                                                                   else 0)
        return b

    def gs_r_byte(self) -> int:
        return (0x03 if self.paper in ("low", "out") else 0) | (0x0C if self.paper == "out"
                                                               else 0)

    # -- byte stream --------------------------------------------------------------
    @property
    def completed_jobs(self) -> list[Job]:
        with self.lock:
            return [j for j in self.jobs if j.cut]

    @property
    def pending(self) -> int:
        """Bytes received but not printed (waiting behind paper out / cover open)."""
        return len(self._buf)

    def feed(self, data: bytes) -> bytes:
        """Take bytes from the host; return what the printer sends back."""
        with self.lock:
            self.received += data
            self._buf += data
            return self.process()

    def process(self) -> bytes:
        """Print what can be printed; answer real-time commands. Call again after a fix."""
        with self.lock:
            out = bytearray()
            while self._buf:
                if self.stopped:
                    out += self._realtime_only()
                    break
                tok = next_token(self._buf, 0)
                if tok is None:
                    break
                del self._buf[:len(tok.raw)]
                for ev in self._decoder.apply(tok):
                    out += self._event(ev)
            return bytes(out)

    def _event(self, ev: Event) -> bytes:
        if ev.kind == "status_query":
            self.status_queries.append(ev.value)
            return bytes([self.status_byte(ev.value)]) if self.answer_status else b""
        if ev.kind == "gs_r":
            return bytes([self.gs_r_byte()]) if self.answer_gs_r else b""
        if ev.kind == "clear":
            self._clear()
            return CLEAR_RESPONSE
        job = self.jobs[-1]
        job.events.append(ev)
        if ev.kind == "text":
            self.lines_printed += 1
            if self.paper_out_after_lines is not None \
                    and self.lines_printed >= self.paper_out_after_lines:
                self.paper = "out"
                self.paper_out_after_lines = None
        elif ev.kind == "cut":
            job.cut = True
            self.jobs.append(Job())
        return b""

    def _clear(self) -> None:
        """Drop unprinted data; a half-printed job stays uncut (torn off by hand)."""
        self.clears += 1
        self._buf.clear()
        self._decoder = Decoder()
        if self.jobs[-1].events:
            self.jobs.append(Job())

    def _realtime_only(self) -> bytes:
        """While stopped: answer DLE EOT and DLE DC4 8 found in the buffer, keep the rest."""
        out = bytearray()
        i = 0
        while i < len(self._buf):
            if self._buf[i] == 0x10 and i + 2 < len(self._buf):
                tok = next_token(self._buf, i)
                if tok is not None and tok.kind == "dle_eot":
                    n = tok.raw[2]
                    self.status_queries.append(n)
                    if self.answer_status:
                        out.append(self.status_byte(n))
                    del self._buf[i:i + 3]
                    continue
                if tok is not None and tok.kind == "dle_dc4" and tok.arg == 8:
                    self._clear()
                    out += CLEAR_RESPONSE
                    break
            i += 1
        return bytes(out)
