"""The screen side of remote commands (kiosk/fleet/commands.py) in the Qt kiosk.

- `QtHost`: the executor's `Host`. Every call from the executor's thread runs on the UI
  thread (a queued signal and a wait); `busy()` is a flag the UI thread keeps (a citizen
  or a technician at the terminal: anything but the attract screen, the out-of-service
  notice or the dark screen), and the UI thread checks again before anything disruptive
  (`HostBusy`: the command waits again).
- Screenshots: the window as drawn (`QWidget.grab`), with the citizen's area (the
  screen stack between header and footer: step screens, forms, previews, the camera
  view, the keyboard) painted over in one flat colour whenever the attract screen or the
  notice is not on display. Blanked, not refused: the header, footer and banners still
  tell ops what state the terminal is in (language, offline, a card left behind), and
  nothing drawn by a flow ever leaves the terminal.
- `OutOfServicePage`: the notice shown instead of the attract screen while the terminal
  is out of service: the title and the operator's message in the chosen language, and
  the same in the two other languages below; tiles and flows are paused by the runtime
  (`Runtime.out_of_service`). It survives a restart (the executor applies it at start).
- `ScreenSaver`: night hours (`screen_schedule`): between `off` and `on`, once nobody
  has touched the screen for the idle timeout, a black full-screen layer covers the
  window (and DPMS turns the panel off where the platform offers it: X11 with `xset`).
  A touch or a card put on a reader wakes it (the waking touch does nothing else); it
  sleeps again after the idle timeout.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from datetime import time as dtime
from typing import Any, TypeVar

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QEvent,
    QIODevice,
    QObject,
    QPoint,
    QRect,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QGuiApplication, QPainter
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from kiosk.fleet.commands import CommandFailed, HostBusy, Screenshot, Settings
from kiosk.i18n import LOCALES
from kiosk.ui.widgets import label
from kiosk.ui.workers import Relay, emit

log = logging.getLogger(__name__)

BLANK = QColor("#5F6B7A")  # the citizen's area in a screenshot taken while busy
UI_TIMEOUT_S = 10.0
T = TypeVar("T")
_WAKE_EVENTS = {QEvent.Type.MouseButtonPress, QEvent.Type.TouchBegin,
                QEvent.Type.MouseButtonDblClick}
_ACTIVITY = _WAKE_EVENTS | {QEvent.Type.KeyPress, QEvent.Type.TouchUpdate}
CARD_READERS = ("idcard", "sscard")


class QtHost(QObject):
    """Remote commands' access to the window (see the module's docstring)."""

    invoke = Signal(object)

    def __init__(self, win: Any, ops: Any = None) -> None:
        super().__init__(win)
        self.win, self.ops = win, ops
        self.executor: Any = None
        self.settings = Settings()
        self._ui_thread = threading.current_thread()
        self.invoke.connect(self._run, Qt.ConnectionType.QueuedConnection)
        self.notice = OutOfServicePage(win)
        win.stack.addWidget(self.notice)
        win.remote_pages.append(self.notice)
        win.idle_page = self._idle_page
        self.saver = ScreenSaver(win, self.busy_now)
        self._busy = self.busy_now()
        win.screenShown.connect(self._on_screen)
        win.sessionEnded.connect(lambda _r: self._on_screen(""))

    def attach(self, executor: Any) -> None:
        """The executor to wake when the terminal becomes free (pending commands)."""
        self.executor = executor

    # -- the UI thread -------------------------------------------------------------------
    def _run(self, job: Any) -> None:
        fn, box, done = job
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - carried to the waiting thread
            box["error"] = exc
        finally:
            done.set()

    def _call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the UI thread and return its value (or raise its exception)."""
        if threading.current_thread() is self._ui_thread:
            return fn()
        box: dict[str, Any] = {}
        done = threading.Event()
        self.invoke.emit((fn, box, done))
        if not done.wait(UI_TIMEOUT_S):
            raise CommandFailed("command.ui_timeout", f"the UI did not answer in {UI_TIMEOUT_S}s")
        if "error" in box:
            raise box["error"]
        return box["value"]

    def busy_now(self) -> bool:
        """On the UI thread: is anyone at the terminal?"""
        win = self.win
        if win.session is not None or win.maintenance.is_open:
            return True
        current = win.stack.currentWidget()
        return current is not win.attract and current is not self.notice

    def _on_screen(self, name: str) -> None:
        if name == "out_of_service":
            self.notice.show_for(self.win)
        was, self._busy = self._busy, self.busy_now()
        if was and not self._busy and self.executor is not None:
            self.executor.wake()

    def _idle_page(self) -> bool:
        """Instead of the attract screen: the notice while out of service."""
        if self.win.runtime.out_of_service is None:
            return False
        self.notice.show_for(self.win)
        self.win.stack.setCurrentWidget(self.notice)
        self.win._announce("out_of_service")
        return True

    # -- Host ----------------------------------------------------------------------------
    def busy(self) -> bool:
        return self._busy

    def can_restart(self) -> bool:
        ops = self.ops
        return ops is not None and bool(ops.watchdog.notifier.enabled)

    def restart(self, why: str) -> None:
        def now() -> None:
            if self.busy_now():
                raise HostBusy()
            self.ops.quit(why)

        self._call(now)

    def screenshot(self, fmt: str) -> Screenshot:
        return self._call(lambda: grab(self.win, self.busy_now(), fmt, self.notice,
                                       self.saver.dark))

    def apply(self, settings: Settings) -> None:
        self._call(lambda: self._apply(settings))

    def _apply(self, settings: Settings) -> None:
        win = self.win
        entering = settings.out_of_service is not None and \
            settings.out_of_service != self.settings.out_of_service
        if (entering or settings.volume != self.settings.volume) and win.session is not None:
            raise HostBusy()
        self.settings = settings
        if settings.volume is not None:
            win.voice.set_volume(settings.volume)
        self.saver.set_schedule(settings.screen_schedule)
        win.refresh_catalog()  # tiles paused (or back) with the runtime's out_of_service
        showing = win.stack.currentWidget() is self.notice
        if settings.out_of_service is not None and not self.busy_now():
            win.show_attract()  # shows the notice instead
        elif settings.out_of_service is None and showing:
            win.show_attract()
        elif showing:
            self.notice.show_for(win)


