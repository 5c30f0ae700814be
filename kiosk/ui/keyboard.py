"""On-screen keyboard: pinyin for Chinese, letters, and digit pads for numbers/ID numbers.

There is no physical keyboard on a kiosk. Keys are large touch targets sized by the
theme (larger in elder mode). The pinyin input method (kiosk.ime.pinyin) is loaded on
a worker thread the first time a keyboard is shown, so the UI never waits for it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from kiosk.ui import theme
from kiosk.ui.widgets import set_flag

MODES = ("pinyin", "letters", "digits", "id_number", "phone")
QWERTY = ("QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM")
PAGE = 7  # candidates per page

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


class OnScreenKeyboard(QWidget):
    textChanged = Signal(str)

    def __init__(self, m: theme.Metrics, mode: str = "pinyin", *, max_len: int = 0,
                 vocabulary: Iterable[str] = (), text: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("keyboard")
        self.m = m
        self.mode = mode if mode in MODES else "pinyin"
        self.max_len = max_len
        self.text = text
        self.composing = ""
        self.vocabulary = list(vocabulary)
        self._candidates: list[str] = []
        self._page = 0
        self._vocab_added = False
        preload_ime()
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(m.px(14))
        self.entry = QLabel()
        self.entry.setObjectName("kbEntry")
        self.entry.setTextFormat(Qt.TextFormat.RichText)
        self.entry.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.entry.setMinimumHeight(m.px(84))
        v.addWidget(self.entry)
        self.cand_row = QHBoxLayout()
        self.cand_row.setSpacing(m.px(8))
        v.addLayout(self.cand_row)
        self.keys_box = QVBoxLayout()
        self.keys_box.setSpacing(m.px(10))
        v.addLayout(self.keys_box)
        self._build_keys()
        self._refresh()

    # -- building ------------------------------------------------------------------
    def _key(self, label: str, key: str, *, wide: float = 1.0, primary: bool = False
             ) -> QPushButton:
        b = QPushButton(label)
        b.setObjectName("key")
        b.setProperty("key", key)
        b.setProperty("primary", "true" if primary else "false")
        b.setMinimumSize(int(self.m.px(80) * wide), self.m.px(88))
        b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        b.clicked.connect(lambda _=False, k=key: self.press(k))
        return b

    def _clear_layout(self, lay: QVBoxLayout | QHBoxLayout | QGridLayout) -> None:
        while lay.count():
            item = lay.takeAt(0)
            widget, sub = item.widget(), item.layout()
            if widget is not None:
                widget.setParent(None)
                widget.deleteLater()
            elif sub is not None:
                self._clear_layout(sub)  # type: ignore[arg-type]

    def _build_keys(self) -> None:
        self._clear_layout(self.keys_box)
        if self.mode in ("digits", "id_number", "phone"):
            grid = QGridLayout()
            grid.setSpacing(self.m.px(10))
            extra = "X" if self.mode == "id_number" else ""
            for i, d in enumerate("123456789"):
                grid.addWidget(self._key(d, d, wide=2.2), i // 3, i % 3)
            if extra:
                grid.addWidget(self._key(extra, extra, wide=2.2), 3, 0)
            grid.addWidget(self._key("0", "0", wide=2.2), 3, 1)
            grid.addWidget(self._key("⌫", "BACKSPACE", wide=2.2), 3, 2)
            self.keys_box.addLayout(grid)
            return
        for r, row in enumerate(QWERTY):
            h = QHBoxLayout()
            h.setSpacing(self.m.px(8))
            if r:
                h.addStretch(r)
            for ch in row:
                h.addWidget(self._key(ch if self.mode == "letters" else ch.lower(), ch))
            if r:
                h.addStretch(r)
            self.keys_box.addLayout(h)
        bottom = QHBoxLayout()
        bottom.setSpacing(self.m.px(8))
        switch = "EN" if self.mode == "pinyin" else "中"
        bottom.addWidget(self._key(switch, "SWITCH", wide=1.4))
        bottom.addWidget(self._key("␣", "SPACE", wide=4))
        bottom.addWidget(self._key("⌫", "BACKSPACE", wide=1.4))
        bottom.addWidget(self._key("清空" if self.mode == "pinyin" else "CLR", "CLEAR", wide=1.4))
        self.keys_box.addLayout(bottom)

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

    def _refresh(self) -> None:
        self._candidates = self._compute_candidates()
        shown = self.text.replace("&", "&amp;").replace("<", "&lt;")
        comp = f"<u>{self.composing}</u>" if self.composing else ""
        self.entry.setText(f"{shown}{comp}<span style='color:#0A5CAD'>▏</span>")
        self._clear_layout(self.cand_row)
        if self.mode == "pinyin":
            page = self._candidates[self._page * PAGE:(self._page + 1) * PAGE]
            if self._page > 0:
                prev = self._key("◀", "PREV")
                prev.clicked.disconnect()
                prev.clicked.connect(lambda: self._turn(-1))
                self.cand_row.addWidget(prev)
            for c in page:
                b = QPushButton(c)
                b.setObjectName("candidate")
                b.setMinimumHeight(self.m.px(76))
                b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
                b.clicked.connect(lambda _=False, cc=c: self.choose(cc))
                self.cand_row.addWidget(b)
            if len(self._candidates) > (self._page + 1) * PAGE:
                nxt = self._key("▶", "NEXT")
                nxt.clicked.disconnect()
                nxt.clicked.connect(lambda: self._turn(1))
                self.cand_row.addWidget(nxt)
            self.cand_row.addStretch(1)
        self.textChanged.emit(self.text)

    def _turn(self, delta: int) -> None:
        self._page = max(0, self._page + delta)
        self._refresh()

    def candidates(self) -> list[str]:
        return list(self._candidates)

    def wait_ready(self, timeout: float = 10.0) -> bool:
        return _ime_ready.wait(timeout)


def set_key_flag(b: QPushButton, on: bool) -> None:
    set_flag(b, "on", on)
