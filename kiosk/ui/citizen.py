"""A scripted citizen that uses the real kiosk widgets: for the headless demo and tests.

It waits for each screen, saves a screenshot, and taps what a citizen would tap
(real mouse events through QTest), so the demo exercises exactly what a person does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton, QWidget

from kiosk.ui.citizen_scripts import perform, script_for, steps_for
from kiosk.ui.main_window import MainWindow

log = logging.getLogger(__name__)

# What to tap, by screen kind. Identify and progress screens need no tap.
DEFAULT_SCRIPT: dict[str, list[str]] = {
    "consent": ["action-agree"],
    "preview": ["action-print"],
    "rating": ["star:5", "tag:0", "action-submit"],
    "result": ["action-done"],
    "error": ["action-home"],
}


# Verbs that change what a screen shows without leaving it (citizen_scripts.perform).
INPUT_VERBS = ("type", "key", "candidate", "field", "mode")


def find_button(root: QWidget, name: str) -> QPushButton | None:
    for b in root.findChildren(QPushButton, name):
        if b.isVisible() and b.isEnabled():
            return b
    return None


def tap(widget: QWidget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


class ScriptedCitizen(QObject):
    def __init__(self, win: MainWindow, flow_id: str, shots: Path | None,
                 on_done: Callable[[bool], None],
                 script: dict[str, list[str]] | None = None, delay_ms: int = 120,
                 inspect: Callable[[MainWindow, str], None] | None = None,
                 locale: str | None = None, elder: bool = False) -> None:
        super().__init__(win)
        self.inspect = inspect
        # Preferences the citizen chooses on the home screen, by tapping the header.
        self.want_locale, self.want_elder = locale, elder
        self.win, self.flow_id, self.shots, self.on_done = win, flow_id, shots, on_done
        self.script = script or script_for(flow_id, DEFAULT_SCRIPT)
        self.visits: dict[str, int] = {}  # per-flow scripts may differ per visit
        self.delay_ms = delay_ms
        self.seen: list[str] = []
        self.flow_started = False
        self.prepared = False
        self.ended: str | None = None
        self.errors: list[str] = []
        win.screenShown.connect(self._on_screen)
        win.sessionEnded.connect(self._on_ended)
        if shots:
            shots.mkdir(parents=True, exist_ok=True)

    def _on_ended(self, reason: str) -> None:
        self.ended = reason

    def _on_screen(self, name: str) -> None:
        QTimer.singleShot(self.delay_ms, lambda: self._act(name))

    def _act(self, name: str) -> None:
        if name != self.win.current_screen:
            return  # already replaced: nothing to look at or tap
        self.seen.append(name)
        if self.inspect is not None:
            self.inspect(self.win, name)
        self._shot(name)
        if name == "attract":
            if self.flow_started:
                self.on_done(self.ended == "completed")
                return
            tap(self.win.attract.touch)
        elif name == "home" or name.startswith("catalog."):
            if self.flow_started:
                self.on_done(self.ended == "completed")
                return
            if self.want_locale and self.win.ui_locale != self.want_locale:
                tap(self.win.chrome_buttons[f"lang-{self.want_locale}"])
                return  # the home screen is announced again in the new language
            if self.want_elder != self.win.elder:
                tap(self.win.chrome_buttons["elder"])
                return
            if not self.prepared:  # once, however many catalog pages the way takes
                self.prepared = True
                for step in self.script.get("start", []):
                    perform(self.win, step)
            # One touch at a time, like a person: a category, a page turned, the service;
            # each new page of the catalog is announced and brings the next touch.
            target, is_service = self.win.home.next_tap(self.flow_id)
            self.flow_started = is_service
            tap(target)
        else:
            kind = name.rsplit(".", 1)[-1]
            if kind == "error":
                shown = self.win.flow_view.step_screen
                self.errors.append(shown.text if shown else name)
            entered = False
            for step in steps_for(self.script, name, self.visits):
                if entered and step.startswith("action-"):
                    # Look again with what was typed or picked (candidates shown, a
                    # stepper moved) before the screen is left.
                    if self.inspect is not None:
                        self.inspect(self.win, f"{name}+input")
                    self._shot(f"{name}+input")
                self._tap_named(step)
                entered = entered or step.split(":")[0] in INPUT_VERBS

    def _shot(self, name: str) -> None:
        if self.shots is not None:
            slug = re.sub(r"[^A-Za-z0-9_.+-]+", "_", name)
            self.win.grab().save(str(self.shots / f"{len(self.seen):02d}-{slug}.png"))

    def _tap_named(self, step: str) -> None:
        if perform(self.win, step):
            return
        view = self.win.flow_view
        if step.startswith("star:"):
            n = int(step.split(":")[1])
            stars = [b for b in view.findChildren(QPushButton, "star")
                     if int(b.property("stars")) == n]
            if stars:
                tap(stars[0])
            return
        if step.startswith("tag:"):
            tags = view.findChildren(QPushButton, "tag")
            k = int(step.split(":")[1])
            if k < len(tags):
                tap(tags[k])
            return
        b = find_button(view, step)
        if b is None:
            log.warning("scripted citizen: no button %s on %s", step, self.win.current_screen)
            return
        tap(b)
