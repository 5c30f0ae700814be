"""The kiosk's single full-screen window: header, screens, footer, idle overlay."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.catalog.search import CatalogIndex, use_reading_cache
from kiosk.catalog.usage import UsageCounter
from kiosk.flows.context import FlowResult
from kiosk.flows.interaction import Pending
from kiosk.flows.screens import Response
from kiosk.i18n import LOCALES, Translator
from kiosk.runtime import Runtime
from kiosk.session import Session
from kiosk.ui import gc_guard, qt_i18n, theme
from kiosk.ui.assist.controller import AssistController
from kiosk.ui.bridge import FlowThread, QtInteraction, connect_queued
from kiosk.ui.card_reminder import CardReminder
from kiosk.ui.catalog_view import SearchWorker
from kiosk.ui.flow_view import FlowView
from kiosk.ui.home import AttractScreen, HomeScreen, Nav
from kiosk.ui.idle import IdleOverlay, IdleWatcher
from kiosk.ui.maintenance import CornerTaps, MaintenanceView
from kiosk.ui.widgets import label, set_flag
from kiosk.voice import VoiceGuide

log = logging.getLogger(__name__)

# Each language is offered in its own script, whatever the current language is.
LANG_LABELS = {"zh_CN": "简体", "zh_HK": "繁體", "en": "EN"}


class PanelStack(QStackedWidget):
    """Pages of a fixed-size panel: only the page on display may ask for room (a hidden
    maintenance page must not make the citizen's window taller than the screen)."""

    def minimumSizeHint(self) -> QSize:
        page = self.currentWidget()
        return page.minimumSizeHint() if page is not None else QSize(0, 0)

    def minimumSize(self) -> QSize:
        return self.minimumSizeHint()


class MainWindow(QMainWindow):
    # Emitted after a screen is on display: "attract", "home", "<flow>.<step>.<kind>".
    screenShown = Signal(str)
    sessionEnded = Signal(str)  # reason
    linkChanged = Signal(str)  # LinkState value, re-emitted on the UI thread

    def __init__(self, runtime: Runtime, size: QSize, voice: VoiceGuide | None = None) -> None:
        super().__init__()
        gc_guard.install()  # cyclic GC only on this (the GUI) thread
        self.runtime = runtime
        self.setObjectName("mainWindow")
        self.setWindowTitle("莞家政务")
        self.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.screen_size = size
        self.portrait = size.height() > size.width()
        # Set by `run_kiosk` for full screen: the window's real size decides the layout.
        self.follow_size = False
        self.default_locale = runtime.config.terminal.locale
        # Per-visit preferences: reset when the kiosk returns to the attract screen. Not
        # `self.locale`: that would hide QWidget.locale().
        self.ui_locale = self.default_locale
        self.elder = False
        self.voice = voice or VoiceGuide(enabled=False)
        self.m = theme.metrics_for(size.width(), size.height())
        self.session: Session | None = None
        self.flow_id = ""
        self.flow_thread: threading.Thread | None = None
        self.current_screen = ""
        self.t = runtime.package.translator(self.ui_locale)
        qt_i18n.install(self.t)

        self.bridge = QtInteraction()
        connect_queued(self.bridge.screenRequested, self._on_screen_requested)
        connect_queued(self.bridge.flowFinished, self._on_flow_finished)

        root = QWidget()
        root.setObjectName("root")
        self.root = root
        self.outer = QVBoxLayout(root)
        self.outer.setContentsMargins(0, 0, 0, 0)
        self.outer.setSpacing(0)
        self.header = QWidget()
        self.outer.addWidget(self.header)
        self.stack = PanelStack()
        self.attract = AttractScreen(self.m, self.t)
        self.home = HomeScreen(self.m, self.t)
        # The catalog (issue 17): services started here are counted (no personal data)
        # for the home screen's most used; the search index is made per package set.
        self.usage = UsageCounter(runtime.config.data_dir / "usage.sqlite")
        self._index: tuple[object, CatalogIndex] | None = None
        self.searcher = SearchWorker(self._search_index)
        self.flow_view = FlowView(self.m, lambda: self._translator())
        self.flow_view.answered.connect(self._on_answered)
        for w in (self.attract, self.home, self.flow_view):
            self.stack.addWidget(w)
        # Maintenance mode (issue 9): a hidden corner gesture opens it; flows wait meanwhile.
        self.maintenance = MaintenanceView(runtime, self.m)
        self.maintenance.left.connect(self._on_maintenance_left)
        self.maintenance.screenChanged.connect(self._announce)
        self.stack.addWidget(self.maintenance)
        self.outer.addWidget(self.stack, 1)
        self.footer = QWidget()
        self.outer.addWidget(self.footer)
        self.setCentralWidget(root)
        # Offline (issue 6): a banner while the platform is unreachable; tiles of flows
        # that need live data pause and re-enable by themselves.
        self.offline_banner = label(self.t("offline.banner"), "offlineBanner")
        self.offline_banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.offline_banner.hide()
        self.outer.insertWidget(1, self.offline_banner)
        # A card left in the reader when the session ends: remind until it is taken.
        self.card_banner = label("", "cardBanner")
        self.card_banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.card_banner.hide()
        self.outer.insertWidget(2, self.card_banner)
        self.card_reminder = CardReminder(runtime.devices, parent=self)
        self.card_reminder.changed.connect(self._on_card_left)
        self.linkChanged.connect(self._on_link_changed, Qt.ConnectionType.QueuedConnection)
        runtime.offline.subscribe_link(lambda state: self.linkChanged.emit(state.value))
        # A printer found empty (by the status poll or by a citizen's print) pauses the
        # services that need it, and a refilled one brings them back.
        runtime.subscribe_devices(lambda kind: self.linkChanged.emit(f"device:{kind}"))
        self._show_link_state()

        cfg = runtime.config.session
        self.idle = IdleWatcher(cfg.idle_timeout_s, cfg.countdown_s, self)
        # Any touch anywhere (an empty part of the screen too) counts as activity.
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self.idle)
        self.idle.countdown.connect(self._on_countdown)
        self.idle.expired.connect(self._on_idle_expired)
        self.idle.activity.connect(self._hide_overlay)
        self.overlay: IdleOverlay | None = None
        # Remote commands (kiosk/ui/remote.py): pages of their own (the out-of-service
        # notice), kept on a redraw, and what to show instead of the attract screen.
        self.remote_pages: list[QWidget] = []
        self.idle_page: Callable[[], bool] | None = None
        self._clock_timer = QTimer(self)
        self._clock_timer.timeout.connect(self._tick_clock)
        self._clock_timer.start(1000)
        # A staged package set is activated while nobody is at the terminal.
        self._package_timer = QTimer(self)
        self._package_timer.timeout.connect(self._apply_packages_when_idle)
        self._package_timer.start(5000)
        # Remote help (kiosk/ui/assist, docs/assist.md): only with an operations centre.
        self.assist: AssistController | None = None
        if runtime.config.assist.centre_url:
            self.assist = AssistController(self)
        self._build_chrome()
        self.show_attract()
        # The search index is built on the search thread once the home screen is up (a
        # second at 300 services), before any citizen types.
        QTimer.singleShot(3000, self, self.searcher.prepare)

    # -- preferences: language and elder-friendly mode, one tap from every screen ----
    def set_locale(self, locale: str) -> None:
        if locale in LOCALES and locale != self.ui_locale:
            self.ui_locale = locale
            if self.session is not None:
                self.session.locale = locale  # the flow's next screens too
            self._build_chrome()
            self._redraw_current(speak=True)

    def set_elder(self, on: bool) -> None:
        if on != self.elder:
            self.elder = on
            base = self.runtime.config.session
            factor = 2.0 if on else 1.0  # slower idle timeout for elder mode
            self.idle.timeout_s = base.idle_timeout_s * factor
            self.idle.countdown_s = min(base.countdown_s * factor, self.idle.timeout_s)
            self.idle.poke()
            self._build_chrome()
            self._redraw_current()

    def _redraw_current(self, speak: bool = False) -> None:
        """The screen on display, again in the current language and mode, at once (what
        the citizen entered on it is kept); the flow's next screens follow the session's
        locale. `speak`: say its prompt again (in the new language)."""
        if self.stack.currentWidget() is self.flow_view and self.flow_view.pending is not None:
            self.flow_view.redraw(self.portrait)  # the same step screen: not a new one
        else:
            self._announce(self.current_screen)
        if speak and self.session is not None and self.flow_view.step_screen is not None:
            s = self.flow_view.step_screen
            from kiosk.i18n import retranslate

            t = self._translator()
            self._say(str(retranslate(s.voice, t) or retranslate(s.title, t)))

    def set_screen_size(self, size: QSize) -> None:
        """Lay everything out again for a panel of `size` (a resolution change, a rotated
        panel, a compositor that gave us another output): metrics, chrome, the screen on
        display (keeping what the citizen entered)."""
        if size == self.screen_size or size.isEmpty():
            return
        log.info("panel is now %dx%d", size.width(), size.height())
        self.screen_size = size
        self.portrait = size.height() > size.width()
        self._build_chrome()
        self._redraw_current()

    def fill_screen(self) -> None:
        """Full screen: lay out for the screen's size first (so that no minimum size left
        from the old layout holds the window), then cover the screen."""
        screen = self.screen()
        if screen is None:
            return
        geometry = screen.geometry()
        self.set_screen_size(geometry.size())
        if self.geometry() != geometry:
            self.setGeometry(geometry)

    def _build_chrome(self) -> None:
        """(Re)build everything the citizen sees outside a flow step, in the current
        language and mode: header, footer, attract and home screens, idle overlay."""
        size = self.screen_size
        self.m = theme.metrics_for(size.width(), size.height(), self.elder)
        self.setStyleSheet(theme.stylesheet(self.m))
        self.t = self.runtime.package.translator(self.ui_locale)
        qt_i18n.install(self.t)
        self.flow_view.m = self.m
        self.flow_view.elder = self.elder
        on_home = self.stack.currentWidget() is self.home
        on_flow = self.stack.currentWidget() is self.flow_view \
            or self.stack.currentWidget() in getattr(self, "remote_pages", ())
        header, footer = self._header(), self._footer()
        self.outer.replaceWidget(self.header, header)
        self.outer.replaceWidget(self.footer, footer)
        for old in (self.header, self.footer):
            old.setParent(None)
            old.deleteLater()
        self.header, self.footer = header, footer
        self._attach_corner(header)
        header.show()
        attract = AttractScreen(self.m, self.t)
        # The new home screen shows the same place of the catalog (a category and its
        # page, what was typed in search) in the new language or mode.
        home = HomeScreen(self.m, self.t, portrait=self.portrait, nav=self.home.nav)
        attract.touched.connect(self.show_home)
        home.flowChosen.connect(self.start_flow)
        home.shown.connect(self._on_catalog_page)
        for old, new in ((self.attract, attract), (self.home, home)):
            index = self.stack.indexOf(old)
            self.stack.insertWidget(index, new)
            self.stack.removeWidget(old)
            old.setParent(None)
            old.deleteLater()
        self.attract, self.home = attract, home
        if not on_flow:
            self.stack.setCurrentWidget(self.home if on_home else self.attract)
        self.refresh_catalog()
        if self.overlay is not None:
            self.overlay.setParent(None)
            self.overlay.deleteLater()
        self.overlay = IdleOverlay(self.m, self.t, self.root)
        self.overlay.stay.connect(self.idle.poke)
        if getattr(self, "assist", None) is not None:
            self.assist.restyle()  # type: ignore[union-attr]

    # -- chrome ------------------------------------------------------------------
    def _header(self, rows: int | None = None) -> QWidget:
        """Title, clock and the citizen's controls (voice, elder mode, languages).

        One row where everything fits (wide landscape); else the controls get a row of
        their own; else (elder mode on a portrait panel) two rows of their own — the
        controls are never squeezed below their touch size or cut at the edge."""
        if rows is None:
            # 1: one row; 2: controls and clock on a second row; 4: controls on the second
            # row, the clock beside the title; 3: controls on two rows of their own.
            for n in (1, 2, 4, 3):
                if n == 1 and self.portrait:
                    continue
                h = self._header(rows=n)
                h.ensurePolished()
                for w in h.findChildren(QWidget):
                    w.ensurePolished()  # style-sheet fonts and paddings decide the width
                layout = h.layout()
                if layout is not None:
                    layout.invalidate()
                if n == 3 or h.sizeHint().width() <= self.screen_size.width():
                    return h
                h.deleteLater()
        tr = qt_i18n.tr
        h = QWidget(self.root)
        h.hide()
        h.setObjectName("header")
        h.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        px, space = self.m.px, self.m.space
        v = QVBoxLayout(h)
        v.setContentsMargins(space(40), space(14), space(40), space(14))
        v.setSpacing(space(10))
        top = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(0)
        titles.addWidget(label(tr("app.title"), "appTitle", wrap=False))
        if rows in (1, 4) or not self.elder:  # elder mode, narrow panel: room for controls
            titles.addWidget(label(tr("app.subtitle"), "appSubtitle", wrap=False))
        top.addLayout(titles)
        top.addStretch(1)
        self.chrome_buttons: dict[str, QPushButton] = {}
        voice: list[QPushButton] = []
        langs: list[QPushButton] = []

        def chrome(key: str, name: str, on: bool, slot: Callable[..., object],
                   group: list[QPushButton]) -> QPushButton:
            b = QPushButton(tr(key) if "." in key else key)
            b.setObjectName("chrome")
            b.setProperty("chromeId", name)
            set_flag(b, "on", on)
            b.clicked.connect(slot)
            group.append(b)
            self.chrome_buttons[name] = b
            return b

        if self.voice.available:
            chrome("chrome.replay", "voice-replay", False, self.voice.replay, voice)
            chrome("chrome.voice_on" if self.voice.enabled else "chrome.voice_off", "voice-toggle",
                   self.voice.enabled, self._toggle_voice, voice)
        chrome("chrome.elder_off" if self.elder else "chrome.elder_on", "elder", self.elder,
               lambda: self.set_elder(not self.elder), voice)
        for loc in LOCALES:
            b = chrome(LANG_LABELS[loc], f"lang-{loc}", loc == self.ui_locale,
                       lambda _=False, lc=loc: self.set_locale(lc), langs)
            b.setProperty("anyLanguage", True)  # each language offered in its own script

        def row_of(buttons: list[QPushButton], stretch: bool = True) -> QHBoxLayout:
            row = QHBoxLayout()
            row.setSpacing(space(12))
            if stretch:
                row.addStretch(1)
            for b in buttons:
                row.addWidget(b)
            return row

        self.clock = label("", "clock", wrap=False)
        self.clock.setProperty("anyLanguage", True)  # digits
        self.clock.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if rows == 1:
            top.addLayout(row_of(voice + langs, stretch=False))
            top.addSpacing(px(24))
            top.addWidget(self.clock)
            v.addLayout(top)
        elif rows == 2:  # the clock ends the row of controls; the title row stays low
            v.addLayout(top)
            first = row_of(voice + langs)
            first.addSpacing(space(24))
            first.addWidget(self.clock)
            v.addLayout(first)
        else:
            top.addWidget(self.clock)
            v.addLayout(top)
            if rows == 4:
                v.addLayout(row_of(voice + langs))
            else:
                v.addLayout(row_of(voice))
                v.addLayout(row_of(langs))
        if getattr(self, "assist", None) is not None:  # remote help where the clock was
            self.assist.replace_clock(h, self.clock)  # type: ignore[union-attr]
        self._tick_clock()
        return h

    # -- maintenance mode (kiosk/ui/maintenance.py) --------------------------------------
    def _attach_corner(self, header: QWidget) -> None:
        # Not `self.corner`: that would hide QMainWindow.corner().
        mc = self.runtime.config.maintenance
        self.corner_taps = CornerTaps(header, self.m.px(120), mc.gesture_taps, mc.gesture_window_s)
        self.corner_taps.setProperty("hotspot", True)  # invisible: not checked as content
        self.corner_taps.triggered.connect(self.open_maintenance)

    def open_maintenance(self) -> None:
        """The technician's gesture: the PIN pad, never in the middle of a citizen's visit."""
        if self.session is not None or self.stack.currentWidget() is self.maintenance:
            return
        self.idle.arm(False)
        self._hide_overlay()
        self.header.setEnabled(False)
        self.stack.setCurrentWidget(self.maintenance)
        self.maintenance.begin()

    def _on_maintenance_left(self, _reason: str) -> None:
        self.header.setEnabled(True)
        self.show_attract()

    def _toggle_voice(self) -> None:
        self.voice.set_enabled(not self.voice.enabled)
        self._build_chrome()
        self._announce(self.current_screen)

    def _footer(self) -> QWidget:
        f = QWidget()
        f.setObjectName("footer")
        f.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        lay = QHBoxLayout(f)
        lay.setContentsMargins(self.m.space(48), self.m.space(12), self.m.space(48),
                               self.m.space(12))
        # With remote help the footer points at the 求助 button (rather than at staff who may
        # not be there, a metro station at night) while the button is shown: the controller
        # sets the words with the button (kiosk/ui/assist/controller.py)
        self.footer_help = label(qt_i18n.tr("home.help"), "help")
        lay.addWidget(self.footer_help, 1)
        tid = label(self.runtime.config.terminal.id, "terminalId", wrap=False)
        tid.setProperty("anyLanguage", True)  # an identifier, not words
        if getattr(self, "assist", None) is not None:  # the time, where help left it room
            lay.addWidget(self.assist.footer_clock())  # type: ignore[union-attr]
        lay.addWidget(tid)
        return f

    def _tick_clock(self) -> None:
        now = datetime.now()
        self.clock.setText(f"{now:%H:%M}\n{now:%Y-%m-%d}")

    def _translator(self) -> Translator:
        locale = self.session.locale if self.session else self.ui_locale
        return self.runtime.package.translator(locale)

    def refresh_catalog(self) -> None:
        # The package set may have changed (kiosk.packages): new tiles need its strings.
        self.home.t = self.runtime.package.translator(self.ui_locale)
        flows = self.runtime.home_catalog()
        ids = [f.id for f in flows]
        # Elder mode: fewer, larger tiles (docs/accessibility.md); the home screen and the
        # category pages show as many rows as the panel has room for.
        self.home.set_catalog(flows, self.runtime.pause_reason, zones=self.runtime.package.zones,
                              most_used=self.usage.top(4 if self.elder else 6, among=ids),
                              search=self.searcher)
        self._show_link_state()

    def _search_index(self) -> CatalogIndex:
        """The search index of the package set on display (made again when it changes);
        called on the search thread only."""
        package = self.runtime.package
        if self._index is None:  # the titles' pinyin kept across starts (the first build)
            use_reading_cache(self.runtime.config.data_dir / "catalog_readings.json")
        if self._index is None or self._index[0] is not package:
            translators = {loc: package.translator(loc) for loc in LOCALES}
            zone_titles = {loc: {z.id: str(t(z.title)) for z in package.zones.values()}
                           for loc, t in translators.items()}
            self._index = (package, CatalogIndex.build(package.catalog(), translators,
                                                       zone_titles))
        return self._index[1]

    def _on_catalog_page(self, name: str, speech: str) -> None:
        """The citizen went to another page of the catalog (a category, search, a page
        turned): announced like a screen, its title said."""
        self.idle.poke()
        self._announce(name)
        if speech:
            self._say(speech)

    def apply_packages(self) -> bool:
        """Switch to a staged package set, only between citizens; redraw the tiles."""
        if self.session is not None or not self.runtime.apply_staged_packages():
            return False
        self.searcher.prepare()  # the new package set's index
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
        self.voice.stop()
        if self.home.nav != Nav():
            self.home.go_home()  # the next citizen starts at the top (and sees no query)
        if self.ui_locale != self.default_locale or self.elder:
            # The next citizen starts in the terminal's default language and mode.
            self.ui_locale, self.elder = self.default_locale, False
            base = self.runtime.config.session
            self.idle.timeout_s, self.idle.countdown_s = base.idle_timeout_s, base.countdown_s
            self._build_chrome()
        self.idle.arm(False)
        if self.idle_page is not None and self.idle_page():
            return  # out of service: the notice instead
        self.stack.setCurrentWidget(self.attract)
        self._announce("attract")

    def show_home(self) -> None:
        if self.runtime.out_of_service is not None:
            self.show_attract()  # no services while out of service
            return
        # The top of the catalog, with the most used counted up to now.
        self.home.nav = Nav()
        self.refresh_catalog()
        self.stack.setCurrentWidget(self.home)
        self.idle.arm(True)
        self._announce("home")
        self._say(qt_i18n.tr("home.title"))

    def _say(self, text: str) -> None:
        """Speak a prompt in the current language (voice.speak refuses personal data)."""
        self.voice.speak(text, self.session.locale if self.session else self.ui_locale)

    def _on_link_changed(self, _state: str) -> None:
        self.refresh_catalog()

    def _show_link_state(self) -> None:
        banner = getattr(self, "offline_banner", None)
        if banner is not None:
            banner.setText(self.t("offline.banner"))
            banner.setVisible(not self.runtime.online)

    def start_flow(self, flow_id: str) -> None:
        if self.session is not None:
            return  # one citizen, one flow at a time
        if self.maintenance.is_open or self.stack.currentWidget() is self.maintenance:
            return  # a technician is at work: citizens' flows wait
        flow = self.runtime.package.flows.get(flow_id)
        if flow is not None and self.runtime.flow_paused(flow):
            return  # needs the platform, which is unreachable: its tile says so
        log.info("starting flow %s", flow_id)
        self.usage.record(flow_id)  # a count per service; nothing about the citizen
        session = self.runtime.new_session(self.ui_locale)
        session.data["_elder"] = self.elder
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
        self._say(s.voice or s.title)

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
        if self.assist is not None:
            self.assist.end("idle" if reason == "idle" else "session_end")
        if self.session is not None:
            identity = self.session.identity
            source = identity.source.value if identity is not None else ""
            self.session.wipe(reason)
            self.bridge.cancel_all()
            self.session = None
            if source and reason != "shutdown":
                self.card_reminder.watch(source)
        self.flow_view.clear()
        self._hide_overlay()
        self.apply_packages()
        self.sessionEnded.emit(reason)

    # -- idle ------------------------------------------------------------------------
    def _on_countdown(self, seconds: int) -> None:
        if self.overlay is not None:
            self.overlay.show_seconds(seconds)

    def _hide_overlay(self) -> None:
        if self.overlay is not None and self.overlay.isVisible():
            self.overlay.hide()

    def _on_idle_expired(self) -> None:
        log.info("idle timeout on %s", self.current_screen)
        if self.assist is not None:
            self.assist.end("idle")
        if self.session is not None:
            self.session.end_reason = "idle"
            self._end_session("idle")
        self._hide_overlay()
        self.show_attract()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.follow_size and self.size() != self.screen_size:
            QTimer.singleShot(0, self.fill_screen)
        # Qt may resize the window before __init__ has made the overlay.
        overlay: IdleOverlay | None = getattr(self, "overlay", None)
        parent = overlay.parentWidget() if overlay is not None else None
        if overlay is not None and parent is not None and overlay.isVisible():
            overlay.setGeometry(parent.rect())

    def _on_card_left(self, source: str, present: bool) -> None:
        if present:
            text = self.t(f"card.left.{source}")
            self.card_banner.setText(text)
            self.card_banner.show()
            self._say(text)
        else:
            self.card_banner.hide()

    def closeEvent(self, event: QCloseEvent) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self.idle)
        self.card_reminder.stop()
        self._end_session("shutdown")
        self.usage.close()
        self.searcher.close()
        thread = self.flow_thread
        if thread is not None and thread.is_alive():
            thread.join(5.0)  # a cancelled flow ends in milliseconds; let it finish writing
        super().closeEvent(event)
