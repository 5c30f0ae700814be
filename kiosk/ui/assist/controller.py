"""The citizen's side of a help call, wired into the kiosk window.

Help button → consent → the call (kiosk.assist.engine.AssistCall, on its own thread;
its events come back on the UI thread through a Relay) → the overlay and call bar show
the state (kiosk/ui/assist/state.py). While a call is up the idle countdown is held;
the agent sees the screen through the mirror (kiosk/assist/mirror.py, at most once a
second, the JPEG encoded on a worker) and may propose a choice or a value, which the
citizen confirms (kiosk/assist/cofill.py) and which is then applied by pressing the
same buttons the citizen would. Camera and microphone are released when the call
ends, the session ends or the terminal idles out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QAbstractButton, QBoxLayout, QLabel, QLayout, QPushButton, QWidget

from kiosk.assist import mirror
from kiosk.assist.cofill import CoFill, Proposal, lock_of
from kiosk.flows.screens import Screen, ScreenKind
from kiosk.ui import qt_i18n
from kiosk.ui.assist import panels
from kiosk.ui.assist.callback import request_callback, valid_mobile
from kiosk.ui.assist.state import CONNECTED, LIVE, CallState, Phase, View, advance, describe
from kiosk.ui.assist.video import VideoView
from kiosk.ui.workers import Relay, run_async

# The kiosk window (kiosk.ui.main_window.MainWindow, which makes this controller: not
# imported here, not even for types, so the two modules do not import each other).
MainWindow = Any

log = logging.getLogger(__name__)

# The parts of a call the UI uses (kiosk.assist.engine.AssistCall has them).
CallFactory = Callable[[Any, Callable[[Any], None]], Any]  # (window, on_event) -> call
TICKET_FLOW = "queue_ticket"
RESEND_MS = 3000
TYPED_NUMBERS = frozenset({"digits", "phone", "id_number"})


def engine_call(win: MainWindow, on_event: Callable[[Any], None]) -> Any:
    """The real call: kiosk.assist.engine with this terminal's devices and login."""
    from kiosk.assist.engine import AssistCall, AssistSettings, CallDevices
    from kiosk.fleet.client import read_password

    cfg = win.runtime.config
    password = read_password(cfg.fleet.password_file, cfg.fleet.password_env)
    devices: Any = win.runtime.devices  # the device kinds' own types, checked by contracts
    return AssistCall(AssistSettings.from_config(cfg, password),
                      CallDevices(devices.get("camera"), devices.get("microphone"),
                                  devices.get("speaker")), on_event)


