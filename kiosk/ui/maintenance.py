"""Maintenance mode screens: hidden corner gesture, PIN pad / technician card, dashboard.

Five taps on the header's top-left corner within three seconds (configurable) open the
entry page: a touch digit pad for the technician PIN while the card readers wait for a
technician card. The dashboard lists every device with its live status (refreshed on a
worker thread), runs self-tests and test actions, exports logs and leaves. Every check
and device call runs off the UI thread; results come back through a queued signal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.devices.base import DeviceService
from kiosk.devices.idcard.api import CardReader
from kiosk.i18n import Translator
from kiosk.maintenance.access import AccessResult, MaintenanceAccess
from kiosk.maintenance.training import Training
from kiosk.runtime import Runtime
from kiosk.ui import theme, training
from kiosk.ui.maintenance_dashboard import Dashboard
from kiosk.ui.widgets import button, label
from kiosk.ui.workers import Relay, emit, run_async

log = logging.getLogger(__name__)

CARD_KINDS = ("idcard", "sscard")


class CornerTaps(QWidget):
    """An invisible hot spot: `taps` presses within `window_s` emit `triggered`."""

    triggered = Signal()

    def __init__(self, parent: QWidget, size_px: int, taps: int = 5, window_s: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self.setObjectName("maintenanceCorner")
        self.taps, self.window_s, self.clock = max(2, taps), window_s, clock
        self._times: list[float] = []
        self.setFixedSize(size_px, size_px)
        self.move(0, 0)
        self.raise_()

    def mousePressEvent(self, event: Any) -> None:
        now = self.clock()
        self._times = [t for t in self._times if 0 <= now - t <= self.window_s] + [now]
        if len(self._times) >= self.taps:
            self._times.clear()
            self.triggered.emit()
        event.accept()


class PinPad(QWidget):
    """Digits 0-9, delete, clear, OK, cancel; the PIN shows as dots only."""

    submitted = Signal(str)
    cancelled = Signal()

    def __init__(self, m: theme.Metrics, t: Translator, max_len: int = 12) -> None:
        super().__init__()
        self.setObjectName("pinPad")
        self.max_len = max_len
        self._digits = ""
        v = QVBoxLayout(self)
        v.setSpacing(m.px(16))
        self.dots = label("", "pinDots", wrap=False)
        self.dots.setAlignment(Qt.AlignmentFlag.AlignCenter)
        v.addWidget(self.dots)
        grid = QGridLayout()
        grid.setSpacing(m.px(10))
        keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "back"]
        for i, k in enumerate(keys):
            if k.isdigit():
                b = button(k, "pinDigit")
                b.setProperty("digit", k)
                b.clicked.connect(lambda _=False, d=k: self.press(d))
            else:
                b = button(t(f"maintenance.pin.{k}"), f"pin{k.capitalize()}")
                b.clicked.connect(self.clear if k == "clear" else self.backspace)
            b.setMinimumSize(m.px(150), m.px(theme.TARGETS["button"][1]))
            grid.addWidget(b, i // 3, i % 3)
        v.addLayout(grid)
        row = QHBoxLayout()
        cancel = button(t("common.cancel"), "pinCancel")
        cancel.clicked.connect(self._cancel)
        self.ok = button(t("maintenance.pin.ok"), "pinOk", primary=True)
        self.ok.clicked.connect(self._submit)
        row.addWidget(cancel)
        row.addWidget(self.ok)
        v.addLayout(row)
        self._render()

    def press(self, digit: str) -> None:
        if len(self._digits) < self.max_len:
            self._digits += digit
            self._render()

    def backspace(self) -> None:
        self._digits = self._digits[:-1]
        self._render()

    def clear(self) -> None:
        self._digits = ""
        self._render()

    def _render(self) -> None:
        self.dots.setText("●" * len(self._digits) or "—")
        self.ok.setEnabled(bool(self._digits))

    def _submit(self) -> None:
        pin, self._digits = self._digits, ""
        self._render()
        if pin:
            self.submitted.emit(pin)

    def _cancel(self) -> None:
        self.clear()
        self.cancelled.emit()


class MaintenanceView(QWidget):
    """The maintenance stack page: entry (PIN pad, card) then the dashboard."""

    left = Signal(str)  # reason
    screenChanged = Signal(str)  # "maintenance.entry" | "maintenance.dashboard"
    restartRequested = Signal()

    def __init__(self, runtime: Runtime, m: theme.Metrics,
                 access: MaintenanceAccess | None = None) -> None:
        super().__init__()
        self.setObjectName("maintenance")
        self.runtime, self.m = runtime, m
        self.t = Translator(runtime.config.terminal.locale)
        self.access = access or MaintenanceAccess(runtime.config, runtime.record)
        self.relay = Relay()
        self.relay.done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)
        self.setStyleSheet(_style(m))
        self._card_stop = threading.Event()
        self._checking = False
        self._last_activity = time.monotonic()

        self.pages = QStackedWidget(self)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(m.px(40), m.px(16), m.px(40), m.px(12))
        outer.addWidget(self.pages)
        self.entry = self._entry_page()
        self.training = Training(runtime)
        self.dashboard = Dashboard(runtime, m, self.t, self.access,
                                   training=self.training.available)
        self.dashboard.leaveRequested.connect(lambda: self.leave("leave"))
        self.dashboard.restartAppRequested.connect(self._restart_app)
        self.dashboard.trainingRequested.connect(self.show_training)
        self.pages.addWidget(self.entry)
        self.pages.addWidget(self.dashboard)
        # Training mode (simulated devices only): a page, and a dock pinned over the window.
        self.training_page: training.TrainingPage | None = None
        self.dock: training.TrainingDock | None = None
        if self.training.available:
            self.training_page = training.TrainingPage(self.training, m, self.t)
            self.training_page.backRequested.connect(self.show_dashboard)
            self.training_page.pinChanged.connect(self.set_training_pinned)
            self.pages.addWidget(self.training_page)

        self._idle = QTimer(self)
        self._idle.setInterval(1000)
        self._idle.timeout.connect(self._check_idle)
        self.installEventFilter(self)

    @property
    def is_open(self) -> bool:
        return self.access.is_open

    # -- entry -------------------------------------------------------------------------
    def _entry_page(self) -> QWidget:
        page = QWidget()
        v = QVBoxLayout(page)
        v.setSpacing(self.m.px(16))
        v.addWidget(label(self.t("maintenance.entry.title"), "maintTitle"))
        v.addWidget(label(self.t("maintenance.entry.hint"), "maintHint"))
        self.pin_message = label("", "maintMessage")
        v.addWidget(self.pin_message)
        self.pinpad = PinPad(self.m, self.t)
        self.pinpad.submitted.connect(self._check_pin)
        self.pinpad.cancelled.connect(lambda: self._close("cancel"))
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.pinpad, 2)
        row.addStretch(1)
        v.addLayout(row, 1)
        return page

    def begin(self) -> None:
        """Show the entry page and start waiting for a technician card."""
        if self.dock is not None:
            self.dock.hide()  # the maintenance page has the whole panel
        self.pinpad.clear()
        self._say_lock_state()
        self.pages.setCurrentWidget(self.entry)
        self._touch()
        self._idle.start()
        self._start_card_watch()
        self.screenChanged.emit("maintenance.entry")

    def _say_lock_state(self) -> None:
        st = self.access.pins.state()
        if st.outcome.value == "locked":
            self.pin_message.setText(self.t("maintenance.access.locked",
                                            minutes=max(1, round(st.retry_after_s / 60))))
        elif st.outcome.value == "not_set":
            self.pin_message.setText(self.t("maintenance.access.pin_not_set"))
        else:
            self.pin_message.setText("")

    def _check_pin(self, pin: str) -> None:
        if self._checking:
            return
        self._checking = True
        self.pin_message.setText(self.t("maintenance.entry.checking"))
        run_async(self.relay, "pin", lambda: self.access.enter_pin(pin))

    def _start_card_watch(self) -> None:
        self._card_stop = threading.Event()
        for kind in CARD_KINDS:
            dev = self.runtime.devices.get(kind)
            if isinstance(dev, CardReader):
                threading.Thread(target=self._watch_cards, args=(dev, self._card_stop),
                                 daemon=True, name=f"maint-card-{kind}").start()

    def _watch_cards(self, dev: CardReader, stop: threading.Event) -> None:
        """Read cards until stopped; after each card wait until it is taken away."""
        from kiosk.devices.base import Cancelled, DeviceError

        while not stop.is_set():
            try:
                ident = dev.read_identity(1.0, stop)
            except Cancelled:
                return
            except DeviceError:
                stop.wait(0.5)
                continue
            except Exception:
                log.exception("technician card read failed")
                stop.wait(2.0)
                continue
            if stop.is_set():
                return
            result = self.access.enter_card(ident)
            del ident
            if not emit(self.relay, "card", result):
                return
            if result.granted:
                return
            while not stop.is_set() and "card_present" in _details(dev):
                stop.wait(0.3)
            stop.wait(1.0)

    def _on_done(self, tag: str, result: Any) -> None:
        if tag in ("pin", "card"):
            if tag == "pin":
                self._checking = False
            if isinstance(result, AccessResult):
                self._on_access(result)
            else:
                self.pin_message.setText(self.t("maintenance.result.error"))

    def _on_access(self, res: AccessResult) -> None:
        if self.pages.currentWidget() is not self.entry or not self.isVisible():
            if res.granted:  # a card read that finished after the pad was closed
                self.access.leave("cancel")
            return
        if res.granted:
            self._card_stop.set()
            self.pages.setCurrentWidget(self.dashboard)
            self.dashboard.start(res)
            self.screenChanged.emit("maintenance.dashboard")
            return
        c = res.check
        if res.key == "maintenance.access.wrong_pin" and c is not None:
            text = self.t(res.key, left=c.attempts_left)
        elif res.key == "maintenance.access.locked" and c is not None:
            text = self.t(res.key, minutes=max(1, round(c.retry_after_s / 60)))
        else:
            text = self.t(res.key, card=res.who)
        self.pin_message.setText(text)

    # -- training mode (kiosk/ui/training.py) --------------------------------------------
    def show_training(self) -> None:
        if self.training_page is None or not self.access.is_open:
            return
        self.pages.setCurrentWidget(self.training_page)
        self.access.action("training", ok=True)
        self.screenChanged.emit("maintenance.training")

    def show_dashboard(self) -> None:
        self.pages.setCurrentWidget(self.dashboard)
        self.screenChanged.emit("maintenance.dashboard")

    def set_training_pinned(self, on: bool) -> None:
        """Keep the training panel over the kiosk window once maintenance mode is left."""
        if on and self.dock is None and self.training_page is not None:
            self.dock = training.TrainingDock(self.window(), self.training, self.m, self.t,
                                              training.style(self.m))
            self.dock.unpinRequested.connect(lambda: self.set_training_pinned(False))
            self.dock.set_expanded(False)
            self.dock.setVisible(not self.isVisible())  # shown once maintenance is left
        elif not on and self.dock is not None:
            self.dock.detach()
            self.dock = None
        if self.training_page is not None:
            self.training_page.set_pinned(on)
        self.access.action("training_pin" if on else "training_unpin", ok=True)

    # -- leaving -------------------------------------------------------------------------
    def leave(self, reason: str = "leave") -> None:
        self.access.leave(reason)
        self._close(reason)

    def _close(self, reason: str) -> None:
        self._card_stop.set()
        self._idle.stop()
        self.dashboard.stop()
        self._checking = False
        self.left.emit(reason)
        if self.dock is not None:
            self.dock.set_expanded(False)
            self.dock.show()

    def _restart_app(self) -> None:
        self.access.action("restart_app")
        self.leave("restart_app")
        self.restartRequested.emit()

    def _touch(self) -> None:
        self._last_activity = time.monotonic()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.MouseButtonPress, QEvent.Type.TouchBegin,
                            QEvent.Type.KeyPress):
            self._touch()
        return False

    def mousePressEvent(self, event: Any) -> None:
        self._touch()
        super().mousePressEvent(event)

    def _check_idle(self) -> None:
        limit = self.runtime.config.maintenance.idle_timeout_s
        if limit > 0 and time.monotonic() - self._last_activity > limit:
            log.info("maintenance mode idle for %.0fs: leaving", limit)
            if self.access.is_open:
                self.leave("idle")
            else:
                self._close("idle")


def _details(dev: DeviceService) -> frozenset[str]:
    try:
        return dev.status().details
    except Exception:  # noqa: BLE001 - a device that cannot say reads as no details
        return frozenset()


def _style(m: theme.Metrics) -> str:
    target = m.px(theme.TARGETS["button"][1])  # docs/accessibility.md: every touch target
    return training.style(m) + f"""
    #maintTitle {{ font-size: {m.px(40)}px; font-weight: bold; color: {theme.PRIMARY_DARK}; }}
    #maintHint, #maintInfo {{ font-size: {m.small}px; color: {theme.MUTED}; }}
    #maintMessage {{ font-size: {m.body}px; color: {theme.DANGER}; font-weight: bold; }}
    #pinDots {{ font-size: {m.px(44)}px; background: white;
                border-radius: {m.px(10)}px; padding: {m.px(6)}px; }}
    QPushButton#pinDigit {{ font-size: {m.px(44)}px; }}
    QPushButton#pinDigit, QPushButton#pinClear, QPushButton#pinBack, QPushButton#pinCancel,
    QPushButton#pinOk {{ min-height: {target}px; }}
    #deviceRow {{ background: white; border-radius: {m.px(12)}px; }}
    #deviceName {{ font-size: {m.body}px; font-weight: bold; }}
    #deviceState {{ font-size: {m.small}px; font-weight: bold; border-radius: {m.px(8)}px;
                    padding: {m.px(4)}px {m.px(10)}px; color: white; background: {theme.MUTED}; }}
    #deviceState[level="ok"] {{ background: {theme.OK}; }}
    #deviceState[level="warning"] {{ background: {theme.WARN}; }}
    #deviceState[level="fault"] {{ background: {theme.DANGER}; }}
    #deviceDetails, #maintReport {{ font-size: {m.small}px; }}
    #maintReport {{ background: white; border-radius: {m.px(10)}px; padding: {m.px(12)}px; }}
    QPushButton#devAction, QPushButton#maintAction, QPushButton#exportTarget {{
        font-size: {m.small}px; min-height: {target}px; min-width: {target}px;
        padding: 0 {m.px(14)}px;
        border-radius: {m.px(10)}px; }}
    QPushButton:disabled {{ color: #9AA5B1; border-color: #C5CDD6; background: #F1F3F5; }}
    """
