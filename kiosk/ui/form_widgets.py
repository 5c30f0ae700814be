"""Widgets for FORM (touch steppers), KEYBOARD (on-screen keys) and INFO (rows, big text).

`add_form_widgets` adds what a screen needs under its text and returns a function
that reads the current value (for the answer), or None when the screen has no value.
Everything is a large touch target; nothing needs a physical keyboard.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.flows.screens import Field, Screen, ScreenKind
from kiosk.i18n import Translator
from kiosk.ui import theme
from kiosk.ui.widgets import button, label, mark_foreign, wrap_button

Getter = Callable[[], object]


def _month_index(text: str) -> int:
    return int(text[:4]) * 12 + int(text[5:7]) - 1


def _month_text(i: int) -> str:
    return f"{i // 12:04d}-{i % 12 + 1:02d}"


def field_display(f: Field, value: str, t: Translator) -> str:
    if f.kind == "month":
        return t("period.month_fmt", y=value[:4], m=value[5:7])
    if f.kind == "year":
        return t("period.year", year=value)
    return value


def _step_value(f: Field, value: str, delta: int) -> str:
    if f.kind == "month":
        i = _month_index(value) + delta
        return _month_text(min(max(i, _month_index(f.min)), _month_index(f.max)))
    n = int(value) + delta
    return str(min(max(n, int(f.min)), int(f.max)))


class Stepper(QWidget):
    """[−]  2025年03月  [+] : one value moved by touch, within its bounds."""

    def __init__(self, f: Field, m: theme.Metrics, t: Translator, stacked: bool = False
                 ) -> None:
        super().__init__()
        self.setObjectName(f"field-{f.id}")
        self.f, self.t, self.value = f, t, f.value
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(m.space(8))
        h = QHBoxLayout()
        h.setContentsMargins(0, 0, 0, 0)
        h.setSpacing(m.space(16))
        name = label(f.label, "fieldLabel", wrap=False)
        name.setStyleSheet(f"font-size: {m.body}px; color: {theme.MUTED};")
        if stacked:  # a narrow panel (portrait): the label above its − value + row
            outer.addWidget(name)
        else:
            name.setMinimumWidth(m.px(170))
            h.addWidget(name)
        outer.addLayout(h)
        self.minus = button("−", f"field-{f.id}-minus")
        self.plus = button("+", f"field-{f.id}-plus")
        for b in (self.minus, self.plus):
            b.setMinimumSize(m.px(96), m.px(88))
            b.setAccessibleName(f"{f.label} {b.text()}")
        self.shown = label("", "fieldValue", wrap=False)
        self.shown.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.shown.setMinimumWidth(m.px(250))
        self.shown.setStyleSheet(f"font-size: {m.px(40)}px; font-weight: bold;")
        h.addWidget(self.minus)
        h.addWidget(self.shown)
        h.addWidget(self.plus)
        h.addStretch(1)
        self.minus.clicked.connect(lambda: self.step(-1))
        self.plus.clicked.connect(lambda: self.step(1))
        self._refresh()

    def step(self, delta: int) -> None:  # not `move`: that is QWidget.move(x, y)
        self.value = _step_value(self.f, self.value, delta)
        self._refresh()

    def _refresh(self) -> None:
        self.shown.setText(field_display(self.f, self.value, self.t))
        self.minus.setEnabled(self.value != self.f.min)
        self.plus.setEnabled(self.value != self.f.max)


class CharPad(QWidget):
    """A pad of the given characters (e.g. A–E and 0–9 for a queue number)."""

    def __init__(self, chars: str, m: theme.Metrics, t: Translator, entry: str, max_len: int,
                 portrait: bool, *, entry_outside: bool = False) -> None:
        from kiosk.ui.keyboard import KeyGrid, Place

        super().__init__()
        self.setObjectName("charPad")
        self.setProperty("mustShow", True)  # used while on screen: never under the fold
        self.text, self.max_len = entry, max_len
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(m.space(14))
        self.entry = QLabel()
        self.entry.setObjectName("kbEntry")
        self.entry.setFixedHeight(m.px(84))
        self.entry.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.entry.setStyleSheet(f"font-size: {m.px(44)}px; font-weight: bold; "
                                 f"border: {m.px(2)}px solid #C9D6E3; padding: 0 {m.px(16)}px;")
        if not entry_outside:
            v.addWidget(self.entry)
        keys = [(c, c) for c in chars] + [("⌫", "BACKSPACE"), (t("keyboard.clear"), "CLEAR")]
        cols = 6 if portrait else 8
        grid = KeyGrid(m, cols, -(-len(keys) // cols))
        for i, (text, key) in enumerate(keys):
            b = QPushButton(text)
            b.setObjectName("key")
            b.setProperty("key", key)
            b.setStyleSheet("padding: 0;")
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.clicked.connect(lambda _=False, k=key: self.press(k))
            grid.add(b, Place(i // cols, i % cols, 1))
        v.addWidget(grid)
        self._refresh()

    def press(self, key: str) -> None:
        if key == "BACKSPACE":
            self.text = self.text[:-1]
        elif key == "CLEAR":
            self.text = ""
        elif not self.max_len or len(self.text) < self.max_len:
            self.text += key
        self._refresh()

    def _refresh(self) -> None:
        self.entry.setText(self.text + "▏")


def big_number(text: str, m: theme.Metrics) -> QLabel:
    """One large emphasised text (a queue number), always on screen."""
    big = label(text, "bigText", wrap=False)
    big.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    big.setStyleSheet(f"font-size: {m.px(120)}px; font-weight: bold; color: {theme.PRIMARY};")
    big.setProperty("mustShow", True)
    big.setProperty("anyLanguage", True)  # a number such as A021
    return big


def _rows(s: Screen, m: theme.Metrics, facts: bool = False) -> QGridLayout:
    grid = QGridLayout()
    grid.setHorizontalSpacing(m.px(24))
    grid.setVerticalSpacing(m.px(10))
    for r, (name, value) in enumerate(s.rows):
        lab = label(name, "rowLabel", wrap=False)
        lab.setStyleSheet(f"font-size: {m.body}px; color: {theme.MUTED};")
        lab.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        val = mark_foreign(label(value, "rowValue"), value)
        val.setStyleSheet(f"font-size: {m.body}px;")
        if facts:  # a number and its facts (a queue ticket): all on screen, no scrolling
            lab.setProperty("mustShow", True)
            val.setProperty("mustShow", True)
        grid.addWidget(lab, r, 0)
        grid.addWidget(val, r, 1)
    grid.setColumnStretch(1, 1)
    return grid


def _option_buttons(s: Screen, m: theme.Metrics, portrait: bool,
                    answer: Callable[[str], None]) -> QGridLayout:
    grid = QGridLayout()
    grid.setSpacing(m.px(16))
    cols = 2 if portrait else (4 if len(s.options) >= 4 else max(1, len(s.options)))
    for i, opt in enumerate(s.options):
        b = wrap_button(opt.label, f"option-{opt.id}", primary=opt.primary)
        mark_foreign(b.caption, opt.label)
        b.clicked.connect(lambda _=False, oid=opt.id: answer(oid))
        grid.addWidget(b, i // cols, i % cols)
    return grid


def add_form_widgets(texts: QVBoxLayout, s: Screen, m: theme.Metrics, t: Translator,
                     portrait: bool, answer: Callable[[str], None], *, facts: bool = False
                     ) -> Getter | None:
    """Add the widgets of a FORM or INFO screen (and rows/big on any screen); the
    flow view draws KEYBOARD screens itself (keys must never scroll)."""
    getter: Getter | None = None
    if s.big:
        texts.addWidget(big_number(s.big, m))
    if s.kind == ScreenKind.INFO and s.options:  # tabs above what they switch
        texts.addLayout(_option_buttons(s, m, portrait, answer))
    if s.rows:
        texts.addLayout(_rows(s, m, facts or bool(s.big)))
    if s.kind == ScreenKind.FORM and s.fields:
        steppers = [Stepper(f, m, t, stacked=portrait) for f in s.fields]
        for st in steppers:
            texts.addWidget(st)

        def read_steppers() -> dict[str, object]:
            return {st.f.id: st.value for st in steppers}
        getter = read_steppers
    if s.kind == ScreenKind.FORM and s.options:  # presets below the steppers they set
        texts.addLayout(_option_buttons(s, m, portrait, answer))
    return getter
