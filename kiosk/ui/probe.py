"""What is on the screen, written to a file for tests that drive the real app from outside.

With `$KIOSK_UI_PROBE` set to a path, the window writes (atomically, a few times a second
while something changes) the screen it shows, its geometry on the display, every visible
control with its centre in screen coordinates, the visible texts and what the layout check
finds. A test then clicks with real input events (xdotool on X, a compositor's own input
elsewhere) at those centres, the way an accessibility tree is used — the app is never
driven through its own methods. Names and texts are what the screen shows, which is
masked already; nothing else is written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QPoint, QTimer
from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget

from kiosk.ui.layout_check import layout_problems

ENV = "KIOSK_UI_PROBE"


def _centre(w: QWidget) -> tuple[int, int]:
    p = w.mapToGlobal(QPoint(w.width() // 2, w.height() // 2))
    return p.x(), p.y()


def snapshot(win: Any) -> dict[str, Any]:
    controls: list[dict[str, Any]] = []
    texts: list[str] = []
    for w in win.findChildren(QWidget):
        if not w.isVisible() or w.width() <= 0 or w.height() <= 0:
            continue
        if isinstance(w, QAbstractButton) or w.property("touchTarget"):
            controls.append({
                "name": w.objectName(),
                "text": (w.text() if isinstance(w, QAbstractButton) else "") or w.accessibleName(),
                "key": w.property("key") or "", "flow": w.property("flowId") or "",
                "enabled": w.isEnabled(), "centre": _centre(w), "size": (w.width(), w.height()),
            })
        if isinstance(w, QLabel) and w.text() and w.pixmap().isNull():
            texts.append(w.text())
    g = win.geometry()
    screen = win.screen()
    sg = screen.geometry() if screen is not None else g
    return {
        "screen": getattr(win, "current_screen", ""),
        "locale": getattr(win, "ui_locale", ""),
        "elder": bool(getattr(win, "elder", False)),
        "window": (g.x(), g.y(), g.width(), g.height()),
        "display": (sg.x(), sg.y(), sg.width(), sg.height()),
        "controls": controls,
        "texts": texts,
        "problems": layout_problems(win),
    }


class Probe(QObject):
    """Writes `snapshot(win)` to `path` whenever it changes (checked every 250 ms)."""

    def __init__(self, win: QWidget, path: Path) -> None:
        super().__init__(win)
        self.win, self.path = win, path
        self._last = ""
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.write)
        self._timer.start(250)

    def write(self) -> None:
        data = json.dumps(snapshot(self.win), ensure_ascii=False)
        if data == self._last:
            return
        self._last = data
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(data, encoding="utf-8")
        os.replace(tmp, self.path)


def install(win: QWidget) -> Probe | None:
    path = os.environ.get(ENV)
    return Probe(win, Path(path)) if path else None
