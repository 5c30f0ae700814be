"""The kiosk's single full-screen window: header, screens, footer, idle overlay."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.flows.engine import FlowResult
from kiosk.flows.interaction import Pending
from kiosk.flows.screens import Response
from kiosk.i18n import Translator
from kiosk.runtime import Runtime
from kiosk.session import Session
from kiosk.ui import theme
from kiosk.ui.bridge import FlowThread, QtInteraction, connect_queued
from kiosk.ui.flow_view import FlowView
from kiosk.ui.home import AttractScreen, HomeScreen
from kiosk.ui.idle import IdleOverlay, IdleWatcher
from kiosk.ui.widgets import label

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    # Emitted after a screen is on display: "attract", "home", "<flow>.<step>.<kind>".
    screenShown = Signal(str)
    sessionEnded = Signal(str)  # reason

    def __init__(self, runtime: Runtime, size: QSize) -> None:
        super().__init__()
        self.runtime = runtime
        self.setObjectName("mainWindow")
        self.setWindowTitle("莞家政务")
        self.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.m = theme.metrics_for(size.width(), size.height())
        self.portrait = size.height() > size.width()
        self.setStyleSheet(theme.stylesheet(self.m))
        self.session: Session | None = None
        self.flow_id = ""
        self.flow_thread: threading.Thread | None = None
        self.current_screen = ""
        self.t = runtime.package.translator(runtime.config.terminal.locale)

        self.bridge = QtInteraction()
        connect_queued(self.bridge.screenRequested, self._on_screen_requested)
        connect_queued(self.bridge.flowFinished, self._on_flow_finished)

        root = QWidget()
        root.setObjectName("root")
        outer = QVBoxLayout(root)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self._header())
        self.stack = QStackedWidget()
        self.attract = AttractScreen(self.m, self.t)
        self.attract.touched.connect(self.show_home)
        self.home = HomeScreen(self.m, self.t)
        self.home.flowChosen.connect(self.start_flow)
        self.flow_view = FlowView(self.m, lambda: self._translator())
        self.flow_view.answered.connect(self._on_answered)
        for w in (self.attract, self.home, self.flow_view):
            self.stack.addWidget(w)
        outer.addWidget(self.stack, 1)
        outer.addWidget(self._footer())
        self.setCentralWidget(root)
        self.refresh_catalog()
        self._package_timer = QTimer(self)
        self._package_timer.timeout.connect(self._apply_packages_when_idle)
        self._package_timer.start(5000)

        cfg = runtime.config.session
        self.idle = IdleWatcher(cfg.idle_timeout_s, cfg.countdown_s, self)
        self.idle.countdown.connect(self._on_countdown)
        self.idle.expired.connect(self._on_idle_expired)
        self.idle.activity.connect(self._hide_overlay)
        self.overlay = IdleOverlay(self.m, self.t, root)
        self.overlay.stay.connect(self.idle.poke)
        self.show_attract()

    # -- chrome ------------------------------------------------------------------
    def _header(self) -> QWidget:
        h = QWidget()
        h.setObjectName("header")
        h.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        lay = QHBoxLayout(h)
        lay.setContentsMargins(self.m.px(48), self.m.px(18), self.m.px(48), self.m.px(18))
        titles = QVBoxLayout()
        titles.setSpacing(0)
        titles.addWidget(label(self.t("app.title"), "appTitle", wrap=False))
        titles.addWidget(label(self.t("app.subtitle"), "appSubtitle", wrap=False))
        lay.addLayout(titles)
        lay.addStretch(1)
        self.clock = label("", "clock", wrap=False)
        lay.addWidget(self.clock)
        self._clock_timer = QTimer(self)
        self._clock_timer.timeout.connect(self._tick_clock)
        self._clock_timer.start(1000)
        self._tick_clock()
        return h

    def _footer(self) -> QWidget:
        f = QWidget()
        f.setObjectName("footer")
        f.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        lay = QHBoxLayout(f)
        lay.setContentsMargins(self.m.px(48), self.m.px(12), self.m.px(48), self.m.px(12))
        lay.addWidget(label(self.t("home.help"), "help"), 1)
        tid = label(self.runtime.config.terminal.id, "terminalId", wrap=False)
        lay.addWidget(tid)
        return f

    def _tick_clock(self) -> None:
        self.clock.setText(datetime.now().strftime("%Y-%m-%d  %H:%M"))

    def _translator(self) -> Translator:
        locale = self.session.locale if self.session else self.runtime.config.terminal.locale
        return self.runtime.package.translator(locale)

    def refresh_catalog(self) -> None:
        # The package set may have changed (kiosk.packages): new tiles need its strings.
        self.home.t = self.runtime.package.translator(self.runtime.config.terminal.locale)
        self.home.set_catalog(self.runtime.package.catalog(), 2 if self.portrait else 3)

    def apply_packages(self) -> bool:
        """Switch to a staged package set, only between citizens; redraw the tiles."""
        if self.session is not None or not self.runtime.apply_staged_packages():
            return False
        self.refresh_catalog()
        return True

    def _apply_packages_when_idle(self) -> None:
        if self.stack.currentWidget() is self.attract:
            self.apply_packages()

    # -- navigation ----------------------------------------------------------------
    def _announce(self, name: str) -> None:
        self.current_screen = name
        QTimer.singleShot(0, lambda: self.screenShown.emit(name))

    def show_attract(self) -> None:
        self.stack.setCurrentWidget(self.attract)
        if hasattr(self, "idle"):
            self.idle.arm(False)
        self._announce("attract")

    def show_home(self) -> None:
        self.stack.setCurrentWidget(self.home)
        self.idle.arm(True)
        self._announce("home")

    def start_flow(self, flow_id: str) -> None:
        if self.session is not None:
            return  # one citizen, one flow at a time
        log.info("starting flow %s", flow_id)
        session = self.runtime.new_session()
        self.session = session
        self.bridge.bind_session(session.cancel)
        self.flow_view.clear()
        self.stack.setCurrentWidget(self.flow_view)
        self.flow_id = flow_id
        self.flow_thread = FlowThread(
            flow_id, session, lambda: self.runtime.run_flow(flow_id, session, self.bridge),
            self.bridge)
        self.flow_thread.start()

    def _on_screen_requested(self, pending: Pending) -> None:
        if self.session is None or pending.event.is_set():
            return  # the session ended, or a newer screen superseded this one
        self._hide_overlay()
        self.flow_view.show_screen(pending, self.portrait)
        self.stack.setCurrentWidget(self.flow_view)
        self.idle.arm(pending.screen.idle)
        s = pending.screen
        self._announce(f"{self.flow_id}.{s.step_id}.{s.kind.value}")

    def _on_answered(self, pending: Pending, response: Response) -> None:
        self.idle.poke()
        self.bridge.respond(pending, response)

    def _on_flow_finished(self, session: Session, result: FlowResult) -> None:
        log.info("flow finished: %s %s", result.outcome, result.error_key)
        if session is not self.session:
            return  # that session already ended (idle timeout); its screen is gone
        self._end_session(result.outcome)
        self.show_home()

    def _end_session(self, reason: str) -> None:
        if self.session is not None:
            self.session.wipe(reason)
            self.bridge.cancel_all()
            self.session = None
        self.flow_view.clear()
        self._hide_overlay()
        self.apply_packages()
        self.sessionEnded.emit(reason)

    # -- idle ------------------------------------------------------------------------
    def _on_countdown(self, seconds: int) -> None:
        self.overlay.show_seconds(seconds)

    def _hide_overlay(self) -> None:
        if self.overlay.isVisible():
            self.overlay.hide()

    def _on_idle_expired(self) -> None:
        log.info("idle timeout on %s", self.current_screen)
        if self.session is not None:
            self.session.end_reason = "idle"
            self._end_session("idle")
        self._hide_overlay()
        self.show_attract()

    def resizeEvent(self, event: object) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)  # type: ignore[arg-type]
        if hasattr(self, "overlay") and self.overlay.isVisible():
            self.overlay.setGeometry(self.overlay.parentWidget().rect())

    def closeEvent(self, event: object) -> None:  # noqa: N802 (Qt API)
        self._end_session("shutdown")
        super().closeEvent(event)  # type: ignore[arg-type]
