"""More pictures for the business flows (calendar, house, clock, certificate, guide, star).

Looked up by `Illustration` when it has no drawing of its own for a kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPolygonF

from kiosk.ui import theme

LIGHT = "#CFE3F7"


def _pen(ill: Any, color: str, width: float) -> Any:
    return ill._pen(color, width)


def draw_calendar(ill: Any, p: QPainter, s: float) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#FFFFFF"))
    p.setPen(_pen(ill, theme.PRIMARY, s * .02))
    p.drawRoundedRect(QRectF(s * .14, s * .18, s * .72, s * .66), s * .05, s * .05)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(theme.PRIMARY))
    p.drawRoundedRect(QRectF(s * .14, s * .18, s * .72, s * .16), s * .05, s * .05)
    p.setBrush(QColor("#37474F"))
    for x in (.30, .70):
        p.drawRoundedRect(QRectF(s * (x - .025), s * .11, s * .05, s * .14), s * .02, s * .02)
    for r in range(3):
        for c in range(4):
            hot = (r, c) == (1, 2)
            p.setBrush(QColor(theme.ACCENT if hot else LIGHT))
            p.drawRoundedRect(QRectF(s * (.21 + c * .15), s * (.41 + r * .13), s * .11, s * .09),
                              s * .015, s * .015)


def draw_house(ill: Any, p: QPainter, s: float) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(theme.PRIMARY))
    p.drawPolygon(QPolygonF([QPointF(s * .5, s * .14), QPointF(s * .88, s * .46),
                             QPointF(s * .12, s * .46)]))
    p.setBrush(QColor(LIGHT))
    p.drawRect(QRectF(s * .22, s * .44, s * .56, s * .40))
    p.setBrush(QColor(theme.PRIMARY_DARK))
    p.drawRoundedRect(QRectF(s * .43, s * .60, s * .14, s * .24), s * .02, s * .02)
    p.setBrush(QColor(theme.ACCENT))
    p.drawRect(QRectF(s * .28, s * .52, s * .10, s * .10))
    p.drawRect(QRectF(s * .62, s * .52, s * .10, s * .10))


def draw_clock(ill: Any, p: QPainter, s: float) -> None:
    p.setBrush(QColor("#FFFFFF"))
    p.setPen(_pen(ill, theme.PRIMARY, s * .05))
    p.drawEllipse(QRectF(s * .15, s * .15, s * .70, s * .70))
    p.setPen(_pen(ill, "#37474F", s * .045))
    p.drawLine(QPointF(s * .5, s * .5), QPointF(s * .5, s * .27))
    p.setPen(_pen(ill, theme.ACCENT, s * .035))
    p.drawLine(QPointF(s * .5, s * .5), QPointF(s * .68, s * .58))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#37474F"))
    p.drawEllipse(QRectF(s * .47, s * .47, s * .06, s * .06))


def draw_certificate(ill: Any, p: QPainter, s: float) -> None:
    p.setBrush(QColor("#FFFFFF"))
    p.setPen(_pen(ill, theme.PRIMARY, s * .02))
    p.drawRoundedRect(QRectF(s * .2, s * .1, s * .6, s * .8), s * .03, s * .03)
    p.setPen(_pen(ill, LIGHT, s * .03))
    for k in range(5):
        y = s * (.24 + k * .09)
        p.drawLine(QPointF(s * .3, y), QPointF(s * (.70 if k % 2 == 0 else .6), y))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.setPen(_pen(ill, "#C62828", s * .025))
    p.drawEllipse(QRectF(s * .52, s * .64, s * .2, s * .2))


def draw_guide(ill: Any, p: QPainter, s: float) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(theme.PRIMARY))
    p.drawRoundedRect(QRectF(s * .16, s * .16, s * .32, s * .66), s * .03, s * .03)
    p.setBrush(QColor(theme.PRIMARY_DARK))
    p.drawRoundedRect(QRectF(s * .52, s * .16, s * .32, s * .66), s * .03, s * .03)
    p.setPen(_pen(ill, LIGHT, s * .025))
    for k in range(4):
        y = s * (.3 + k * .11)
        p.drawLine(QPointF(s * .22, y), QPointF(s * .42, y))
        p.drawLine(QPointF(s * .58, y), QPointF(s * .78, y))


def draw_star(ill: Any, p: QPainter, s: float) -> None:
    import math

    pts = []
    for k in range(10):
        r = s * (.38 if k % 2 == 0 else .16)
        a = -math.pi / 2 + k * math.pi / 5
        pts.append(QPointF(s * .5 + r * math.cos(a), s * .52 + r * math.sin(a)))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(theme.ACCENT))
    p.drawPolygon(QPolygonF(pts))


DRAWINGS: dict[str, Callable[[Any, QPainter, float], None]] = {
    "calendar": draw_calendar, "house": draw_house, "clock": draw_clock,
    "certificate": draw_certificate, "guide": draw_guide, "star": draw_star,
}
