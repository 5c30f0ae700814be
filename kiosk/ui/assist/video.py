"""A video picture from a FrameSource (the agent's video, the citizen's own preview).

Like kiosk/ui/camera_view.py without the face guide: the frame thread converts the
newest frame into a QImage at the size it is shown and hands it over with a queued
signal, so painting is a copy and the UI thread never waits for video. Frames come at
most `max_fps` a second (faster ones are dropped on the frame thread); only the newest
picture is held, and it is dropped when the view stops. Nothing is ever saved.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget


class VideoView(QWidget):
    frameReady = Signal()  # emitted on the frame thread; queued to the UI thread

    def __init__(self, source: Any, *, mirrored: bool, max_fps: float = 15.0,
                 name: str = "assistVideo", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        # paintEvent covers every pixel: a new frame repaints this widget alone, not the
        # styled panels under it (in the call bar, that was the window's whole header)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.source, self.mirrored = source, mirrored
        self.min_gap = 1.0 / max_fps
        self._lock = threading.Lock()
        self._next: QImage | None = None
        self._image: QImage | None = None
        self._size = QSize()
        self._closed = True
        self._last_at = 0.0
        self._unsubscribe: Callable[[], None] | None = None
        self.frames_shown = 0
        self.frameReady.connect(self._take, Qt.ConnectionType.QueuedConnection)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.start()

    def hideEvent(self, event: Any) -> None:
        self.stop()
        super().hideEvent(event)

    def start(self) -> None:
        if self._unsubscribe is None and self.source is not None:
            with self._lock:
                self._closed = False
            self._unsubscribe = self.source.subscribe(self._on_frame)

    def stop(self) -> None:
        """Stop receiving frames (the camera subscription is released) and forget them."""
        with self._lock:
            self._closed = True
            self._next = None
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        self._image = None
        self.update()

    @property
    def subscribed(self) -> bool:
        return self._unsubscribe is not None

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        with self._lock:
            self._size = self.size()

    def _on_frame(self, frame: Any) -> None:
        """On the frame thread: keep at most max_fps, convert the newest at display size."""
        now = time.monotonic()
        if now - self._last_at < self.min_gap:
            return
        self._last_at = now
        with self._lock:
            if self._closed or self._size.isEmpty():
                return
            size = QSize(self._size)
        image = _to_qimage(frame.image, size, self.mirrored)
        with self._lock:
            if self._closed:
                return
            waiting = self._next is not None
            self._next = image
        if not waiting:
            self.frameReady.emit()

    def _take(self) -> None:
        with self._lock:
            image, self._next = self._next, None
        if image is not None:
            self._image = image
            self.frames_shown += 1
            self.update()

    def paintEvent(self, _event: Any) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#1B1F24"))
        if self._image is not None:
            x = (self.width() - self._image.width()) / 2
            y = (self.height() - self._image.height()) / 2
            p.drawImage(QRectF(x, y, self._image.width(), self._image.height()), self._image)
        p.end()


def _to_qimage(bgr: Any, size: QSize, mirrored: bool) -> QImage:
    """A BGR numpy frame as a QImage fitted into `size` (keeping its proportions)."""
    h, w = bgr.shape[:2]
    rgb = bgr[:, ::-1, ::-1] if mirrored else bgr[:, :, ::-1]
    import numpy as np

    rgb = np.ascontiguousarray(rgb)
    image = QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB888)
    scaled = image.scaled(size, Qt.AspectRatioMode.KeepAspectRatio,
                          Qt.TransformationMode.FastTransformation)
    return scaled.convertToFormat(QImage.Format.Format_RGB32)  # a copy: rgb may go
