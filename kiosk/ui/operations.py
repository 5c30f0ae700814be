"""24/7 operation on the Qt side: lockdown, systemd watchdog, nightly restart, signals.

- `Lockdown`: no window close, no keyboard escape (Alt+F4, Alt+Tab, Ctrl+Q, Ctrl+W,
  Escape, the Super key, …), no context menus, cursor hidden on touch panels.
- `SystemdWatchdog`: READY=1 when the first screen is up, then WATCHDOG=1 from a QTimer
  on the event loop, so a frozen UI misses its keep-alives and systemd restarts it.
- `NightlyRestartTimer`: exits once a night inside the configured window, only while
  no citizen and no technician is at the terminal (systemd starts the kiosk again).
- `install_signal_handlers`: SIGTERM/SIGINT end the session cleanly and quit.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QCursor, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import QApplication, QWidget

from kiosk.maintenance.nightly import NightlyRestart
from kiosk.maintenance.sdnotify import Notifier, watchdog_interval_s

log = logging.getLogger(__name__)

K = Qt.Key
M = Qt.KeyboardModifier
_ALWAYS = {K.Key_Escape, K.Key_Meta, K.Key_Super_L, K.Key_Super_R, K.Key_Menu, K.Key_Hyper_L,
           K.Key_Hyper_R, K.Key_Close, K.Key_Exit, K.Key_Launch0, K.Key_Launch1,
           K.Key_LaunchMedia, K.Key_Explorer, K.Key_Terminal, K.Key_PowerOff, K.Key_Sleep,
           K.Key_Suspend, K.Key_Hibernate, K.Key_LogOff, K.Key_F11, K.Key_TaskPane,
           K.Key_TopMenu, K.Key_Standby}
_CTRL = {K.Key_Q, K.Key_W, K.Key_Escape, K.Key_Tab, K.Key_Backtab, K.Key_F4, K.Key_N, K.Key_T,
         K.Key_O, K.Key_P, K.Key_S}
_FUNCTION_KEYS = {getattr(K, f"Key_F{i}") for i in range(1, 13)}


def is_escape_key(key: int, mods: Any) -> bool:
    """Keys that would leave, close or switch away from the kiosk window."""
    k = K(key) if not isinstance(key, K) else key
    if k in _ALWAYS:
        return True
    if mods & M.MetaModifier:
        return True  # Super+anything: desktop shortcuts
    if mods & M.AltModifier and (k in _FUNCTION_KEYS or k in (K.Key_Tab, K.Key_Backtab,
                                                              K.Key_Space, K.Key_Escape)):
        return True
    # Ctrl+Q/W/…, Ctrl+Alt+anything (VT switch, Delete, Backspace)
    return bool(mods & M.ControlModifier and (k in _CTRL or mods & M.AltModifier))


_KEY_EVENTS = (QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.ShortcutOverride)


class Lockdown(QObject):
    """An application-wide event filter that keeps the citizen inside the kiosk."""

    def __init__(self, app: QApplication, window: QWidget, *, hide_cursor: bool) -> None:
        super().__init__(window)
        self.app, self.window, self.hide_cursor = app, window, hide_cursor
        self.allow_close = False
        self.blocked = 0
        self.engaged = False

    def engage(self) -> Lockdown:
        w = self.window
        flags = (w.windowFlags() | Qt.WindowType.FramelessWindowHint
                 | Qt.WindowType.WindowStaysOnTopHint) & ~Qt.WindowType.WindowCloseButtonHint
        if flags != w.windowFlags():
            # Changing flags re-creates (and hides) a shown window: show it again as it was.
            shown, state = w.isVisible(), w.windowState()
            w.setWindowFlags(flags)
            if shown:
                w.setWindowState(state)
                w.show()
        w.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.app.installEventFilter(self)
        if self.hide_cursor:
            QGuiApplication.setOverrideCursor(QCursor(Qt.CursorShape.BlankCursor))
        w.lockdown = self  # type: ignore[attr-defined]  # kept alive by the window
        self.engaged = True
        log.info("lockdown engaged (cursor %s)", "hidden" if self.hide_cursor else "shown")
        return self

    def release(self) -> None:
        """Allow the window to close (planned exit) and stop filtering."""
        self.allow_close = True
        if self.engaged:
            self.app.removeEventFilter(self)
            if self.hide_cursor:
                QGuiApplication.restoreOverrideCursor()
            self.engaged = False

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        et = event.type()
        if et in _KEY_EVENTS:
            ke: QKeyEvent = event  # type: ignore[assignment]
            if is_escape_key(ke.key(), ke.modifiers()):
                if et == QEvent.Type.KeyPress:
                    self.blocked += 1
                    log.info("lockdown: swallowed key %s", ke.keyCombination().toCombined())
                if et == QEvent.Type.ShortcutOverride:
                    event.accept()  # claim it, so no QShortcut fires; the KeyPress is eaten
                return True
        elif et == QEvent.Type.ContextMenu:
            self.blocked += 1
            return True
        elif et == QEvent.Type.Close and obj is self.window and not self.allow_close:
            event.ignore()
            return True
        return False


class SystemdWatchdog(QObject):
    """READY=1 once, then WATCHDOG=1 every half $WATCHDOG_USEC, from the Qt event loop."""

    def __init__(self, notifier: Notifier | None = None, env: Any = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.notifier = notifier or Notifier(env)
        self.interval_s = watchdog_interval_s(env)
        self.pings = 0
        self._ready = False
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.ping)
        if self.notifier.enabled and self.interval_s:
            self.timer.start(max(100, int(self.interval_s * 1000)))
            log.info("systemd watchdog: keep-alive every %.1fs", self.interval_s)

    def ready(self, *_args: object) -> None:
        if not self._ready:
            self._ready = True
            self.notifier.ready("serving citizens")
            self.ping()

    def ping(self) -> None:
        if self.notifier.watchdog():
            self.pings += 1

    def stopping(self, why: str) -> None:
        self.timer.stop()
        self.notifier.stopping(why)


class NightlyRestartTimer(QObject):
    """Checks every 30 s whether the nightly restart is due; calls `restart` once."""

    def __init__(self, schedule: NightlyRestart, busy: Callable[[], bool],
                 restart: Callable[[], None], *, started: datetime | None = None,
                 clock: Callable[[], datetime] = datetime.now, interval_ms: int = 30_000,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.schedule, self.busy, self.restart, self.clock = schedule, busy, restart, clock
        self.started = started or clock()
        self.fired = False
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        if schedule.at is not None:
            self.timer.start(interval_ms)

    def check(self) -> bool:
        if self.fired or not self.schedule.due(self.clock(), self.started, self.busy()):
            return False
        self.fired = True
        self.timer.stop()
        log.warning("nightly restart: the kiosk exits now (between sessions)")
        self.restart()
        return True


def install_signal_handlers(app: QApplication, on_quit: Callable[[], None]) -> QTimer:
    """SIGTERM (systemctl stop) and SIGINT quit cleanly through `on_quit` on the UI thread.

    Python runs signal handlers only between bytecodes; a short no-op timer gives the
    interpreter that chance while Qt waits in C++.
    """

    def handler(signum: int, _frame: object) -> None:
        log.warning("signal %s: quitting", signal.Signals(signum).name)
        QTimer.singleShot(0, on_quit)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    tick = QTimer(app)
    tick.timeout.connect(lambda: None)
    tick.start(250)
    return tick


class Operations:
    """Everything `kiosk run` adds around the window for unattended operation."""

    def __init__(self, app: QApplication, runtime: Any, win: Any) -> None:
        from kiosk.heartbeat import Heartbeat

        cfg = runtime.config
        self.app, self.runtime, self.win = app, runtime, win
        self.lockdown = (Lockdown(app, win, hide_cursor=cfg.ui.hide_cursor).engage()
                         if cfg.operations.lockdown else None)
        if self.lockdown is None and cfg.ui.hide_cursor:
            QGuiApplication.setOverrideCursor(QCursor(Qt.CursorShape.BlankCursor))
        self.watchdog = SystemdWatchdog(parent=win)
        win.screenShown.connect(self.watchdog.ready)
        # A planned restart needs a supervisor to start us again: only under systemd.
        self.nightly = NightlyRestartTimer(
            NightlyRestart.from_config(cfg.operations), self.busy,
            lambda: self.quit("nightly restart"), parent=win) \
            if self.watchdog.notifier.enabled else None
        maint = getattr(win, "maintenance", None)
        if maint is not None:
            maint.restartRequested.connect(lambda: self.quit("restart from maintenance"))
        from kiosk.ui.remote import QtHost

        self.remote = QtHost(win, self)  # remote commands' screen side
        self.heartbeat = Heartbeat(runtime, status=lambda: {"maintenance": self.in_maintenance()},
                                   host=self.remote)
        self.remote.attach(self.heartbeat.commands)
        self.heartbeat.start()
        self.signal_tick = install_signal_handlers(app, lambda: self.quit("signal"))
        self.quitting = False

    def in_maintenance(self) -> bool:
        maint = getattr(self.win, "maintenance", None)
        return bool(maint is not None and maint.is_open)

    def busy(self) -> bool:
        """Someone may be at the terminal: anything but the attract screen counts."""
        win = self.win
        if getattr(win, "session", None) is not None or self.in_maintenance():
            return True
        stack, attract = getattr(win, "stack", None), getattr(win, "attract", None)
        return stack is not None and attract is not None and stack.currentWidget() is not attract

    def quit(self, why: str) -> None:
        if self.quitting:
            return
        self.quitting = True
        log.warning("kiosk exiting: %s", why)
        try:
            self.runtime.record("audit", {"event": "kiosk.exit", "reason": why,
                                          "terminal": self.runtime.config.terminal.id})
        except Exception:
            log.exception("audit of exit failed")
        self.watchdog.stopping(why)
        if self.lockdown is not None:
            self.lockdown.release()
        self.win.close()
        self.app.quit()

    def stop(self) -> None:
        self.heartbeat.stop()
        self.watchdog.notifier.close()
