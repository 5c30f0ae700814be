"""On-screen keyboard: pinyin for Chinese, letters, and digit pads for numbers/ID numbers.

There is no physical keyboard on a kiosk. Keys are large touch targets sized by the
theme (taller in elder mode) and always fill the width they are given: every key of a
row the same width, rows indented like a real keyboard, so nothing is ever cut off at the
right edge. The candidate bar keeps its height whether or not it shows candidates, so the
keys never move under a finger while the citizen types. The pinyin input method
(kiosk.ime.pinyin) is loaded on a worker thread the first time a keyboard is shown, so
the UI never waits for it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from kiosk.i18n import Translator
from kiosk.ui import theme
from kiosk.ui.widgets import set_flag

MODES = ("pinyin", "letters", "digits", "id_number", "phone")
QWERTY = ("QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM")
PAGE = 7  # candidates per page at most (fewer when they do not fit the width)

_ime = None
_ime_lock = threading.Lock()
_ime_ready = threading.Event()


def _load_ime() -> None:
    global _ime
    from kiosk.ime.pinyin import PinyinIME

    ime = PinyinIME()
    ime.candidates("a")  # build the character index now, off the UI thread
    with _ime_lock:
        _ime = ime
    _ime_ready.set()


def preload_ime() -> None:
    """Start loading the input method in the background (idempotent)."""
    if not _ime_ready.is_set() and not getattr(preload_ime, "_started", False):
        preload_ime._started = True  # type: ignore[attr-defined]
        threading.Thread(target=_load_ime, daemon=True, name="ime-load").start()


class SizedButton(QPushButton):
    """A button of one size, whatever the style sheet's min-width/min-height say (its
    polish resets minimum sizes set in code; a size hint it cannot change)."""

    def __init__(self, text: str, size: QSize) -> None:
        super().__init__(text)
        self._size = size
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return self._size

    def minimumSizeHint(self) -> QSize:
        return self._size


@dataclass(frozen=True)
class Place:
    """A key's place in the grid, in key units: row, left edge, width."""

    row: int
    x: float
    w: float


