"""Training mode on the touch screen: put synthetic cards on the simulated readers, show an
appointment code to the scanner, cause and clear device faults (kiosk/maintenance/training.py).

Two places show the same `TrainingPanel`:

- `TrainingPage`, a page of the maintenance screens (reached from the dashboard, only when
  the devices are simulators), where the technician can also *pin* the panel;
- `TrainingDock`, the pinned panel while citizens' flows run: one "训练" tab at the bottom
  left of the window that opens into a sheet over the lower part of the screen.

Why a dock inside the kiosk window and not a second window: the kiosk is one frameless
full-screen window on one touch screen, often on a bare X server with no window manager,
where a second top-level window has no reliable place or stacking order and could hide
behind the kiosk (or cover it with no way back). A child of the kiosk window is always
drawn over the kiosk's own screens, uses the same sizes and fonts, needs no focus
handling, and goes away with the window. Collapsed, it covers one touch target.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.devices.base import DeviceError
from kiosk.i18n import Translator
from kiosk.maintenance.training import (
    Training,
    TrainingState,
    TrainingUnavailable,
    training_cards,
)
from kiosk.ui import theme
from kiosk.ui.widgets import WrapButton, button, label, set_flag, wrap_button
from kiosk.ui.workers import Relay, run_async

log = logging.getLogger(__name__)

REFRESH_MS = 1000


class TrainingPanel(QWidget):
    """One row of section buttons (a simulated device each) over that section's controls."""

    changed = Signal()  # after every action, once the simulators show it

    def __init__(self, training: Training, m: theme.Metrics, t: Translator,
                 columns: int = 4) -> None:
        super().__init__()
        self.setObjectName("trainingPanel")
        self.training, self.m, self.t, self.columns = training, m, t, max(2, columns)
        self.controls: dict[str, QPushButton] = {}
        self.sections: dict[str, QPushButton] = {}
        self.relay = Relay()
        self.relay.done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)
        self._network_busy = False
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(m.px(8))
        tabs = QHBoxLayout()
        tabs.setSpacing(m.px(8))
        self.pages = QStackedWidget()
        self._page_of: dict[str, QWidget] = {}
        for kind in training.kinds():
            tab = button(t(f"technician.training.section.{kind}"), "trainSection")
            tab.setProperty("section", kind)
            tab.clicked.connect(lambda _=False, k=kind: self.show_section(k))
            tabs.addWidget(tab)
            self.sections[kind] = tab
            page = self._section(kind)
            self._page_of[kind] = page
            self.pages.addWidget(page)
        tabs.addStretch(1)
        v.addLayout(tabs)
        v.addWidget(self.pages)
        self.status = label("", "trainStatus")
        self.status.setProperty("anyLanguage", True)  # masked citizen names in any mode
        v.addWidget(self.status)
        self.message = label("", "trainMessage")
        v.addWidget(self.message)
        v.addStretch(1)  # the state line stays under the buttons, not at the bottom
        if training.kinds():
            self.show_section(training.kinds()[0])
        self._timer = QTimer(self)  # the flow may change things too (a card read, a job)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self.refresh()

    # -- building ----------------------------------------------------------------------
    def _section(self, kind: str) -> QWidget:
        page = QWidget()
        grid = QGridLayout(page)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(self.m.px(8))
        items = self._items(kind)
        for i, (name, text, slot, any_language) in enumerate(items):
            b: QPushButton
            if any_language:  # a citizen's name and key: long in English, may wrap
                b = wrap_button(text, "trainAction")
                b.setProperty("anyLanguage", True)
            else:
                b = button(text, "trainAction")
            b.setProperty("control", name)
            b.clicked.connect(lambda _=False, n=name, f=slot: self._do(n, f))
            grid.addWidget(b, i // self.columns, i % self.columns)
            self.controls[name] = b
        for c in range(self.columns):
            grid.setColumnStretch(c, 1)
        grid.setRowStretch(grid.rowCount(), 1)
        return page

    def _items(self, kind: str) -> list[tuple[str, str, Callable[[], Any], bool]]:
        t, tr = self.t, self.training
        out: list[tuple[str, str, Callable[[], Any], bool]] = []
        if kind in ("idcard", "sscard"):
            for c in training_cards():
                if kind == "sscard" and not c.has_ss_card:
                    continue
                out.append((f"{kind}.place.{c.key}", c.key,  # by key only: no name on screen
                            partial(tr.place_card, kind, c.key), True))
            out.append((f"{kind}.remove", t(f"technician.training.{kind}.remove"),
                        lambda: tr.remove_card(kind), False))
            out.append((f"{kind}.plug", "", lambda: tr.set_plugged(
                kind, not bool(getattr(tr.state(), f"{kind}_plugged"))), False))
        elif kind == "scanner":
            for c in training_cards():
                if c.has_appointment:
                    out.append((f"scanner.appt.{c.key}",
                                t("technician.training.scanner.appointment",
                                  name=c.key),  # by key only: no name on screen
                                partial(tr.present_appointment, c.key), True))
            if tr.state().scanner_plugged is not None:
                out.append(("scanner.plug", "", lambda: tr.set_plugged(
                    "scanner", not tr.state().scanner_plugged), False))
        elif kind == "receipt":
            for s in tr.paper_states:
                out.append((f"receipt.paper.{s}", t(f"technician.training.receipt.paper.{s}"),
                            partial(tr.set_receipt_paper, s), False))
            out.append(("receipt.cover", "", lambda: tr.set_receipt_cover(
                not tr.state().receipt_cover_open), False))
        elif kind == "a4":
            for s in tr.media_states:
                out.append((f"a4.media.{s}", t(f"technician.training.a4.media.{s}"),
                            partial(tr.set_a4_media, s), False))
            out.append(("a4.door", "", lambda: tr.set_a4_door(not tr.state().a4_door_open),
                        False))
        elif kind == "network":
            out.append(("network", "", self._toggle_network, False))
        return out

    # -- acting --------------------------------------------------------------------------
    def show_section(self, kind: str) -> None:
        page = self._page_of.get(kind)
        if page is None:
            return
        self.pages.setCurrentWidget(page)
        for k, tab in self.sections.items():
            set_flag(tab, "on", k == kind)

    def _do(self, name: str, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except (TrainingUnavailable, DeviceError, ValueError) as exc:
            log.warning("training action %s refused: %s", name, exc)
            self.message.setText(self.t("technician.training.refused"))
        else:
            self.message.setText("")
        self.refresh()
        self.changed.emit()

    def _toggle_network(self) -> None:
        if self._network_busy:
            return
        up = not bool(self.training.state().network_up)
        self._network_busy = True
        self.message.setText(self.t("technician.training.network.working"))
        run_async(self.relay, "network", lambda: self.training.set_network(up))

    def _on_done(self, tag: str, result: Any) -> None:
        if tag == "network":
            self._network_busy = False
            ok = result is True
            self.message.setText("" if ok else self.t("technician.training.refused"))
            self.refresh()
            self.changed.emit()

    # -- showing the simulators' state ---------------------------------------------------
    def showEvent(self, event: Any) -> None:  # Qt API name
        super().showEvent(event)
        self.refresh()
        self._timer.start()

    def hideEvent(self, event: Any) -> None:  # Qt API name
        self._timer.stop()
        super().hideEvent(event)

    def refresh(self) -> None:
        st = self.training.state()
        t = self.t
        for name, b in self.controls.items():
            on = _is_on(name, st)
            set_flag(b, "on", on)
            if isinstance(b, WrapButton):
                set_flag(b.caption, "on", on)
        for kind in ("idcard", "sscard"):
            plug = self.controls.get(f"{kind}.plug")
            if plug is not None:
                plugged = bool(getattr(st, f"{kind}_plugged"))
                plug.setText(t(f"technician.training.{kind}.{'unplug' if plugged else 'plug'}"))
        texts = {"scanner.plug": f"technician.training.scanner."
                                 f"{'unplug' if st.scanner_plugged else 'plug'}",
                 "receipt.cover": f"technician.training.receipt."
                                  f"{'close_cover' if st.receipt_cover_open else 'open_cover'}",
                 "a4.door": f"technician.training.a4."
                            f"{'close_door' if st.a4_door_open else 'open_door'}",
                 "network": f"technician.training.network."
                            f"{'down' if st.network_up is not False else 'up'}"}
        for name, key in texts.items():
            if name in self.controls:
                self.controls[name].setText(t(key))
        self.status.setText(self._summary(st))

    def _summary(self, st: TrainingState) -> str:
        t = self.t
        names = {c.key: c.key for c in training_cards()}  # by key only: no name on screen
        parts = []
        for kind, card in (("idcard", st.id_card), ("sscard", st.ss_card)):
            if kind in self.sections:
                parts.append(t(f"technician.training.summary.{kind}",
                               card=names.get(card or "", t("technician.training.no_card"))))
        if st.receipt_paper is not None:
            parts.append(t("technician.training.summary.receipt",
                           state=t(f"technician.training.receipt.paper.{st.receipt_paper}")))
        if st.a4_media is not None:
            parts.append(t("technician.training.summary.a4",
                           state=t(f"technician.training.a4.media.{st.a4_media}")))
        return str(t("technician.sep")).join(parts)


def _is_on(name: str, st: TrainingState) -> bool:
    """Whether a control shows an active state (the card on the reader, a fault)."""
    kind, _, rest = name.partition(".")
    if rest.startswith("place."):
        return (st.id_card if kind == "idcard" else st.ss_card) == rest[len("place."):]
    if rest.startswith("paper."):
        return st.receipt_paper == rest[len("paper."):]
    if rest.startswith("media."):
        return st.a4_media == rest[len("media."):]
    if rest == "plug":
        return getattr(st, f"{kind}_plugged") is False
    return {"receipt.cover": st.receipt_cover_open is True,
            "a4.door": st.a4_door_open is True,
            "network": st.network_up is False}.get(name, False)


class TrainingPage(QWidget):
    """The maintenance page: the panel, and whether it stays on screen for citizens' flows."""

    backRequested = Signal()
    pinChanged = Signal(bool)

    def __init__(self, training: Training, m: theme.Metrics, t: Translator) -> None:
        super().__init__()
        self.setObjectName("trainingPage")
        self.pinned = False
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(m.px(12))
        top = QHBoxLayout()
        titles = QVBoxLayout()
        titles.addWidget(label(t("technician.training.title"), "maintTitle"))
        titles.addWidget(label(t("technician.training.hint"), "maintHint"))
        top.addLayout(titles, 1)
        self.pin = button(t("technician.training.pin"), "maintAction")
        self.pin.setProperty("action", "pinTraining")
        self.pin.clicked.connect(lambda: self.set_pinned(not self.pinned, emit=True))
        top.addWidget(self.pin)
        back = button(t("technician.training.back"), "maintAction", primary=True)
        back.setProperty("action", "back")
        back.clicked.connect(self.backRequested.emit)
        top.addWidget(back)
        v.addLayout(top)
        self.panel = TrainingPanel(training, m, t, columns=4)
        v.addWidget(self.panel, 1)
        self.t = t

    def set_pinned(self, on: bool, emit: bool = False) -> None:
        self.pinned = on
        set_flag(self.pin, "on", on)
        self.pin.setText(self.t("technician.training.unpin" if on else "technician.training.pin"))
        if emit:
            self.pinChanged.emit(on)


class TrainingDock(QWidget):
    """The pinned panel over the kiosk window: a tab that opens into a bottom sheet."""

    unpinRequested = Signal()

    def __init__(self, window: QWidget, training: Training, m: theme.Metrics,
                 t: Translator, style: str) -> None:
        super().__init__(window)
        self.setObjectName("trainingDock")
        self.setProperty("layer", "training")  # drawn over the screen, like the idle overlay
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(style)
        self.window_, self.m = window, m
        v = self._column = QVBoxLayout(self)
        v.setContentsMargins(m.px(12), m.px(8), m.px(12), m.px(8))
        v.setSpacing(m.px(8))
        bar = QHBoxLayout()
        self.tab = button(t("technician.training.tab"), "trainTab", primary=True)
        self.tab.clicked.connect(self.toggle)
        bar.addWidget(self.tab)
        bar.addStretch(1)
        self.unpin = button(t("technician.training.unpin"), "trainAction")
        self.unpin.setProperty("control", "unpin")
        self.unpin.clicked.connect(self.unpinRequested.emit)
        bar.addWidget(self.unpin)
        v.addLayout(bar)
        self.panel = TrainingPanel(training, m, t, columns=5)
        # Not `self.scroll`: that would hide QWidget.scroll(dx, dy).
        self.scroll_area = QScrollArea()
        self.scroll_area.setObjectName("trainScroll")
        self.scroll_area.setProperty("mayScroll", True)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll_area.setWidget(self.panel)
        self.scroll_area.viewport().setAutoFillBackground(False)
        v.addWidget(self.scroll_area, 1)
        self.expanded = False
        window.installEventFilter(self)
        self._place()

    def toggle(self) -> None:
        self.set_expanded(not self.expanded)

    def set_expanded(self, on: bool) -> None:
        self.expanded = on
        self.scroll_area.setVisible(on)
        self.unpin.setVisible(on)
        set_flag(self.tab, "on", on)
        self._place()
        self.raise_()

    def _place(self) -> None:
        """Collapsed: the tab alone, bottom left. Open: a sheet over the lower part."""
        w, h = self.window_.width(), self.window_.height()
        if self.expanded:
            height = max(self.m.px(440), int(h * 0.45))
            self.setGeometry(0, max(0, h - height), w, min(h, height))
        else:
            hint = self.tab.sizeHint()
            mg = self._column.contentsMargins()
            tw = hint.width() + mg.left() + mg.right()
            th = max(hint.height(), self.m.px(theme.TARGETS["button"][1])) + mg.top() + \
                mg.bottom()
            self.setGeometry(0, max(0, h - th), tw, th)
        self.raise_()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # Qt API name
        if obj is self.window_ and event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def detach(self) -> None:
        self.window_.removeEventFilter(self)
        self.hide()
        self.setParent(None)
        self.deleteLater()


def style(m: theme.Metrics) -> str:
    """Style of the training controls (the maintenance page and the dock share it)."""
    target, pad = m.px(theme.TARGETS["button"][1]), m.px(14)
    return f"""
    #trainingDock {{ background: #FFF8E1; border-top: {m.px(3)}px solid {theme.WARN}; }}
    QScrollArea#trainScroll, #trainingPanel {{ background: transparent; }}
    QPushButton#trainSection, QPushButton#trainAction, QPushButton#trainTab {{
        font-size: {m.small}px; min-height: {target}px; min-width: {target - 2 * pad}px;
        padding: 0 {pad}px; border-radius: {m.px(10)}px; }}
    QPushButton#trainSection[on="true"], QPushButton#trainAction[on="true"] {{
        background: {theme.PRIMARY}; color: white; }}
    QPushButton#trainAction QLabel#buttonText {{ font-size: {m.small}px; }}
    QPushButton#trainAction QLabel#buttonText[on="true"] {{ color: white; }}
    #trainStatus {{ font-size: {m.small}px; }}
    #trainMessage {{ font-size: {m.small}px; color: {theme.DANGER}; font-weight: bold; }}
    """
