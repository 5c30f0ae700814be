"""Live camera preview with a face-position guide; frames arrive from the capture thread.

The capture thread calls `_on_frame`, which converts the newest frame right there (off
the UI thread) into a QImage already at the size it is shown and in the backing store's
32-bit layout, and hands it over with a queued signal; painting it is then a plain copy
(a scaled RGB888 picture cost the UI thread ~2 ms a frame). The guide (the dimmed frame
around the oval, its outline, the arrow) is drawn once per size and guide into an
overlay and reused. While one picture waits to be painted, newer ones replace it
instead of queueing up, so a slow paint never builds a backlog and the event loop is
never blocked by the camera.
The picture is mirrored (people expect to see themselves as in a mirror; not with the
`page` guide of the document camera, where text must read as it lies) and is never
saved: only the last one is held, and dropped when the view closes.
"""

from __future__ import annotations

import sys
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
        self._shown_size = QSize()  # read by the capture thread (under the lock)
        self._overlay: tuple[tuple[int, int, str], QImage] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._closed = True  # no frame may be handed over once closed (see stop())
        self.frames_shown = 0
        self.frames_dropped = 0
        self.first_shown_at = 0.0
        self.last_shown_at = 0.0
        self.frameReady.connect(self._take, Qt.ConnectionType.QueuedConnection)

    # -- lifetime ------------------------------------------------------------------------------
    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._unsubscribe is None and self.source is not None:
            with self._lock:
                self._closed = False
            self._unsubscribe = self.source.subscribe(self._on_frame)

    def hideEvent(self, event: Any) -> None:
        self.stop()
        super().hideEvent(event)

    def stop(self) -> None:
        """Stop receiving frames and forget the last picture."""
        with self._lock:  # after this, _on_frame cannot emit any more (it holds the lock)
            self._closed = True
            self._next = None
        self._overlay = None
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        self._image = None

    def set_guide(self, guide: str) -> None:
        self.guide = guide
        self.update()

    def resizeEvent(self, event: Any) -> None:
        with self._lock:
            self._shown_size = QSize(self.size())
        super().resizeEvent(event)

    @property
    def fps(self) -> float:
        span = self.last_shown_at - self.first_shown_at
        return (self.frames_shown - 1) / span if self.frames_shown > 1 and span > 0 else 0.0

    # -- capture thread ------------------------------------------------------------------------
    def _on_frame(self, frame: Any) -> None:
        qimg = self._convert(frame.image)
        with self._lock:
            if self._closed:
                return
            waiting = self._next is not None
            if waiting:
                self.frames_dropped += 1
            self._next = qimg
            if not waiting:
                self.frameReady.emit()  # queued: only posts an event to the UI thread

    def _convert(self, img: Any) -> QImage:
        """Mirror, scale to the size it will be shown at (never above `max_width`), and
        lay out as 32-bit pixels; all in OpenCV, which lets go of the GIL meanwhile."""
        import cv2

        h, w = img.shape[:2]
        with self._lock:
            box = QSize(self._shown_size)
        fit = QSize(w, h).scaled(box, Qt.AspectRatioMode.KeepAspectRatio) \
            if box.width() > 0 and box.height() > 0 else QSize(w, h)
        tw = max(1, min(fit.width(), self.max_width))
        th = max(1, fit.height() if tw == fit.width() else round(h * tw / w))
        if (tw, th) != (w, h):
            img = cv2.resize(img, (tw, th), interpolation=cv2.INTER_AREA if tw < w
                             else cv2.INTER_LINEAR)
        if self.guide != "page":  # a face is mirrored; a document reads as it lies
            img = cv2.flip(img, 1)
        if sys.byteorder == "little":  # Format_RGB32 is 0xffRRGGBB: B, G, R, 255 in memory
            bgra = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
            return QImage(bgra.data, tw, th, bgra.strides[0],
                          QImage.Format.Format_RGB32).copy()
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        return QImage(rgb.data, tw, th, rgb.strides[0], QImage.Format.Format_RGB888).copy()

    # -- UI thread -----------------------------------------------------------------------------
    def _take(self) -> None:
        with self._lock:
            img, self._next = self._next, None
        if img is None or self._unsubscribe is None:
            return
        self._image = img
        self.update()

    def paintEvent(self, _event: Any) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#263238"))
        area = QRectF(self.rect())
        if self._image is not None:
            size = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
            area = QRectF((self.width() - size.width()) / 2, (self.height() - size.height()) / 2,
                          size.width(), size.height())
            if size == self._image.size():
                p.drawImage(area.topLeft(), self._image)  # converted at this size: a copy
            else:  # the widget changed size since the capture thread converted it
                p.drawImage(area, self._image)
            now = time.monotonic()
            if not self.frames_shown:
                self.first_shown_at = now
            self.frames_shown += 1
            self.last_shown_at = now
        p.drawImage(area.topLeft(), self._guide_overlay(area))
        p.end()

    def _draw_page_frame(self, p: QPainter, area: QRectF) -> None:
        h = area.height() * 0.9
        w = min(h / 1.414, area.width() * 0.9)
        frame = QRectF(area.center().x() - w / 2, area.center().y() - h / 2, w, h)
        outside = QPainterPath()
        outside.addRect(area)
        hole = QPainterPath()
        hole.addRect(frame)
        p.fillPath(outside.subtracted(hole), QColor(0, 0, 0, 70))
        pen = QPen(QColor(theme.PRIMARY), max(3.0, h / 120))
        pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(frame)

    def _guide_overlay(self, area: QRectF) -> QImage:
        """The guide for this area and guide, drawn once and then reused."""
        key = (round(area.width()), round(area.height()), self.guide)
        if self._overlay is None or self._overlay[0] != key:
            img = QImage(max(1, key[0]), max(1, key[1]),
                         QImage.Format.Format_ARGB32_Premultiplied)
            img.fill(Qt.GlobalColor.transparent)
            p = QPainter(img)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            self._draw_guide(p, QRectF(0, 0, area.width(), area.height()))
            p.end()
            self._overlay = (key, img)
        return self._overlay[1]

    def _draw_guide(self, p: QPainter, area: QRectF) -> None:
        """An oval where the face belongs, dimmed outside; an arrow for a head turn.
        `page` (document camera): an A4 frame where the page belongs."""
        if self.guide == "page":
            self._draw_page_frame(p, area)
            return
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