def grab(win: Any, busy: bool, fmt: str, notice: QWidget, dark: bool) -> Screenshot:
    """The window as drawn; the citizen's area painted over while `busy`."""
    pix = win.grab()
    blanked = False
    if busy and not dark:
        stack = win.stack
        area = QRect(stack.mapTo(win, QPoint(0, 0)), stack.size())
        painter = QPainter(pix)
        painter.fillRect(area, BLANK)
        painter.end()
        blanked = True
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    jpeg = fmt == "jpeg"
    if not pix.save(buf, "JPG" if jpeg else "PNG", 85 if jpeg else -1):
        raise CommandFailed("command.screenshot.encode", fmt)
    buf.close()
    screen = "screen_off" if dark else win.current_screen
    return Screenshot(bytes(data.data()), "image/jpeg" if jpeg else "image/png", pix.width(),
                      pix.height(), blanked, screen)


class OutOfServicePage(QWidget):
    """The notice for citizens: the chosen language first, the two others below."""

    def __init__(self, win: Any) -> None:
        super().__init__()
        self.setObjectName("outOfService")
        self.lay = QVBoxLayout(self)
        self.message: Mapping[str, str] = {}

    def show_for(self, win: Any) -> None:
        message = win.runtime.out_of_service or {}
        m, chosen = win.m, win.ui_locale
        while self.lay.count():
            item = self.lay.takeAt(0)
            w = item.widget() if item is not None else None
            if w is not None:
                w.setParent(None)
                w.deleteLater()
        self.lay.setContentsMargins(m.space(60), m.space(40), m.space(60), m.space(40))
        self.lay.setSpacing(m.space(24))
        self.setStyleSheet(
            f"#oosTitle {{ font-size: {m.title}px; font-weight: bold; color: #9A4F00; }}"
            f"#oosMessage {{ font-size: {m.body}px; }}"
            f"#oosHint {{ font-size: {m.small}px; }}"
            f"#oosOther {{ font-size: {m.small}px; color: #4A5968; }}")
        self.lay.addStretch(1)
        for locale in (chosen, *(lc for lc in LOCALES if lc != chosen)):
            t = win.runtime.package.translator(locale)
            first = locale == chosen
            title = label(t("remote.out_of_service.title"), "oosTitle" if first else "oosOther")
            text = label(message.get(locale, ""), "oosMessage" if first else "oosOther")
            hint = label(t("remote.out_of_service.hint"), "oosHint" if first else "oosOther")
            for w in (title, text, hint):
                w.setAlignment(Qt.AlignmentFlag.AlignCenter)
                if not first:
                    w.setProperty("anyLanguage", True)  # each in its own language
                self.lay.addWidget(w)
                w.show()  # at once (a layout shows a new child of a shown page later)
            self.lay.addSpacing(m.space(30))
        self.lay.addStretch(1)
        self.message = dict(message)


