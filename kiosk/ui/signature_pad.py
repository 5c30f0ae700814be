"""The pad a citizen signs on (a SIGNATURE screen): smooth strokes, clear, large targets.

Mouse, touch and the scripted citizen all draw through the same three methods
(`begin`, `extend`, `end`): mouse events and touch events are translated to them here,
and `draw_polyline` (the scripted citizen, the tests) sends real mouse events through
QTest. Strokes are kept in 0..1 of the pad, so a redraw (language or elder-mode switch,
a resize) keeps them where they were; they are drawn with quadratic smoothing through the
midpoints of the sampled points, which takes the corners off a finger's jitter.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QTouchEvent,
)
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QSizePolicy, QWidget

from kiosk.ui import theme

INK = "#10204A"  # blue-black, like a pen on the paper form
GUIDE = "#B8C4D0"
MIN_STEP_PX = 1.5  # samples closer than this add nothing but noise


def smooth_path(points: Sequence[QPointF]) -> QPainterPath:
    """A path through `points` with quadratic curves between their midpoints."""
    path = QPainterPath()
    if not points:
        return path
    path.moveTo(points[0])
    if len(points) == 1:
        path.lineTo(points[0] + QPointF(0.01, 0.01))  # a dot still shows
        return path
    for a, b in pairwise(points[1:]):
        path.quadTo(a, (a + b) / 2)
    path.lineTo(points[-1])
    return path


class SignaturePad(QWidget):
    """Draw with a finger, a stylus or the mouse; `value()` is the answer to the flow."""

    changed = Signal()

    def __init__(self, m: theme.Metrics, placeholder: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("signaturePad")
        self.m = m
        self.placeholder = placeholder
        self.strokes: list[list[tuple[float, float]]] = []
        self._drawing = False
        self.setAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents, True)
        self.setAttribute(Qt.WidgetAttribute.WA_StaticContents, True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(m.space(600), m.px(220))
        self.setCursor(Qt.CursorShape.CrossCursor)

    def sizeHint(self) -> QSize:
        return QSize(self.m.space(1400), self.m.px(420))

    # -- the one way strokes are made ----------------------------------------------
    def _norm(self, pos: QPointF) -> tuple[float, float]:
        w, h = max(1, self.width()), max(1, self.height())
        return (min(max(pos.x() / w, 0.0), 1.0), min(max(pos.y() / h, 0.0), 1.0))

    def begin(self, pos: QPointF) -> None:
        self._drawing = True
        self.strokes.append([self._norm(pos)])
        self.update()

    def extend(self, pos: QPointF) -> None:
        if not self._drawing or not self.strokes:
            return
        x, y = self._norm(pos)
        lx, ly = self.strokes[-1][-1]
        if abs(x - lx) * self.width() < MIN_STEP_PX and abs(y - ly) * self.height() < MIN_STEP_PX:
            return
        self.strokes[-1].append((x, y))
        self.update()

    def end(self, pos: QPointF | None = None) -> None:
        if pos is not None:
            self.extend(pos)
        if self._drawing:
            self._drawing = False
            self.changed.emit()

    def clear(self) -> None:
        self.strokes = []
        self._drawing = False
        self.update()
        self.changed.emit()

    def value(self) -> dict[str, Any]:
        """The strokes in 0..1 of the pad and its aspect: the screen's answer."""
        return {"strokes": [[list(p) for p in s] for s in self.strokes],
                "aspect": round(max(1, self.width()) / max(1, self.height()), 4)}

    def set_value(self, value: Any) -> None:
        """Strokes kept across a redraw of the screen."""
        if isinstance(value, dict) and isinstance(value.get("strokes"), list):
            self.strokes = [[(float(p[0]), float(p[1])) for p in s] for s in value["strokes"]]
            self.update()

    # -- mouse and touch, translated to begin / extend / end -----------------------
    def mousePressEvent(self, e: QMouseEvent) -> None:
        if e.button() == Qt.MouseButton.LeftButton:
            self.begin(e.position())
        e.accept()

    def mouseMoveEvent(self, e: QMouseEvent) -> None:
        self.extend(e.position())  # a stroke is on from press to release, whatever buttons say
        e.accept()

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:
        self.end(e.position())
        e.accept()

    def event(self, e: QEvent) -> bool:
        kind = e.type()
        if kind in (QEvent.Type.TouchBegin, QEvent.Type.TouchUpdate, QEvent.Type.TouchEnd,
                    QEvent.Type.TouchCancel) and isinstance(e, QTouchEvent):
            points = e.points()
            # One finger signs; a palm or a second finger is ignored.
            pos = points[0].position() if points else None
            if kind == QEvent.Type.TouchBegin and pos is not None:
                self.begin(pos)
            elif kind == QEvent.Type.TouchUpdate and pos is not None:
                self.extend(pos)
            else:
                self.end(pos if kind == QEvent.Type.TouchEnd else None)
            e.accept()  # accepted: Qt makes no mouse events of it (no double strokes)
            return True
        return super().event(e)

    # -- drawing -------------------------------------------------------------------
    def paintEvent(self, _e: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), QColor(theme.SURFACE))
        p.setPen(QPen(QColor(GUIDE), max(2, self.m.space(3)), Qt.PenStyle.DashLine))
        p.drawRoundedRect(QRectF(1, 1, w - 2, h - 2), self.m.space(16), self.m.space(16))
        base = h * 0.78
        p.setPen(QPen(QColor(GUIDE), max(1, self.m.space(2))))
        p.drawLine(QPointF(w * 0.06, base), QPointF(w * 0.94, base))
        if not self.strokes and self.placeholder:
            f = p.font()
            f.setPixelSize(self.m.body)
            p.setFont(f)
            p.setPen(QColor(theme.MUTED))
            p.drawText(QRectF(0, 0, w, base - self.m.space(12)),
                       Qt.AlignmentFlag.AlignCenter, self.placeholder)
        pen = QPen(QColor(INK), max(3.0, self.m.px(6)), Qt.PenStyle.SolidLine,
                   Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        for s in self.strokes:
            p.drawPath(smooth_path([QPointF(x * w, y * h) for x, y in s]))
        p.end()


def draw_polyline(pad: SignaturePad, points: Sequence[tuple[float, float]]) -> None:
    """Draw one stroke through `points` (0..1 of the pad) with real mouse events, the
    way the scripted citizen and the tests sign."""
    if not points:
        return

    def at(x: float, y: float) -> QPoint:
        return QPoint(round(x * (pad.width() - 1)), round(y * (pad.height() - 1)))

    left = Qt.MouseButton.LeftButton
    QTest.mousePress(pad, left, Qt.KeyboardModifier.NoModifier, at(*points[0]))
    for x, y in points[1:]:
        QTest.mouseMove(pad, at(x, y))
    QTest.mouseRelease(pad, left, Qt.KeyboardModifier.NoModifier, at(*points[-1]))


# A name-like signature for the scripted citizen: three strokes across the pad.
DEMO_SIGNATURE: tuple[tuple[tuple[float, float], ...], ...] = (
    tuple((0.12 + 0.1 * t / 20, 0.3 + 0.4 * (t % 5) / 4) for t in range(21)),
    ((0.3, 0.35), (0.36, 0.62), (0.42, 0.3), (0.48, 0.66), (0.55, 0.4), (0.6, 0.6)),
    ((0.64, 0.5), (0.7, 0.32), (0.74, 0.62), (0.8, 0.45), (0.86, 0.58), (0.9, 0.42)),
)


def sign_like_a_person(pad: SignaturePad) -> None:
    for stroke in DEMO_SIGNATURE:
        draw_polyline(pad, stroke)
