"""The demo's assisted visit: the scripted citizen asks a hall agent for help.

At one step of the scripted certificate visit (the period) the citizen presses 求助,
agrees, waits for the agent, carries on with the call minimised, and when the agent
proposes a period the citizen looks at it and presses 确认. Once the agent has ended the
call the citizen goes on (确定 on the period screen) and the scripted visit finishes as
usual. Every touch is a real mouse event on the real widgets, like ScriptedCitizen's;
screenshots go next to the visit's (`assist-*.png`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QAbstractButton, QWidget

from kiosk.ui.assist.state import Phase
from kiosk.ui.citizen import tap
from kiosk.ui.main_window import MainWindow

log = logging.getLogger(__name__)

ASSIST_STEP = "ss_certificate.period.form"
POLL_MS = 200


class AssistedVisit(QObject):
    """Drives one help call at `screen`; `result` says how far it got ("" while running)."""

    def __init__(self, win: MainWindow, shots: Path | None, *, screen: str = ASSIST_STEP,
                 then: str = "action-confirm", timeout_s: float = 240.0,
                 on_failed: Callable[[str], None] | None = None) -> None:
        super().__init__(win)
        self.win, self.shots, self.screen, self.then = win, shots, screen, then
        self.timeout_s, self.on_failed = timeout_s, on_failed
        self.result = ""
        self.started_at = 0.0
        self.media_s: float | None = None  # help pressed -> the agent's picture or voice
        self._stage = 0
        self._stage_since = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        win.screenShown.connect(self._on_screen)

    # -- the stages -----------------------------------------------------------------------
    def _on_screen(self, name: str) -> None:
        if name == self.screen and not self.started_at and not self.result:
            self.started_at = time.monotonic()
            self._stage_since = self.started_at
            QTimer.singleShot(400, self._timer.start)  # like a person: look first

    def _stages(self) -> list[tuple[str, Callable[[], bool]]]:
        ctl = self.win.assist
        assert ctl is not None
        return [
            ("help", lambda: self._press(self.win, "assistHelp")),
            ("agree", lambda: self._shoot("assist-1-consent")
             and self._press(self.win, "action-assist-agree")),
            ("answered", lambda: ctl.state.phase == Phase.IN_CALL and ctl.state.media
             and self._media()),
            ("minimise", lambda: self._shoot("assist-2-in-call")
             and self._press(self.win, "action-assist-minimise")),
            ("proposal", lambda: ctl.banner is not None and self._shoot("assist-3-proposal")),
            ("confirm", lambda: ctl.banner is not None
             and self._press(ctl.banner, "action-assist-confirm")),
            ("ended", lambda: ctl.state.phase in (Phase.ENDED, Phase.IDLE)
             and self._shoot("assist-4-ended")),
            ("continue", lambda: ctl.state.phase == Phase.IDLE
             or self._press(self.win, "action-assist-continue")),
            ("back", lambda: ctl.state.phase == Phase.IDLE and self._shoot("assist-5-confirmed")
             and self._press(self.win.flow_view, self.then)),
        ]

    def _poll(self) -> None:
        stages = self._stages()
        name, step = stages[self._stage]
        if step():
            self._stage += 1
            self._stage_since = time.monotonic()
            log.info("assisted visit: %s", name)
            if self._stage == len(stages):
                self._timer.stop()
                self.result = "done"
            return
        if time.monotonic() - self._stage_since > self.timeout_s:
            self._timer.stop()
            self.result = f"stopped at {name}"
            self._shoot("assist-stopped")
            log.warning("assisted visit: no progress at %s after %.0f s", name, self.timeout_s)
            if self.on_failed is not None:
                self.on_failed(name)

    # -- helpers --------------------------------------------------------------------------
    def _press(self, root: QWidget, name: str) -> bool:
        for b in root.findChildren(QAbstractButton, name):
            if b.isVisible() and b.isEnabled():
                tap(b)
                return True
        return False

    def _shoot(self, name: str) -> bool:
        if self.shots is not None:
            self.shots.mkdir(parents=True, exist_ok=True)
            self.win.grab().save(str(self.shots / f"{name}.png"))
        return True

    def _media(self) -> bool:
        if self.media_s is None:
            self.media_s = round(time.monotonic() - self.started_at, 2)
        return True
