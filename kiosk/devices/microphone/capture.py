"""The audio capture worker: one thread reads 20 ms chunks while anyone is subscribed.

Unlike the camera it keeps nothing between subscribers and starts and stops with them:
the issue requires the microphone to be released as soon as a call ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from kiosk.devices.microphone.api import AudioCallback, AudioChunk

log = logging.getLogger(__name__)


class PcmReader(Protocol):
    """A sound source (transport): 20 ms of 48 kHz mono s16le per read."""

    name: str
    paced: bool  # True: read() returns at once, the worker keeps real time

    def open(self) -> bool: ...

    def read(self) -> bytes | None:
        """The next 960 samples (1920 bytes), or None if the source gave nothing."""
        ...

    def release(self) -> None: ...


class AudioCaptureWorker:
    def __init__(self, source: PcmReader, *, lost_after: int = 10) -> None:
        self.source = source
        self.lost_after = lost_after
        self.lost = False
        self.message = ""
        self.chunks = 0
        self._lock = threading.Lock()
        self._subscribers: list[AudioCallback] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    @property
    def capturing(self) -> bool:
        t = self._thread
        return t is not None and t.is_alive()

    def subscribe(self, cb: AudioCallback) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(cb)
            if self._thread is None or not self._thread.is_alive():
                self._stop = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(self._stop,),
                                                daemon=True, name=f"mic-{self.source.name}")
                self._thread.start()

        def unsubscribe() -> None:
            thread = None
            with self._lock:
                if cb in self._subscribers:
                    self._subscribers.remove(cb)
                if not self._subscribers and self._thread is not None:
                    self._stop.set()
                    thread, self._thread = self._thread, None
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=2.0)

        return unsubscribe

    def stop(self) -> None:
        with self._lock:
            self._subscribers.clear()
            self._stop.set()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)

    def _run(self, stop: threading.Event) -> None:
        if not self.source.open():
            self.source.release()
            self._mark_lost("cannot open")
            return
        seq, failures = 0, 0
        next_due = time.monotonic()
        try:
            while not stop.is_set():
                if self.source.paced:
                    now = time.monotonic()
                    if next_due > now:
                        stop.wait(next_due - now)
                    next_due = max(next_due + 0.02, now - 0.1)  # catch up, but not forever
                pcm = self.source.read()
                if stop.is_set():
                    break
                if pcm is None:
                    failures += 1
                    if failures >= self.lost_after:
                        self._mark_lost("no sound")
                        stop.wait(0.2)
                    continue
                failures, self.lost, self.message = 0, False, ""
                seq += 1
                self.chunks += 1
                chunk = AudioChunk(seq, time.monotonic(), pcm)
                with self._lock:
                    subscribers = list(self._subscribers)
                for cb in subscribers:
                    try:
                        cb(chunk)
                    except Exception:  # one consumer's bug must not stop the others
                        log.exception("microphone %s: subscriber failed", self.source.name)
        finally:
            self.source.release()

    def _mark_lost(self, why: str) -> None:
        if not self.lost:
            log.warning("microphone %s lost (%s)", self.source.name, why)
        self.lost, self.message = True, why
