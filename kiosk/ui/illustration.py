"""Simple vector pictures that tell the citizen what to do (drawn, no image assets)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from kiosk.ui import theme


class Illustration(QWidget):
    def __init__(self, kind: str, size: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self._size = size
        self.setFixedSize(QSize(size, size))
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def paintEvent(self, _event: object) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        s = float(self._size)
        draw = getattr(self, f"_draw_{self.kind}", None)
        if draw is None:  # the business flows' pictures live beside this module
            from kiosk.ui.illustration_services import DRAWINGS

            extra = DRAWINGS.get(self.kind)
            draw = (lambda p, s: extra(self, p, s)) if extra else self._draw_default
        draw(p, s)
        p.end()

    @staticmethod
    def _pen(color: str, width: float) -> QPen:
        pen = QPen(QColor(color), width)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        return pen

    def _draw_id_card(self, p: QPainter, s: float) -> None:
        # reader pad with waves, card hovering above it
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#37474F"))
        p.drawRoundedRect(QRectF(s * .08, s * .70, s * .84, s * .16), s * .04, s * .04)
        p.setBrush(QColor(theme.PRIMARY))
        p.drawRoundedRect(QRectF(s * .16, s * .22, s * .68, s * .42), s * .05, s * .05)
        p.setBrush(QColor("#CFE3F7"))
        p.drawRoundedRect(QRectF(s * .22, s * .30, s * .18, s * .24), s * .02, s * .02)
        p.setPen(self._pen("#CFE3F7", s * .03))
        for k in range(3):
            y = s * (.34 + k * .08)
            p.drawLine(QPointF(s * .46, y), QPointF(s * .76, y))
        p.setPen(self._pen(theme.ACCENT, s * .025))
        p.setBrush(Qt.BrushStyle.NoBrush)
        for k in range(3):
            r = s * (.06 + k * .05)
            p.drawArc(QRectF(s * .5 - r, s * .78 - r, 2 * r, 2 * r), 30 * 16, 120 * 16)

    def _draw_ss_card(self, p: QPainter, s: float) -> None:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#C62828"))
        p.drawRoundedRect(QRectF(s * .14, s * .26, s * .72, s * .46), s * .05, s * .05)
        p.setBrush(QColor(theme.ACCENT))
        p.drawRoundedRect(QRectF(s * .22, s * .40, s * .14, s * .12), s * .02, s * .02)

    def _draw_printer(self, p: QPainter, s: float) -> None:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("white"))
        p.drawRect(QRectF(s * .28, s * .10, s * .44, s * .30))
        p.setBrush(QColor("#546E7A"))
        p.drawRoundedRect(QRectF(s * .10, s * .34, s * .80, s * .32), s * .05, s * .05)
        p.setBrush(QColor("white"))
        p.drawRect(QRectF(s * .28, s * .56, s * .44, s * .34))
        p.setPen(self._pen("#90A4AE", s * .02))
        for k in range(3):
            y = s * (.66 + k * .07)
            p.drawLine(QPointF(s * .34, y), QPointF(s * .66, y))

    def _draw_receipt(self, p: QPainter, s: float) -> None:
        path = QPainterPath(QPointF(s * .30, s * .10))
        path.lineTo(s * .70, s * .10)
        path.lineTo(s * .70, s * .86)
        for k in range(8):
            x = s * (.70 - (k + .5) * .05)
            path.lineTo(x, s * (.90 if k % 2 == 0 else .86))
        path.lineTo(s * .30, s * .86)
        path.closeSubpath()
        p.setPen(self._pen("#90A4AE", s * .015))
        p.setBrush(QColor("white"))
        p.drawPath(path)
        p.setPen(self._pen("#90A4AE", s * .02))
        for k in range(6):
            y = s * (.20 + k * .09)
            p.drawLine(QPointF(s * .36, y), QPointF(s * .64, y))

    def _draw_check(self, p: QPainter, s: float) -> None:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(theme.OK))
        p.drawEllipse(QRectF(s * .12, s * .12, s * .76, s * .76))
        p.setPen(self._pen("white", s * .08))
        p.drawPolyline([QPointF(s * .32, s * .52), QPointF(s * .45, s * .65),
                        QPointF(s * .70, s * .38)])

    def _draw_error(self, p: QPainter, s: float) -> None:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(theme.WARN))
        p.drawEllipse(QRectF(s * .12, s * .12, s * .76, s * .76))
        p.setPen(self._pen("white", s * .09))
        p.drawLine(QPointF(s * .5, s * .28), QPointF(s * .5, s * .56))
        p.drawPoint(QPointF(s * .5, s * .71))

    def _draw_search(self, p: QPainter, s: float) -> None:
        p.setPen(self._pen(theme.PRIMARY, s * .08))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawEllipse(QRectF(s * .18, s * .18, s * .44, s * .44))
        p.drawLine(QPointF(s * .56, s * .56), QPointF(s * .80, s * .80))

    def _draw_consent(self, p: QPainter, s: float) -> None:
        p.setPen(self._pen("#90A4AE", s * .015))
        p.setBrush(QColor("white"))
        p.drawRoundedRect(QRectF(s * .22, s * .10, s * .50, s * .70), s * .03, s * .03)
        p.setPen(self._pen("#90A4AE", s * .02))
        for k in range(5):
            y = s * (.22 + k * .09)
            p.drawLine(QPointF(s * .30, y), QPointF(s * .64, y))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(theme.OK))
        p.drawEllipse(QRectF(s * .52, s * .56, s * .32, s * .32))
        p.setPen(self._pen("white", s * .04))
        p.drawPolyline([QPointF(s * .60, s * .72), QPointF(s * .66, s * .78),
                        QPointF(s * .77, s * .65)])

    def _draw_default(self, p: QPainter, s: float) -> None:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(theme.PRIMARY))
        p.drawEllipse(QRectF(s * .3, s * .3, s * .4, s * .4))