class ScreenSaver(QObject):
    """Night hours: a black layer once idle inside the window; touch or card wakes it."""

    cardArrived = Signal()

    def __init__(self, win: Any, busy: Callable[[], bool], *,
                 clock: Callable[[], datetime] = datetime.now, interval_ms: int = 1000) -> None:
        super().__init__(win)
        self.win, self.busy, self.clock = win, busy, clock
        self.schedule: tuple[dtime, dtime] | None = None
        self.dark = False
        self.last_activity = time.monotonic()
        self.cover = QWidget(win.root)
        self.cover.setObjectName("screenOff")
        self.cover.setProperty("layer", "screen_off")
        self.cover.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.cover.setStyleSheet("#screenOff { background: black; }")
        self.cover.hide()
        self._cards: set[str] | None = None  # readers holding a card when it went dark
        self._before = "attract"
        self._polling = False
        # The reader poll runs on a worker thread: it reports through a parentless relay
        # (kiosk.ui.workers) so that a poll finishing after the window closed emits on a
        # live object and Qt simply drops the delivery.
        self._relay = Relay()
        self._relay.done.connect(self._relayed, Qt.ConnectionType.QueuedConnection)
        self.cardArrived.connect(self._card_arrived)
        self.dpms = QGuiApplication.platformName() == "xcb" and shutil.which("xset") is not None
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)

    def set_schedule(self, pair: tuple[str, str] | None) -> None:
        if pair is None:
            self.schedule = None
            if self.dark:
                self.wake("schedule cleared")
            return
        off, on = (dtime(int(p[:2]), int(p[3:])) for p in pair)
        self.schedule = (off, on)

    def night(self) -> bool:
        if self.schedule is None:
            return False
        off, on = self.schedule
        now = self.clock().time()
        return off <= now < on if off < on else (now >= off or now < on)

    def idle_s(self) -> float:
        return time.monotonic() - self.last_activity

    def check(self) -> None:
        """Go dark or wake as the clock and the last touch say (every second)."""
        if self.dark:
            if not self.night():
                self.wake("morning")
            else:
                self.cover.setGeometry(self.win.root.rect())  # a panel resized meanwhile
                self._poll_cards()
            return
        timeout = self.win.runtime.config.session.idle_timeout_s
        if self.night() and not self.busy() and self.idle_s() >= timeout:
            self.sleep()

    def sleep(self) -> None:
        self.dark = True
        self._cards = None
        self._before = self.win.current_screen
        self.cover.setGeometry(self.win.root.rect())
        self.cover.show()
        self.cover.raise_()
        self.win.voice.stop()
        log.info("screen off (night hours)")
        self._dpms("off")
        self.win._announce("screen_off")

    def wake(self, why: str) -> None:
        if not self.dark:
            return
        self.dark = False
        self.cover.hide()
        self.last_activity = time.monotonic()
        log.info("screen on: %s", why)
        self._dpms("on")
        self.win._announce(self._before)

    def _dpms(self, state: str) -> None:
        if self.dpms:
            threading.Thread(target=subprocess.run, args=(["xset", "dpms", "force", state],),
                             kwargs={"check": False, "timeout": 5}, daemon=True).start()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        et = event.type()
        if et in _ACTIVITY:
            self.last_activity = time.monotonic()
            if self.dark and et in _WAKE_EVENTS:
                self.wake("touch")
                return True  # the waking touch presses nothing
        return False

    def _relayed(self, tag: str, _result: object) -> None:
        if tag == "card":
            self.cardArrived.emit()

    def _card_arrived(self) -> None:
        self.wake("card")

    def _poll_cards(self) -> None:
        if self._polling:
            return
        self._polling = True
        devices = {k: d for k in CARD_READERS
                   if (d := self.win.runtime.devices.get(k)) is not None}
        threading.Thread(target=self._read_cards, args=(devices,), daemon=True,
                         name="screen-off-cards").start()

    def _read_cards(self, devices: dict[str, Any]) -> None:
        try:
            present = set()
            for kind, dev in devices.items():
                try:
                    if "card_present" in dev.status().details:
                        present.add(kind)
                except Exception:  # a reader's fault keeps it dark
                    log.debug("screen off: %s status failed", kind, exc_info=True)
            if self._cards is None:
                self._cards = present  # a card left on a reader overnight wakes nothing
            elif present - self._cards:
                emit(self._relay, "card", None)
            else:
                self._cards &= present  # taken away: putting it back wakes the screen
        except RuntimeError:  # the window is gone
            pass
        finally:
            self._polling = False
