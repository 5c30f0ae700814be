"""Small reusable widgets."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QWidget


def label(text: str, name: str, *, wrap: bool = True, parent: QWidget | None = None) -> QLabel:
    lab = QLabel(text, parent)
    lab.setObjectName(name)
    lab.setWordWrap(wrap)
    lab.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
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
