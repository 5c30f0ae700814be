"""Live camera preview with a face-position guide; frames arrive from the capture thread.

The capture thread calls `_on_frame`, which converts the newest frame to a small QImage
right there (off the UI thread) and hands it over with a queued signal. While one
picture waits to be painted, newer ones replace it instead of queueing up, so a slow
paint never builds a backlog and the event loop is never blocked by the camera.
The picture is mirrored (people expect to see themselves as in a mirror) and is never
saved: only the last one is held, and dropped when the view closes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from kiosk.ui import theme


class CameraView(QWidget):
    frameReady = Signal()  # emitted from the capture thread; queued to the UI thread

    def __init__(self, source: Any, guide: str = "center", parent: QWidget | None = None,
                 max_width: int = 960) -> None:
        super().__init__(parent)
        self.setObjectName("cameraView")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(QSize(320, 240))
        self.source = source
        self.guide = guide
        self.max_width = max_width
        self._lock = threading.Lock()
        self._next: QImage | None = None  # converted on the capture thread, not yet shown
        self._image: QImage | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._closed = True  # no frame may be handed over once closed (see stop())
        self.frames_shown = 0
        self.frames_dropped = 0
        self.first_shown_at = 0.0
        self.last_shown_at = 0.0
        self.frameReady.connect(self._take, Qt.ConnectionType.QueuedConnection)

    # -- lifetime ------------------------------------------------------------------------------
    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if self._unsubscribe is None and self.source is not None:
            with self._lock:
                self._closed = False
            self._unsubscribe = self.source.subscribe(self._on_frame)

    def hideEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        self.stop()
        super().hideEvent(event)

    def stop(self) -> None:
        """Stop receiving frames and forget the last picture."""
        with self._lock:  # after this, _on_frame cannot emit any more (it holds the lock)
            self._closed = True
            self._next = None
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        self._image = None

    def set_guide(self, guide: str) -> None:
        self.guide = guide
        self.update()

    @property
    def fps(self) -> float:
        span = self.last_shown_at - self.first_shown_at
        return (self.frames_shown - 1) / span if self.frames_shown > 1 and span > 0 else 0.0

    # -- capture thread ------------------------------------------------------------------------
    def _on_frame(self, frame: Any) -> None:
        import cv2

        img = frame.image
        h, w = img.shape[:2]
        if w > self.max_width:  # the screen shows it smaller anyway: convert less
            s = self.max_width / w
            img = cv2.resize(img, (self.max_width, max(1, int(h * s))),
                             interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(cv2.flip(img, 1), cv2.COLOR_BGR2RGB)
        qimg = QImage(rgb.data, rgb.shape[1], rgb.shape[0], rgb.strides[0],
                      QImage.Format.Format_RGB888).copy()
        with self._lock:
            if self._closed:
                return
            waiting = self._next is not None
            if waiting:
                self.frames_dropped += 1
            self._next = qimg
            if not waiting:
                self.frameReady.emit()  # queued: only posts an event to the UI thread

    # -- UI thread -----------------------------------------------------------------------------
    def _take(self) -> None:
        with self._lock:
            img, self._next = self._next, None
        if img is None or self._unsubscribe is None:
            return
        self._image = img
        self.update()

    def paintEvent(self, _event: Any) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("#263238"))
        area = QRectF(self.rect())
        if self._image is not None:
            size = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
            area = QRectF((self.width() - size.width()) / 2, (self.height() - size.height()) / 2,
                          size.width(), size.height())
            p.drawImage(area, self._image)
            now = time.monotonic()
            if not self.frames_shown:
                self.first_shown_at = now
            self.frames_shown += 1
            self.last_shown_at = now
        self._draw_guide(p, area)
        p.end()

    def _draw_guide(self, p: QPainter, area: QRectF) -> None:
        """An oval where the face belongs, dimmed outside; an arrow for a head turn."""
        h = area.height() * 0.72
        w = h * 0.74
        oval = QRectF(area.center().x() - w / 2, area.center().y() - h / 2, w, h)
        outside = QPainterPath()
        outside.addRect(area)
        hole = QPainterPath()
        hole.addEllipse(oval)
        p.fillPath(outside.subtracted(hole), QColor(0, 0, 0, 110))
        pen = QPen(QColor(theme.PRIMARY if self.guide == "center" else "#FFC107"),
                   max(3.0, h / 90))
        pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawEllipse(oval)
        if self.guide in ("left", "right"):
            # The preview is mirrored: the citizen's left is the screen's left.
            sign = -1.0 if self.guide == "left" else 1.0
            cx = oval.center().x() + sign * (w / 2 + area.width() * 0.12)
            cy = oval.center().y()
            size = min(area.width() * 0.09, h * 0.16)
            arrow = QPainterPath(QPointF(cx + sign * size, cy))
            arrow.lineTo(QPointF(cx - sign * size * 0.2, cy - size))
            arrow.lineTo(QPointF(cx - sign * size * 0.2, cy + size))
            arrow.closeSubpath()
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor("#FFC107"))
            p.drawPath(arrow)