class AssistController(QObject):
    """One per window; at most one call at a time."""

    def __init__(self, win: MainWindow, call_factory: CallFactory | None = None) -> None:
        super().__init__(win)
        self.win = win
        self.factory: CallFactory = call_factory or engine_call
        self.state = CallState()
        self.call: Any = None
        self.minimised = False
        self.remote: VideoView | None = None
        self.own: VideoView | None = None
        self.overlay = panels.AssistOverlay(win.m, win.t, win.root)
        self.overlay.pressed.connect(self._pressed)
        self.bar: panels.CallBar | None = None
        self.proposal_text = ""  # the proposal on display (in the overlay), "" = none
        self.cofill = CoFill(self._send)
        self.pacer = mirror.MirrorPacer()
        self.seq = 0
        self._mirrored: object = None  # the Pending (or page) the last screen message was of
        self._mirror_timer = QTimer(self)
        self._mirror_timer.setSingleShot(True)
        self._mirror_timer.timeout.connect(self._mirror_now)
        self._token: object = None  # the call whose events are wanted (a late one's are not)
        self._last_screen: dict[str, Any] | None = None
        # The last screen again every few seconds while connected: a data channel opened
        # after it was sent (a new connection after a drop) still gets the screen.
        self._resend_timer = QTimer(self)
        self._resend_timer.setInterval(RESEND_MS)
        self._resend_timer.timeout.connect(self._resend)
        self.relay = Relay()
        self.relay.done.connect(self._relayed, Qt.ConnectionType.QueuedConnection)
        self.help_buttons: list[QPushButton] = []
        self._phone = ""  # typed before a redraw in another language or mode
        self._clock: QLabel | None = None
        self._clock_timer = QTimer(self)
        self._clock_timer.setInterval(1000)
        self._clock_timer.timeout.connect(self._tick)
        win.screenShown.connect(self._on_screen)
        win.idle.activity.connect(self._on_activity)
        win.flow_view.help_offer = self._help_offer

    def restyle(self) -> None:
        """The chrome was rebuilt (language, elder mode, panel size): draw again."""
        self._phone = self.overlay.phone
        self.overlay.close_view(keep=(self.remote, self.own))
        self.overlay.setParent(None)
        self.overlay.deleteLater()
        self.overlay = panels.AssistOverlay(self.win.m, self.win.t, self.win.root)
        self.overlay.pressed.connect(self._pressed)
        if self.state.phase != Phase.IDLE:
            self._draw()

    # -- the help button ------------------------------------------------------------------
    def help_button(self) -> QPushButton:
        """A help button for the header (made again with the chrome)."""
        b = panels.help_button(self.win.m, self.win.t)
        b.clicked.connect(self.help_pressed)
        self.help_buttons = [x for x in self.help_buttons if _alive(x)] + [b]
        if not self._help_wanted():
            b.hide()  # (never show() it here: without a parent yet it would be a window)
        return b

    def replace_clock(self, header: QWidget, clock: QWidget) -> None:
        """Put the help button where the header's clock is, and hide the clock: the
        header has no room for one more control in elder English landscape (another row
        took 81 px from every screen); the time goes to the footer (`footer_clock`)."""
        lay = _layout_holding(header.layout(), clock)
        if lay is None:
            return
        clock.hide()
        lay.insertWidget(lay.indexOf(clock), self.help_button())

    def footer_clock(self) -> QLabel:
        """The time on one line, for the footer."""
        from kiosk.ui.widgets import label

        self._clock = label("", "footerClock", wrap=False)
        self._clock.setProperty("anyLanguage", True)  # digits
        self._clock.setContentsMargins(0, 0, self.win.m.space(24), 0)  # apart from the id
        self._tick()
        if not self._clock_timer.isActive():
            self._clock_timer.start()
        return self._clock

    def _tick(self) -> None:
        from datetime import datetime

        if self._clock is not None and _alive(self._clock):
            self._clock.setText(f"{datetime.now():%H:%M  %Y-%m-%d}")

    def _citizen_page(self) -> bool:
        w = self.win
        return w.stack.currentWidget() in (w.home, w.flow_view)

    def _help_wanted(self) -> bool:
        return self._citizen_page() and self.state.phase == Phase.IDLE

    def _show_help_buttons(self) -> None:
        on = self._help_wanted()
        for b in self.help_buttons:
            if _alive(b) and b.parentWidget() is not None:
                b.setVisible(on)
        foot = getattr(self.win, "footer_help", None)  # the footer names the button it shows
        if foot is not None and _alive(foot):
            foot.setText(qt_i18n.tr("assist.footer" if on else "home.help"))

    def _help_offer(self) -> QWidget:
        return panels.help_offer(self.win.m, self.win.t, self.help_pressed)

    def help_pressed(self) -> None:
        if self.state.phase != Phase.IDLE or not self._citizen_page():
            return
        self._set(CallState(phase=Phase.CONSENT))

    def show_state(self, state: CallState, *, minimised: bool = False) -> None:
        """Draw a state without a call (the gallery's tour of the call's screens): the
        videos are empty pictures, nothing is sent, the camera stays off."""
        if state.phase in CONNECTED and self.remote is None:
            self.remote = VideoView(None, mirrored=False)
            self.own = VideoView(None, mirrored=True, name="assistOwnVideo")
        self.minimised = minimised
        self._set(state)
        if state.phase == Phase.IDLE:
            self._call_over()

    # -- states ---------------------------------------------------------------------------
    def _set(self, state: CallState, status: str = "") -> None:
        before, self.state = self.state, state
        if state.phase in LIVE:
            self.win.idle.hold(True)
        elif before.phase in LIVE:
            self.win.idle.hold(False)  # the call is over: the countdown runs again
        self._show_help_buttons()
        self._draw(status)
        if state.phase != before.phase and state.phase != Phase.IDLE:
            self.win._say(self.win.t(describe(state).title))  # the voice guide, if on
        if state.phase in CONNECTED and before.phase not in CONNECTED:
            self._mirrored = None
            self.pacer.screen_changed(time.monotonic())
            self._schedule_mirror()

    def _draw(self, status: str = "") -> None:
        view = describe(self.state)
        if "ticket" in view.buttons and not self.ticket_available():
            view = replace(view, buttons=tuple(b for b in view.buttons if b != "ticket"))
        if self.state.phase == Phase.IDLE:
            self.overlay.close_view()
            self._drop_bar()
            return
        if self.minimised and self.state.phase in CONNECTED:
            self.overlay.close_view(keep=(self.remote, self.own))
            self._show_bar(view.title, view.values, view.agent)
            if self.cofill.current is not None:
                self._show_proposal()
            return
        self._drop_bar()
        phone = self.overlay.phone or self._phone if self.state.phase == Phase.CALLBACK else ""
        self._phone = ""
        self.overlay.show_view(view, remote=self.remote, own=self.own, phone=phone,
                               status=status)

    def _show_bar(self, title: str, values: dict[str, Any], agent: str) -> None:
        """The call in a strip where the header was (lower than it, so the screen keeps
        its room: in elder mode the home search has none to spare), hang-up on top, so the
        citizen carries on with the flow while talking."""
        self._drop_bar()
        self.bar = panels.CallBar(self.win.m, self.win.t, self.remote,
                                  self.win.t(title, **values), agent, self.win.portrait)
        self.bar.pressed.connect(self._pressed)
        self.win.header.hide()
        self.win.outer.insertWidget(0, self.bar)
        self.bar.show()
        self.win.outer.activate()

    def _drop_bar(self) -> None:
        if self.bar is not None:
            if self.remote is not None and self.remote.parentWidget() is self.bar:
                self.remote.setParent(None)
            self.win.outer.removeWidget(self.bar)
            self.bar.hide()
            self.bar.setParent(None)
            self.bar.deleteLater()
            self.bar = None
            self.win.header.show()

    def _pressed(self, bid: str) -> None:
        self.win.idle.poke()
        phase = self.state.phase
        if bid == "agree" and phase == Phase.CONSENT:
            self._start_call()
        elif bid in ("cancel", "back", "continue"):
            self._set(CallState())
        elif bid == "hangup" and self.call is not None:
            self.call.hang_up("citizen")
        elif bid == "minimise":
            self.minimised = True
            self._draw()
        elif bid == "expand":
            self.minimised = False
            self._draw()
        elif bid == "callback" and phase == Phase.OFFERS:
            self._set(CallState(phase=Phase.CALLBACK))
        elif bid == "send" and phase == Phase.CALLBACK:
            self._send_callback()
        elif bid == "ticket" and phase == Phase.OFFERS:
            self._take_ticket()
        elif bid in ("confirm", "decline"):
            self._answer_proposal(bid == "confirm")

    # -- the call -------------------------------------------------------------------------
    def _start_call(self) -> None:
        self.minimised = False
        self._set(CallState(phase=Phase.CALLING))
        token = self._token = object()
        try:
            self.call = self.factory(self.win, lambda e: self._from_engine(token, e))
        except Exception as exc:  # noqa: BLE001 - no password, no engine: offer a call back
            log.error("help call could not start: %s", exc)
            self.call = None
            self._set(CallState(phase=Phase.OFFERS, reason="no_centre"))
            return
        self.remote = VideoView(getattr(self.call, "remote_video", None), mirrored=False)
        camera = self.win.runtime.devices.get("camera")
        self.own = VideoView(camera, mirrored=True, name="assistOwnVideo") \
            if camera is not None else None
        flow = self.win.runtime.package.flows.get(self.win.flow_id) \
            if self.win.session is not None else None
        title = self.win.runtime.package.translator("zh_CN")(flow.title) if flow else ""
        lang = self.win.session.locale if self.win.session else self.win.ui_locale
        self.call.start(service=flow.id if flow else "", service_title=str(title), lang=lang)
        self._draw()

    def _from_engine(self, token: object, event: Any) -> None:
        """On the engine's thread: hand the event to the UI thread."""
        from kiosk.ui.workers import emit

        emit(self.relay, "event", (token, event))

    def on_event(self, event: Any) -> None:
        """One engine event, on the UI thread."""
        if event.kind == "proposal":
            if self.state.phase in CONNECTED and isinstance(event.message, dict):
                self._proposal(event.message)
            return
        if event.kind == "media":
            self.pacer.screen_changed(time.monotonic())
            self._schedule_mirror()
        state = advance(self.state, event)
        if event.kind == "ended":
            self._call_over()
        if state != self.state or event.kind == "ended":
            self._set(state)

    def _call_over(self) -> None:
        """Release everything of the call: videos (the camera subscription), proposal."""
        self.call = None
        self._token = None
        self._last_screen = None
        self._resend_timer.stop()
        self.cofill.end()
        self.proposal_text = ""
        self._mirror_timer.stop()
        self.overlay.close_view()
        self._drop_bar()
        for v in (self.remote, self.own):
            if v is not None:
                v.stop()
                v.setParent(None)
                v.deleteLater()
        self.remote = self.own = None
        self.minimised = False

    def end(self, reason: str) -> None:
        """The session ended or the terminal idled out: end any call, close the overlay."""
        if self.call is not None:
            self.call.hang_up(reason)
            self._call_over()  # at once: the camera goes off now, not when the engine says
        if self.state.phase != Phase.IDLE:
            self._set(CallState())

    @property
    def in_call(self) -> bool:
        return self.state.phase in LIVE

    def _relayed(self, tag: str, result: object) -> None:
        if tag == "event" and isinstance(result, tuple):
            token, event = result
            if token is self._token:  # not a late event of a call already let go
                self.on_event(event)
        elif tag == "mirror" and isinstance(result, dict):
            self._send(result)

    def _resend(self) -> None:
        if self.state.phase in CONNECTED and self._last_screen is not None \
                and self.call is not None:
            self.call.send(self._last_screen)
        elif self.state.phase not in CONNECTED:
            self._resend_timer.stop()

    def _send(self, message: dict[str, Any]) -> None:
        if self.call is None:
            return  # the call ended meanwhile (a picture encoded late): nothing is kept
        if message.get("type") == "screen":
            self._last_screen = message
            if not self._resend_timer.isActive():
                self._resend_timer.start()
        self.call.send(message)

    # -- offers: call back, queue ticket ----------------------------------------------------
    def _send_callback(self) -> None:
        phone = self.overlay.phone
        if not valid_mobile(phone):
            self.overlay.set_status(self.win.t("assist.callback.invalid"))
            return
        flow = self.win.flow_id if self.win.session is not None else ""
        error = request_callback(self.win.runtime, phone, flow)
        if error:
            self._set(CallState(phase=Phase.CALLBACK), status=self.win.t(error))
            return
        self._set(CallState(phase=Phase.CALLBACK_DONE))

    def ticket_available(self) -> bool:
        flow = self.win.runtime.package.flows.get(TICKET_FLOW)
        return flow is not None and not self.win.runtime.flow_paused(flow)

    def _take_ticket(self) -> None:
        """The kiosk's own queue-ticket service (check-in or a walk-in number for the
        counter), instead of the service the citizen was stuck in."""
        self._set(CallState())
        if not self.ticket_available():
            return
        if self.win.session is not None:
            self.win._end_session("assist_ticket")
        self.win.start_flow(TICKET_FLOW)

    # -- co-fill ----------------------------------------------------------------------------
    def _proposal(self, message: dict[str, Any]) -> None:
        self._mirror_if_due()
        if self.cofill.propose(message) is None:
            return
        self.minimised = True  # the citizen confirms over the screen it changes
        self._draw()

    def _show_proposal(self) -> None:
        """工作人员为您选择了：近12个月 — 请确认, over the dimmed screen it changes; the
        call bar stays above it, hang up within reach."""
        asked = self.cofill.current
        if asked is None:
            return
        t = self.win.t
        p = asked.proposal
        what = self._shown_value(p)
        self.proposal_text = t("assist.proposal.choose", value=what) if p.action == "choose" \
            else t("assist.proposal.fill", field=self._field_label(p), value=what)
        self.overlay.reserve_top = self.bar.height() if self.bar is not None else 0
        self.overlay.show_view(View("assist.proposal.title", buttons=("decline", "confirm")),
                               remote=None, own=None, text=self.proposal_text)

    @property
    def banner(self) -> panels.AssistOverlay | None:
        """The overlay while it asks the citizen about a proposal."""
        return self.overlay if self.proposal_text and self.overlay.isVisible() else None

    def _shown_screen(self) -> Screen | None:
        from kiosk.ui.flow_view import localized

        screen = self.cofill.screen
        return localized(screen, self.win._translator()) if screen is not None else None

    def _shown_value(self, p: Proposal) -> str:
        """The proposed value as the screen would show it, in the citizen's language."""
        from kiosk.ui.form_widgets import field_display

        screen = self._shown_screen()
        if screen is None:
            return ""
        if p.action == "choose":
            return next((str(o.label) for o in screen.options if o.id == p.value), p.value)
        for f in screen.fields:
            if f.id == p.field:
                return field_display(f, p.value, self.win._translator())
        return p.value  # typed text: the citizen's own screen shows it as typed

    def _field_label(self, p: Proposal) -> str:
        screen = self._shown_screen()
        if screen is None:
            return ""
        f = next((f for f in screen.fields if f.id == p.field), None)
        return str(f.label) if f is not None else str(screen.title)

    def _answer_proposal(self, confirmed: bool) -> None:
        self._drop_banner()
        self.overlay.reserve_top = 0
        if not confirmed:
            self.cofill.decline()
            return
        proposal = self.cofill.confirm()
        if proposal is not None:
            apply_proposal(self.win, proposal)
            self.pacer.typed(time.monotonic())
            self._schedule_mirror()

    def _drop_banner(self) -> None:
        if self.proposal_text:
            self.proposal_text = ""
            if self.minimised:
                self.overlay.close_view(keep=(self.remote, self.own))

    # -- the mirror -------------------------------------------------------------------------
    def _on_screen(self, _name: str) -> None:
        self._show_help_buttons()
        if self.state.phase in CONNECTED:
            self.pacer.screen_changed(time.monotonic())
            self._schedule_mirror()

    def _on_activity(self) -> None:
        if self.state.phase in CONNECTED:
            self.pacer.typed(time.monotonic())
            self._schedule_mirror()

    def _schedule_mirror(self) -> None:
        due = self.pacer.due_at()
        if due is None:
            return
        self._mirror_timer.start(max(0, int((due - time.monotonic()) * 1000) + 1))

    def _mirror_if_due(self) -> None:
        """Before judging a proposal: a new screen must be known first (its seq)."""
        page = self._page()
        if page is not self._mirrored:
            self._mirror_now(force=True)

    def _page(self) -> object:
        w = self.win
        if w.stack.currentWidget() is w.flow_view and w.flow_view.pending is not None:
            return w.flow_view.pending
        return w.stack.currentWidget()

    def _mirror_now(self, force: bool = False) -> None:
        if self.state.phase not in CONNECTED:
            return
        now = time.monotonic()
        if not force and not self.pacer.take(now):
            self._schedule_mirror()
            return
        message, with_image = self._screen_message()
        if with_image:
            grab = self.win.grab().toImage()  # a copy of the pixels; scaled and encoded off-thread
            width = self.win.runtime.config.assist.mirror_max_width
            run_async(self.relay, "mirror", lambda: _with_image(message, grab, width))
        else:
            self._send(message)

    def _screen_message(self) -> tuple[dict[str, Any], bool]:
        w = self.win
        self.seq += 1
        page = self._page()
        lang = w.session.locale if w.session else w.ui_locale
        fv = w.flow_view
        screen: Screen | None = fv.step_screen if page is fv.pending else None
        if screen is None:
            if page is not self._mirrored:
                self.cofill.screen_changed(None, "", self.seq)
            self.cofill.seq = self.seq
            self._mirrored = page
            title = w.t("home.title")
            return mirror.home_message(self.seq, title, lang), not self.overlay.isVisible()
        from kiosk.ui.flow_view import localized

        step_type = self._step_type(screen.step_id)
        shown = localized(screen, w._translator())
        if page is not self._mirrored:
            self.cofill.screen_changed(screen, step_type, self.seq)
        self.cofill.seq = self.seq
        self._mirrored = page
        lock = lock_of(screen, step_type)
        msg = mirror.screen_message(self.seq, w.flow_id, shown, lang, lock, _fields(fv, shown))
        # Typed digits show in full on the citizen's screen (an ID or phone number being
        # typed): the agent gets them masked in `fields`, and no picture of them.
        typed_number = screen.kind == ScreenKind.KEYBOARD and screen.keys in TYPED_NUMBERS
        image = not self.overlay.isVisible() and lock not in mirror.NO_IMAGE_LOCKS \
            and not typed_number
        return msg, image

    def _step_type(self, step_id: str) -> str:
        flow = self.win.runtime.package.flows.get(self.win.flow_id)
        if flow is None:
            return ""
        return next((s.type for s in flow.steps if s.id == step_id), "")


