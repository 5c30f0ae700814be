"""Small reusable widgets."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget


class WrapLabel(QLabel):
    """A word-wrapping label whose minimum is one line: its real height comes from
    heightForWidth. (QLabel's own minimum guesses a narrow width and asks for far too
    much height, which made fixed-size kiosk windows grow past the panel.)"""

    def minimumSizeHint(self) -> QSize:
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


class WrapButton(QPushButton):
    """A button whose text wraps onto more lines (a long service name in English in elder
    mode) instead of widening the button past the panel. The text is a label inside it;
    the button's accessible name carries it for screen readers and probes."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = WrapLabel(text)
        self.caption.setObjectName("buttonText")
        self.caption.setWordWrap(True)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAccessibleName(text)
        lay = self._lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 8, 12, 8)
        lay.addWidget(self.caption)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        m = self._lay.contentsMargins()
        need = self.caption.heightForWidth(width - m.left() - m.right()) + m.top() + m.bottom()
        return max(need, self.minimumSizeHint().height())

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(self.caption.minimumSizeHint().width() + 24, hint.height())

    def sizeHint(self) -> QSize:
        return QSize(self.caption.sizeHint().width() + 24, super().sizeHint().height())


def wrap_button(text: str, name: str, *, primary: bool = False) -> WrapButton:
    b = WrapButton(text)
    b.setObjectName(name)
    b.setProperty("primary", "true" if primary else "false")
    b.caption.setProperty("primary", "true" if primary else "false")
    return b


def set_flag(widget: QWidget, prop: str, on: bool) -> None:
    """Set a boolean style property and re-polish so the style sheet applies it."""
    widget.setProperty(prop, "true" if on else "false")
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def mark_foreign(widget: QWidget, text: object) -> QWidget:
    """Platform text with no version in the citizen's language is shown as the platform
    gives it: not a translation defect (the layout check lets it be), and the screen says
    so (`screen.foreign_data`)."""
    if getattr(text, "foreign", False):
        widget.setProperty("anyLanguage", True)
        widget.setProperty("foreign", True)
    return widget
