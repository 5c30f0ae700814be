"""The capture worker: one thread reads a video source and hands frames to subscribers.

It runs only while someone is subscribed (the preview, a verification) and lets the
source go after a short idle time, so the camera is not on between citizens. A source
that stops giving frames is reported lost; the worker reopens it until it comes back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import Any, Protocol

from kiosk.devices.camera.api import Frame, FrameCallback

log = logging.getLogger(__name__)


class FrameReader(Protocol):
    """A video source (transport): bytes of pictures, nothing else."""

    name: str
    # Frames per second to pace at (files play in real time); None = as delivered.
    pace_fps: float | None

    def open(self) -> bool: ...

    def read(self) -> Any | None:
        """The next picture (numpy BGR) or None if the source gave nothing."""
        ...

    def release(self) -> None: ...


class CaptureState(str, Enum):
    STOPPED = "stopped"
    IDLE = "idle"  # nobody watching: source released
    ONLINE = "online"
    LOST = "lost"


class CaptureWorker:
    def __init__(self, source: FrameReader, *, lost_after: int = 5, retry_s: float = 1.0,
                 idle_release_s: float = 5.0) -> None:
        self.source = source
        self.lost_after = lost_after
        self.retry_s = retry_s
        self.idle_release_s = idle_release_s
        self.state = CaptureState.STOPPED
        self.message = ""
        self.lost_count = 0
        self.regained_count = 0
        self.frames = 0
        self._cond = threading.Condition()
        self._subscribers: list[FrameCallback] = []
        self._latest: Frame | None = None
        self._seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._source_open = False
        self._ever_lost = False
        self._idle_since = time.monotonic()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        if self.state is CaptureState.STOPPED:
            self.state = CaptureState.IDLE
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"camera-{self.source.name}")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=3.0)
            self._thread = None
        self._release()
        with self._cond:
            self._latest = None  # no picture outlives the device
        self.state = CaptureState.STOPPED

    def probe(self) -> bool:
        """Open the source, read one picture and let it go again (status at open time).

        The picture is dropped: a frame taken now must never reach a consumer later.
        """
        with self._cond:
            if self._source_open:
                return True
        ok = self.source.open() and self.source.read() is not None
        self.source.release()
        if ok:
            if self.state is CaptureState.LOST:
                self.state = CaptureState.IDLE
        else:
            self.state, self.message = CaptureState.LOST, f"{self.source.name} not available"
        return ok

    # -- consumers ---------------------------------------------------------------------------
    def subscribe(self, cb: FrameCallback) -> Callable[[], None]:
        with self._cond:
            self._subscribers.append(cb)
            self._cond.notify_all()

        def unsubscribe() -> None:
            with self._cond:
                if cb in self._subscribers:
                    self._subscribers.remove(cb)
                if not self._subscribers:
                    self._latest = None
                self._cond.notify_all()

        return unsubscribe

    def latest(self) -> Frame | None:
        return self._latest

    def wait_frame(self, after_seq: int, timeout: float) -> Frame | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._latest is None or self._latest.seq <= after_seq:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    return None
                self._cond.wait(remaining)
            return self._latest

    # -- the thread ----------------------------------------------------------------------------
    def _release(self) -> None:
        if self._source_open:
            self._source_open = False
            self.source.release()

    def _run(self) -> None:
        failures = 0
        self._idle_since = time.monotonic()
        next_due = 0.0
        while not self._stop.is_set():
            with self._cond:
                wanted = bool(self._subscribers)
                if not wanted:
                    if self._source_open and \
                            time.monotonic() - self._idle_since > self.idle_release_s:
                        self._release()
                    if self.state is CaptureState.ONLINE:
                        self.state = CaptureState.IDLE
                    self._cond.wait(0.1)
                    continue
            if not self._source_open:
                if self.source.open():
                    self._source_open = True
                    failures = 0
                else:
                    self.source.release()
                    self._mark_lost("cannot open")
                    self._stop.wait(self.retry_s)
                    continue
            pace = self.source.pace_fps
            if pace:
                now = time.monotonic()
                if next_due > now:
                    self._stop.wait(next_due - now)
                next_due = max(next_due, now) + 1.0 / pace
            image = self.source.read()
            if image is None:
                failures += 1
                if failures >= self.lost_after:
                    self._release()
                    self._mark_lost("no frames")
                    self._stop.wait(self.retry_s)
                continue
            failures = 0
            self._publish(image)
        self._release()

    def _mark_lost(self, why: str) -> None:
        if self.state is not CaptureState.LOST:
            self.lost_count += 1
            self._ever_lost = True
            log.warning("camera %s lost (%s)", self.source.name, why)
        self.state, self.message = CaptureState.LOST, why
        with self._cond:
            self._latest = None
            self._cond.notify_all()

    def _publish(self, image: Any) -> None:
        if self.state is CaptureState.LOST:
            self.regained_count += 1
            log.info("camera %s is back", self.source.name)
        self.state, self.message = CaptureState.ONLINE, ""
        try:
            image.setflags(write=False)  # shared by every subscriber: nobody may draw on it
        except (AttributeError, ValueError):
            pass
        with self._cond:
            if not self._subscribers:
                return  # the last watcher left while this picture was read: drop it
            self._seq += 1
            frame = Frame(self._seq, time.monotonic(), image)
            self._latest = frame
            self.frames += 1
            self._idle_since = time.monotonic()
            subscribers = list(self._subscribers)
            self._cond.notify_all()
        for cb in subscribers:
            try:
                cb(frame)
            except Exception:  # one consumer's bug must not stop the others
                log.exception("camera %s: frame subscriber failed", self.source.name)