def _with_image(message: dict[str, Any], grab: QImage, max_width: int) -> dict[str, Any]:
    """On a worker: the window's picture scaled and encoded into the message."""
    w, h = mirror.scaled_size(grab.width(), grab.height(), max_width)
    small = grab.scaled(w, h, Qt.AspectRatioMode.IgnoreAspectRatio,
                        Qt.TransformationMode.SmoothTransformation)
    rgb = small.convertToFormat(QImage.Format.Format_RGB888)
    data = bytes(rgb.constBits())
    image = mirror.encode_jpeg(data, rgb.width(), rgb.height(), rgb.bytesPerLine())
    return message | {"image": image} if image else message


def _fields(fv: Any, screen: Screen) -> list[mirror.FieldShown]:
    """The values as the screen shows them now (masked as shown; typed digits masked)."""
    from kiosk.ui.form_widgets import CharPad, Stepper
    from kiosk.ui.keyboard import OnScreenKeyboard

    if screen.kind == ScreenKind.FORM:
        return [mirror.FieldShown(st.f.id, str(st.f.label), st.shown.text())
                for st in fv.findChildren(Stepper)]
    if screen.kind == ScreenKind.KEYBOARD:
        kb = fv.findChild(OnScreenKeyboard) or fv.findChild(CharPad)
        text = str(getattr(kb, "text", "")) if kb is not None else ""
        return [mirror.FieldShown(screen.step_id, str(screen.title), mirror.mask_typed(text))]
    return []


