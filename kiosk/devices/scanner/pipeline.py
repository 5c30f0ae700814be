"""From framed bytes to delivered codes: logging of bad input, de-duplication, waiting.

Shared by the serial scanner and its simulator, so both behave the same. Thread-safe:
the reader thread calls `feed`/`poll`; flows call `wait_code`; subscribers are called
on the reader thread and must return quickly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.devices.base import Cancelled, DeviceError
from kiosk.devices.scanner.protocol import DuplicateFilter, Framed, FrameKind, LineFramer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanEvent:
    """A code the scanner read (the text is a token or barcode, never logged in full)."""

    code: str
    at: float  # time.monotonic()
    seq: int

    def __repr__(self) -> str:
        return f"ScanEvent(seq={self.seq}, len={len(self.code)})"


Subscriber = Callable[[ScanEvent], None]


@dataclass
class ScanStats:
    codes: int = 0
    duplicates: int = 0
    garbage: int = 0
    oversize: int = 0
    noread: int = 0
    reconnects: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class ScanPipeline:
    def __init__(self, framer: LineFramer, dedup_window_s: float, max_queue: int = 8,
                 name: str = "scanner") -> None:
        self.framer = framer
        self.dedup = DuplicateFilter(dedup_window_s)
        self.stats = ScanStats()
        self.name = name
        self._queue: deque[ScanEvent] = deque(maxlen=max_queue)
        self._cond = threading.Condition()
        self._subscribers: list[Subscriber] = []
        self._seq = 0

    # -- reader side -------------------------------------------------------------
    def feed(self, data: bytes, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._cond:
            frames = self.framer.feed(data, now)
        self._handle(frames, now)

    def poll(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._cond:
            frames = self.framer.poll(now)
        self._handle(frames, now)

    def reset(self) -> None:
        """Drop a partial frame (the link went away mid-code)."""
        with self._cond:
            if self.framer.pending:
                log.info("%s: dropped a partial frame (%d bytes) on reconnect", self.name,
                         self.framer.pending)
            self.framer.reset()

    def _handle(self, frames: list[Framed], now: float) -> None:
        for f in frames:
            if f.kind is FrameKind.CODE:
                self._deliver(f.code, now)
            elif f.kind is FrameKind.GARBAGE:
                self.stats.garbage += 1
                log.warning("%s: discarded garbage (%s; %s)", self.name, f.reason, f.fingerprint)
            elif f.kind is FrameKind.OVERSIZE:
                self.stats.oversize += 1
                log.warning("%s: discarded oversized input (%s)", self.name, f.reason)
            else:
                self.stats.noread += 1
                log.info("%s: scanner reported no read", self.name)

    def _deliver(self, code: str, now: float) -> None:
        with self._cond:
            if not self.dedup.accept(code, now):
                self.stats.duplicates += 1
                log.info("%s: suppressed a repeated code (len=%d)", self.name, len(code))
                return
            self._seq += 1
            event = ScanEvent(code, now, self._seq)
            self._queue.append(event)
            self.stats.codes += 1
            subscribers = list(self._subscribers)
            self._cond.notify_all()
        log.info("%s: code read (len=%d)", self.name, len(code))
        for cb in subscribers:
            try:
                cb(event)
            except Exception:  # a subscriber's bug must not stop the scanner
                log.exception("%s: subscriber failed", self.name)

    # -- consumer side -----------------------------------------------------------
    def subscribe(self, cb: Subscriber) -> Callable[[], None]:
        with self._cond:
            self._subscribers.append(cb)

        def unsubscribe() -> None:
            with self._cond:
                if cb in self._subscribers:
                    self._subscribers.remove(cb)

        return unsubscribe

    def clear(self) -> None:
        """Forget codes nobody asked for (read before the screen wanted one)."""
        with self._cond:
            self._queue.clear()
            self.dedup.reset()

    def wait_code(self, timeout: float, cancel: threading.Event,
                  alive: Callable[[], bool] = lambda: True) -> ScanEvent:
        """Next code; DeviceError `scanner.timeout` / `scanner.offline`, or Cancelled."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._queue:
                if cancel.is_set():
                    raise Cancelled()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if not alive():
                        raise DeviceError("scanner.offline", "scanner unplugged")
                    raise DeviceError("scanner.timeout", "no code within timeout")
                self._cond.wait(min(0.05, remaining))
            return self._queue.popleft()
