"""Start the Qt application: window size, fonts, runtime, backend; run the event loop."""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QFont, QGuiApplication, QScreen
from PySide6.QtWidgets import QApplication

from kiosk.runtime import Runtime
from kiosk.ui import theme
from kiosk.ui.main_window import MainWindow
from kiosk.voice import VoiceGuide

log = logging.getLogger(__name__)


def has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal")):
        return False
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


_QT_NOISE = ("propagateSizeHints",)
_qt_log = logging.getLogger("qt")


def _qt_message(kind: QtMsgType, _context: object, message: str) -> None:
    if any(n in message for n in _QT_NOISE):
        return
    level = logging.WARNING if kind in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg,
                                        QtMsgType.QtFatalMsg) else logging.DEBUG
    _qt_log.log(level, "%s", message)


def ensure_app(headless: bool) -> QApplication:
    if headless:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    qInstallMessageHandler(_qt_message)
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    if not isinstance(app, QApplication):  # a QCoreApplication cannot show widgets
        raise TypeError(f"the kiosk needs a QApplication, {type(app).__name__} exists")
    font = QFont(theme.FONT_FAMILIES[0])
    font.setStyleHint(QFont.StyleHint.SansSerif)
    app.setFont(font)
    return app


def build_window(runtime: Runtime, size: QSize | None = None,
                 voice_dir: Path | None = None) -> MainWindow:
    """The main window; `voice_dir` records spoken prompts as WAV files instead of playing."""
    cfg = runtime.config.ui
    if size is None:
        screen = QGuiApplication.primaryScreen()
        if cfg.fullscreen and screen is not None and has_display():
            size = screen.size()
        else:
            size = QSize(cfg.width, cfg.height)
    voice = VoiceGuide(enabled=cfg.voice, rate=cfg.voice_rate, sink_dir=voice_dir)
    win = MainWindow(runtime, size, voice=voice)
    if cfg.hide_cursor:
        win.setCursor(Qt.CursorShape.BlankCursor)
    return win


def show_full_screen(win: MainWindow) -> None:
    """Fill the screen we are given and keep filling it.

    A window manager or a kiosk compositor (cage) honours showFullScreen(); a bare X
    server (`xinit … kiosk run`, no window manager) ignores it and would leave the window
    at its own size in a corner, so the window is also placed over the screen's whole
    geometry, and placed again when the resolution or the screen changes. The layout
    follows the window's real size (`MainWindow.follow_size`).
    """
    win.follow_size = True
    screen = win.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        screen.geometryChanged.connect(lambda _g: win.fill_screen())

    def follow(s: QScreen) -> None:  # a new primary screen: fill it, and follow its changes
        s.geometryChanged.connect(lambda _g: win.fill_screen())
        win.fill_screen()

    app = QGuiApplication.instance()
    if isinstance(app, QGuiApplication):
        app.primaryScreenChanged.connect(follow)
    win.fill_screen()
    win.showFullScreen()


def run_kiosk(runtime: Runtime) -> int:
    """The kiosk with a display: full screen, simulated or real devices."""
    app = ensure_app(headless=False)
    runtime.start_backend()
    runtime.start_package_updates()
    # Device open may block on real hardware: never on the UI thread.
    threading.Thread(target=runtime.open_devices, daemon=True, name="devices-open").start()
    win = build_window(runtime)
    from kiosk.ui.operations import Operations

    ops = Operations(app, runtime, win)  # lockdown, watchdog, nightly restart, heartbeats
    from kiosk.ui import probe

    win.probe = probe.install(win)  # type: ignore[attr-defined]  # $KIOSK_UI_PROBE, tests
    if runtime.config.ui.fullscreen:
        show_full_screen(win)
    else:
        win.resize(runtime.config.ui.width, runtime.config.ui.height)
        win.show()
    try:
        return app.exec()
    finally:
        ops.stop()
        runtime.close()