class KeyGrid(QWidget):
    """Keys placed by hand in units of one key width: the grid always fills its width,
    every key of a row equally wide, and asks for exactly the height of its rows."""

    def __init__(self, m: theme.Metrics, columns: float, rows: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("keyGrid")
        self.m = m
        self.columns, self.rows = columns, rows
        self.gap = m.space(8)
        self.key_h = theme.target_minimum("key", m)[1]
        self.places: list[tuple[QPushButton, Place]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def add(self, key: QPushButton, place: Place) -> None:
        key.setParent(self)
        self.places.append((key, place))

    def _height(self) -> int:
        return self.rows * self.key_h + (self.rows - 1) * self.gap

    def minimumSizeHint(self) -> QSize:
        min_w = theme.target_minimum("key", self.m)[0]
        return QSize(int(self.columns * (min_w + self.gap) - self.gap), self._height())

    def sizeHint(self) -> QSize:
        return QSize(int(self.columns * self.m.px(110)), self._height())

    def resizeEvent(self, _event: object) -> None:
        unit = (self.width() + self.gap) / self.columns
        for key, p in self.places:
            x = round(p.x * unit)
            right = round((p.x + p.w) * unit) - self.gap
            key.setGeometry(x, p.row * (self.key_h + self.gap), max(1, right - x), self.key_h)


class OnScreenKeyboard(QWidget):
    """Candidate bar and keys. `entry` (the typed text) is a separate label the screen
    places where it fits best: above the keys in portrait, beside them in landscape."""

    textChanged = Signal(str)

    def __init__(self, m: theme.Metrics, mode: str = "pinyin", *, max_len: int = 0,
                 vocabulary: Iterable[str] = (), text: str = "", composing: str = "",
                 entry_outside: bool = False, t: Translator | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("keyboard")
        # Keys are used while the screen is: never under the fold of a scroll area.
        self.setProperty("mustShow", True)
        self.m = m
        self.t = t or Translator()
        self.mode = mode if mode in MODES else "pinyin"
        self.max_len = max_len
        self.text = text
        self.composing = composing if self.mode == "pinyin" else ""
        self.vocabulary = list(vocabulary)
        self._candidates: list[str] = []
        self._page = 0
        self._vocab_added = False
        preload_ime()
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(m.space(14))
        self.entry = QLabel()
        self.entry.setObjectName("kbEntry")
        self.entry.setProperty("anyLanguage", True)  # what the citizen typed, as typed
        self.entry.setTextFormat(Qt.TextFormat.RichText)
        self.entry.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.entry.setFixedHeight(m.px(84))
        if not entry_outside:
            v.addWidget(self.entry)
        # The candidate bar: always there (and always as high) on letter keyboards.
        self.cand_bar = QWidget()
        self.cand_bar.setObjectName("candidateBar")
        self.cand_bar.setFixedHeight(theme.target_minimum("button", m)[1])
        self.cand_row = QHBoxLayout(self.cand_bar)
        self.cand_row.setContentsMargins(0, 0, 0, 0)
        self.cand_row.setSpacing(m.space(8))
        v.addWidget(self.cand_bar)
        self.grid: KeyGrid | None = None
        self._layout = v
        self._build_keys()
        self._refresh()

    # -- building ------------------------------------------------------------------
    def _key(self, label: str, key: str, *, primary: bool = False) -> QPushButton:
        b = QPushButton(label)
        b.setObjectName("key")
        b.setProperty("key", key)
        b.setProperty("primary", "true" if primary else "false")
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        b.clicked.connect(lambda _=False, k=key: self.press(k))
        return b

    def _build_keys(self) -> None:
        if self.grid is not None:
            self._layout.removeWidget(self.grid)
            self.grid.setParent(None)
            self.grid.deleteLater()
        letters = self.mode in ("pinyin", "letters")
        self.cand_bar.setVisible(letters)
        if not letters:
            keys = [(d, d) for d in "123456789"]
            bottom = ["X" if self.mode == "id_number" else "", "0", "BACKSPACE"]
            grid = KeyGrid(self.m, 3, 4)
            for i, (label, key) in enumerate(keys):
                grid.add(self._key(label, key), Place(i // 3, i % 3, 1))
            for i, key in enumerate(bottom):
                if key:
                    grid.add(self._key("⌫" if key == "BACKSPACE" else key, key), Place(3, i, 1))
        else:
            grid = KeyGrid(self.m, 10, 4)
            for r, row in enumerate(QWERTY):
                indent = (10 - len(row)) / 2
                for i, ch in enumerate(row):
                    grid.add(self._key(ch if self.mode == "letters" else ch.lower(), ch),
                             Place(r, indent + i, 1))
            # The switch names the other input in its own script (like the language
            # buttons); Clear is a word of the screen's language.
            switch = "ABC" if self.mode == "pinyin" else "拼音"
            for label, key, x, w in ((switch, "SWITCH", 0, 1.5), ("␣", "SPACE", 1.5, 4.5),
                                     ("⌫", "BACKSPACE", 6, 2),
                                     (self.t("keyboard.clear"), "CLEAR", 8, 2)):
                b = self._key(label, key)
                if key == "SWITCH":
                    b.setProperty("anyLanguage", True)
                grid.add(b, Place(3, x, w))
        self.grid = grid
        self._layout.addWidget(grid)

    # -- behaviour -----------------------------------------------------------------
    def press(self, key: str) -> None:
        if key == "SWITCH":
            self.composing = ""
            self.mode = "letters" if self.mode == "pinyin" else "pinyin"
            self._build_keys()
        elif key == "BACKSPACE":
            if self.composing:
                self.composing = self.composing[:-1]
            else:
                self.text = self.text[:-1]
        elif key == "CLEAR":
            self.text, self.composing = "", ""
        elif key == "SPACE":
            if self.composing and self._candidates:
                self.choose(self._candidates[0])
                return
            if self.mode == "letters":
                self._append(" ")
        elif self.mode == "pinyin" and key.isalpha() and len(key) == 1:
            if len(self.composing) < 24:
                self.composing += key.lower()
            self._page = 0
        else:
            self._append(key)
        self._refresh()

    def _append(self, s: str) -> None:
        if self.max_len and len(self.text) + len(s) > self.max_len:
            return
        self.text += s

    def choose(self, candidate: str) -> None:
        from kiosk.ime.pinyin import PinyinIME

        used = PinyinIME.consumed(self.composing, candidate)
        self._append(candidate)
        self.composing = self.composing[used:]
        self._page = 0
        self._refresh()

    def _compute_candidates(self) -> list[str]:
        if self.mode != "pinyin" or not self.composing:
            return []
        if not _ime_ready.is_set():
            QTimer.singleShot(100, self._refresh)  # the input method is still loading
            return []
        with _ime_lock:
            ime = _ime
        if ime is None:
            return []
        if not self._vocab_added and self.vocabulary:
            ime.add_words(self.vocabulary)
            self._vocab_added = True
        return ime.candidates(self.composing)

    def _candidate_font(self) -> QFont:
        f = QFont(theme.FONT_FAMILIES[0])
        f.setPixelSize(self.m.px(38))
        return f

    def _pages(self, candidates: Sequence[str]) -> list[tuple[int, int]]:
        """Split the candidates into pages that fit the bar's width (at most PAGE each)."""
        fm = QFontMetrics(self._candidate_font())
        gap = self.m.space(8)
        arrow = theme.target_minimum("button", self.m)[0] + gap
        room = max(self.width(), self.minimumSizeHint().width()) - 2 * arrow
        pad = 2 * self.m.px(18) + 2 * self.m.px(2)
        pages: list[tuple[int, int]] = []
        start, used = 0, 0
        for i, c in enumerate(candidates):
            w = max(fm.horizontalAdvance(c) + pad, theme.target_minimum("button", self.m)[0])
            if i > start and (used + w > room or i - start >= PAGE):
                pages.append((start, i))
                start, used = i, 0
            used += w + gap
        if start < len(candidates):
            pages.append((start, len(candidates)))
        return pages

    def _clear_candidates(self) -> None:
        while self.cand_row.count():
            item = self.cand_row.takeAt(0)
            w = item.widget() if item is not None else None
            if w is not None:
                w.setParent(None)
                w.deleteLater()

    def _refresh(self) -> None:
        self._candidates = self._compute_candidates()
        shown = self.text.replace("&", "&amp;").replace("<", "&lt;")
        comp = f"<u>{self.composing}</u>" if self.composing else ""
        self.entry.setText(f"{shown}{comp}<span style='color:#0A5CAD'>▏</span>")
        self._clear_candidates()
        if self.mode == "pinyin":
            pages = self._pages(self._candidates)
            self._page = min(self._page, max(0, len(pages) - 1))
            start, end = pages[self._page] if pages else (0, 0)
            h = self.cand_bar.height()
            if self._page > 0:
                self.cand_row.addWidget(self._arrow("◀", "PREV", -1, h))
            fm = QFontMetrics(self._candidate_font())
            pad = 2 * self.m.px(18) + 2 * self.m.px(2)
            for c in self._candidates[start:end]:
                w = max(fm.horizontalAdvance(c) + pad, theme.target_minimum("button", self.m)[0])
                b = SizedButton(c, QSize(w, h))
                b.setObjectName("candidate")
                b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
                b.clicked.connect(lambda _=False, cc=c: self.choose(cc))
                self.cand_row.addWidget(b)
            self.cand_row.addStretch(1)
            if self._page < len(pages) - 1:
                self.cand_row.addWidget(self._arrow("▶", "NEXT", 1, h))
        self.textChanged.emit(self.text)

    def _arrow(self, text: str, key: str, delta: int, h: int) -> QPushButton:
        b = SizedButton(text, QSize(theme.target_minimum("button", self.m)[0], h))
        b.setObjectName("key")
        b.setProperty("key", key)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        b.clicked.connect(lambda: self._turn(delta))
        return b

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        if self._candidates:
            QTimer.singleShot(0, self._refresh)  # pages depend on the width

    def _turn(self, delta: int) -> None:
        self._page = max(0, self._page + delta)
        self._refresh()

    def candidates(self) -> list[str]:
        return list(self._candidates)

    def wait_ready(self, timeout: float = 10.0) -> bool:
        return _ime_ready.wait(timeout)


def set_key_flag(b: QPushButton, on: bool) -> None:
    set_flag(b, "on", on)
