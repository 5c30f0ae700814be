"""Idle timeout: any touch resets it; a visible countdown before the session is wiped."""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QPushButton, QVBoxLayout, QWidget

from kiosk.i18n import Translator
from kiosk.ui import theme
from kiosk.ui.widgets import button, label

_ACTIVITY = {QEvent.Type.MouseButtonPress, QEvent.Type.TouchBegin, QEvent.Type.KeyPress,
             QEvent.Type.MouseMove, QEvent.Type.TouchUpdate}


class IdleWatcher(QObject):
    """Emits `countdown(seconds_left)` during the last `countdown_s`, then `expired`."""

    countdown = Signal(int)
    expired = Signal()
    activity = Signal()

    def __init__(self, timeout_s: float, countdown_s: float, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timeout_s = timeout_s
        self.countdown_s = min(countdown_s, timeout_s)
        self._last = time.monotonic()
        self._armed = False
        # A help call in progress (kiosk/ui/assist): the citizen is talking to an agent,
        # not gone; the countdown waits, and starts afresh when the call ends.
        self._held = False
        self._timer = QTimer(self)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self._tick)

    def arm(self, on: bool) -> None:
        """Run the idle timer (on citizen-facing input screens) or pause it."""
        self._armed = on
        self._last = time.monotonic()
        if on:
            self._timer.start()
        else:
            self._timer.stop()

    @property
    def armed(self) -> bool:
        return self._armed

    def hold(self, on: bool) -> None:
        """Suspend the countdown (a call in progress) or re-arm it from now."""
        if on != self._held:
            self._held = on
            self.poke()  # a full timeout from now either way (and any countdown hidden)

    @property
    def held(self) -> bool:
        return self._held

    def poke(self) -> None:
        self._last = time.monotonic()
        self.activity.emit()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in _ACTIVITY and self._armed and (
                event.type() != QEvent.Type.MouseMove
                or event.buttons()):  # type: ignore[attr-defined]
            self.poke()
        return False

    def remaining(self) -> float:
        return self.timeout_s - (time.monotonic() - self._last)

    def _tick(self) -> None:
        if self._held:
            self._last = time.monotonic()
            return
        left = self.remaining()
        if left <= 0:
            self._armed = False
            self._timer.stop()
            self.expired.emit()
        elif left <= self.countdown_s:
            self.countdown.emit(int(left + 0.999))


class IdleOverlay(QWidget):
    """Dims the screen and counts down; any touch (or the button) keeps the session."""

    stay = Signal()

    def __init__(self, m: theme.Metrics, t: Translator, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("idleOverlay")
        self.setProperty("layer", "idle")  # drawn over the screen: its texts may cover it
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.t = t
        outer = self._outer = QVBoxLayout(self)
        box = QWidget(self)
        box.setObjectName("idleBox")
        box.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        box.setMaximumWidth(m.px(900))
        v = self._box_layout = QVBoxLayout(box)
        v.setContentsMargins(m.px(48), m.px(40), m.px(48), m.px(40))
        v.setSpacing(m.px(30))
        self.text = label("", "idleText")
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        v.addWidget(self.text)
        self.button: QPushButton = button(t("idle.stay"), "action-stay", primary=True)
        self.button.clicked.connect(self.stay.emit)
        v.addWidget(self.button)
        self.box, self.m = box, m
        outer.addStretch(1)
        outer.addWidget(box, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(1)
        self.hide()

    def _fit(self) -> None:
        """An aligned box gets its size hint, not its height for its width: give the
        wrapped message the height its lines need at the box's width (two lines in
        elder mode or English), so no line is cut."""
        width = min(self.m.px(900), max(1, self.width() - 2 * self.m.space(40)))
        self.box.setFixedWidth(width)
        margins = self._box_layout.contentsMargins()
        inner = width - margins.left() - margins.right()
        need = self.text.heightForWidth(inner)
        if need > 0:  # -1 before the overlay has any text or width
            self.text.setFixedHeight(need)
        self._outer.activate()

    def show_seconds(self, seconds: int) -> None:
        self.text.setText(self.t("idle.countdown", seconds=seconds))
        parent = self.parentWidget()
        if not self.isVisible() and parent is not None:  # None: being deleted
            self.setGeometry(parent.rect())
            self.show()
            self.raise_()
        self._fit()

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._fit()

    def mousePressEvent(self, event: object) -> None:
        self.stay.emit()
