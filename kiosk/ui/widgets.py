"""Small reusable widgets."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QWidget


class WrapLabel(QLabel):
    """A word-wrapping label whose minimum is one line: its real height comes from
    heightForWidth. (QLabel's own minimum guesses a narrow width and asks for far too
    much height, which made fixed-size kiosk windows grow past the panel.)"""

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        fm = self.fontMetrics()
        m = self.contentsMargins()
        return QSize(fm.horizontalAdvance("MMMM") + m.left() + m.right(),
                     fm.lineSpacing() + m.top() + m.bottom())


def label(text: str, name: str, *, wrap: bool = True, parent: QWidget | None = None) -> QLabel:
    lab = WrapLabel(text, parent) if wrap else QLabel(text, parent)
    lab.setObjectName(name)
    lab.setWordWrap(wrap)
    # Preferred (may shrink to its one-line minimum): layouts hand it its
    # heightForWidth; kiosk/ui/layout_check.py reports any label left too short.
    lab.setSizePolicy(QSizePolicy.Policy.Preferred,
                      QSizePolicy.Policy.Preferred if wrap else QSizePolicy.Policy.Minimum)
    return lab


def button(text: str, name: str, *, primary: bool = False,
           parent: QWidget | None = None) -> QPushButton:
    b = QPushButton(text, parent)
    b.setObjectName(name)
    b.setProperty("primary", "true" if primary else "false")
    return b


def set_flag(widget: QWidget, prop: str, on: bool) -> None:
    """Set a boolean style property and re-polish so the style sheet applies it."""
    widget.setProperty(prop, "true" if on else "false")
    widget.style().unpolish(widget)
    widget.style().polish(widget)