def apply_proposal(win: MainWindow, p: Proposal) -> bool:
    """Apply a confirmed proposal by pressing what the citizen would press."""
    from kiosk.ui.form_widgets import CharPad, Stepper, _month_index
    from kiosk.ui.keyboard import OnScreenKeyboard

    fv = win.flow_view
    if p.action == "choose":
        b = fv.findChild(QAbstractButton, f"option-{p.value}")
        if b is None or not b.isEnabled():
            return False
        b.click()
        return True
    for st in fv.findChildren(Stepper):
        if st.f.id == p.field:
            if st.f.kind == "month":
                delta = _month_index(p.value) - _month_index(st.value)
            else:
                delta = int(p.value) - int(st.value)
            st.step(delta)
            return st.value == p.value
    kb = fv.findChild(OnScreenKeyboard) or fv.findChild(CharPad)
    if kb is not None and p.field == (fv.step_screen.step_id if fv.step_screen else ""):
        for _ in range(len(kb.text)):
            kb.press("BACKSPACE")
        for ch in p.value:
            kb.press(ch)
        return kb.text == p.value
    return False


def _layout_holding(lay: QLayout | None, w: QWidget) -> QBoxLayout | None:
    """The box layout (at any depth under `lay`) that holds `w`."""
    if lay is None:
        return None
    if isinstance(lay, QBoxLayout) and lay.indexOf(w) >= 0:
        return lay
    for i in range(lay.count()):
        item = lay.itemAt(i)
        found = _layout_holding(item.layout() if item is not None else None, w)
        if found is not None:
            return found
    return None


def _alive(w: QWidget) -> bool:
    try:
        w.objectName()
        return True
    except RuntimeError:  # deleted with the old chrome
        return False

