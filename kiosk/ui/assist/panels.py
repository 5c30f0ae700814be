"""The widgets of a help call: the help button, the overlay (consent, calling, waiting,
in call, ended, offers, call back), the call bar while the citizen works on, and the
banner of an agent's proposal. They draw a `View` (kiosk/ui/assist/state.py) and say
which button was pressed; the controller decides what happens.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QBoxLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.i18n import Translator
from kiosk.ui import theme
from kiosk.ui.assist.state import View
from kiosk.ui.assist.video import VideoView
from kiosk.ui.widgets import button, label

PRIMARY_BUTTONS = frozenset({"agree", "callback", "send", "continue", "confirm", "expand"})
DANGER_BUTTONS = frozenset({"hangup"})


def style(m: theme.Metrics) -> str:
    c = theme.palette(m.elder)
    return f"""
    #assistOverlay {{ background: rgba(0, 0, 0, 160); }}
    #assistBox {{ background: {c['surface']}; border-radius: {m.px(20)}px; }}
    #assistTitle {{ font-size: {m.title}px; font-weight: bold; }}
    #assistText, #assistAgent {{ font-size: {m.body}px; }}
    #assistStatus {{ font-size: {m.body}px; color: {c['warn']}; font-weight: bold; }}
    #assistBar {{ background: #FFF7E0; border-bottom: {m.px(2)}px solid {theme.ACCENT}; }}
    #assistBarText {{ font-size: {m.small}px; font-weight: bold; }}
    #assistOffer {{ background: #FFF7E0; border-radius: {m.px(14)}px; }}
    #assistOfferText {{ font-size: {m.body}px; }}
    QPushButton[danger="true"] {{ background: {theme.DANGER}; color: white; border: none; }}
    """


def help_icon(size: int, color: str = theme.PRIMARY) -> QIcon:
    """A speech bubble with a question mark, drawn once: no image file to ship or lose."""
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(QColor(color), max(2.0, size / 10))
    p.setPen(pen)
    r = QRectF(size * 0.12, size * 0.12, size * 0.76, size * 0.76)
    p.drawEllipse(r)
    font = QFont()
    font.setPixelSize(int(size * 0.55))
    font.setBold(True)
    p.setFont(font)
    p.drawText(r, Qt.AlignmentFlag.AlignCenter, "?")
    p.drawLine(QPointF(size * 0.5, size * 0.88), QPointF(size * 0.5, size * 0.98))
    p.end()
    return QIcon(pm)


def help_button(m: theme.Metrics, t: Translator) -> QPushButton:
    """求助: among the header's controls, in amber (not white: that reads as a toggle
    switched on, like the language chosen)."""
    b = button(t("assist.help"), "assistHelp")
    b.setStyleSheet(f"QPushButton#assistHelp {{ font-size: {m.small}px; font-weight: bold; "
                    f"min-height: {m.px(88) - 2 * m.px(2)}px; padding: 0 {m.px(16)}px; "
                    f"border-radius: {m.px(10)}px; background: {theme.ACCENT}; "
                    f"color: {theme.INK}; border: {m.px(2)}px solid {theme.ACCENT}; }}")
    b.setIcon(help_icon(m.px(40), theme.INK))
    b.setIconSize(QSize(m.px(40), m.px(40)))
    b.setAccessibleName(t("assist.help"))
    return b


def agent_label(t: Translator, agent: str) -> QLabel:
    lab = label(agent, "assistAgent")
    # As the centre gives it, in the call's language (工作人员 07 / Agent 07): a name
    lab.setProperty("anyLanguage", True)
    return lab


def _button(bid: str, t: Translator, m: theme.Metrics, pressed: Callable[[str], None]
            ) -> QPushButton:
    b = button(t(f"assist.button.{bid}"), f"action-assist-{bid}",
               primary=bid in PRIMARY_BUTTONS)
    b.setProperty("danger", "true" if bid in DANGER_BUTTONS else "false")
    b.setMinimumWidth(theme.target_minimum("action-x", m)[0])
    b.clicked.connect(lambda _=False: pressed(bid))
    return b


class AssistOverlay(QWidget):
    """Covers the window while the citizen decides, waits or talks (full view)."""

    pressed = Signal(str)  # a button id of the View

    def __init__(self, m: theme.Metrics, t: Translator, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("assistOverlay")
        self.setProperty("layer", "assist")  # drawn over the screen
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(style(m))
        self.m, self.t = m, t
        self.view: View | None = None
        self.box: QWidget | None = None
        self.keyboard: QWidget | None = None
        self.status: QLabel | None = None
        self._outer = QVBoxLayout(self)
        self.compact = False
        self.reserve_top = 0
        self.text_label: QLabel | None = None
        self.hide()

    def show_view(self, view: View, *, remote: VideoView | None, own: VideoView | None,
                  phone: str = "", status: str = "", text: str = "") -> None:
        """Draw `view` (rebuilt: a call changes state a few times, not per frame)."""
        self._drop_box(keep=(remote, own))
        self.view = view
        m, t = self.m, self.t
        portrait = self.parentWidget() is not None and \
            self.parentWidget().height() > self.parentWidget().width()  # type: ignore[union-attr]
        box = QWidget(self)
        box.setObjectName("assistBox")
        box.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        outer = QHBoxLayout(box)
        outer.setContentsMargins(m.space(48), m.space(36), m.space(48), m.space(36))
        outer.setSpacing(m.space(40))
        v = QVBoxLayout()
        v.setSpacing(m.space(24))
        outer.addLayout(v, 4)
        v.addWidget(label(t(view.title, **view.values), "assistTitle"))
        if view.agent:
            v.addWidget(agent_label(t, view.agent))
        if view.text or text:
            self.text_label = label(text or t(view.text, **view.values), "assistText")
            v.addWidget(self.text_label)
        if view.video and remote is not None:
            v.addLayout(self._videos(remote, own, portrait), 1)
        keys = self._keypad(phone) if view.keypad else None
        if keys is not None:
            v.addWidget(keys.entry)  # type: ignore[attr-defined]
            if portrait:  # keys under the number; in landscape beside it
                v.addWidget(keys, 1)
        self.status = label(status, "assistStatus")
        self.status.setVisible(bool(status))
        v.addWidget(self.status)
        if not view.video and (keys is None or not portrait):
            v.addStretch(1)
        v.addLayout(self._buttons(view.buttons, portrait))
        if keys is not None and not portrait:
            right = QVBoxLayout()
            right.addStretch(1)
            right.addWidget(keys)
            outer.addLayout(right, 5)
        self._outer.setContentsMargins(m.space(40), m.space(40), m.space(40), m.space(40))
        self.compact = not (view.video or view.keypad)
        if self.compact:  # a dialog in the middle, as high as its texts need (see _fit)
            self._outer.addStretch(1)
            self._outer.addWidget(box, 0, Qt.AlignmentFlag.AlignHCenter)
            self._outer.addStretch(1)
        else:
            self._outer.addWidget(box, 1)
        self.box = box
        self._place()
        self.show()
        box.show()  # made on a shown overlay: a layout would show it only on the next pass
        self.raise_()
        self._fit()

    def _place(self) -> None:
        """Cover the window, but for the call bar at the top (`reserve_top`)."""
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect().adjusted(0, self.reserve_top, 0, 0))

    def _fit(self) -> None:
        """An aligned box gets its size hint, not its height for its width: give a
        compact box a width, then the height its wrapped lines need at that width."""
        box = self.box
        if box is None or not self.compact:
            if box is not None:
                box.setMinimumSize(0, 0)
                box.setMaximumSize(16777215, 16777215)
            return
        margins = self._outer.contentsMargins()
        width = min(self.m.px(1200), max(1, self.width() - margins.left() - margins.right()))
        box.setFixedWidth(width)
        lay = box.layout()
        need = lay.totalHeightForWidth(width) if lay is not None else -1
        room = self.height() - margins.top() - margins.bottom()
        if need > 0:
            box.setFixedHeight(min(need, room))
        self._outer.activate()

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._fit()

    def _buttons(self, ids: tuple[str, ...], portrait: bool) -> QBoxLayout:
        """The way forward on the right (landscape) or on top (portrait, where three
        large buttons do not fit side by side)."""
        m, t = self.m, self.t
        column = portrait and len(ids) > 2
        row = QBoxLayout(QBoxLayout.Direction.BottomToTop if column else
                         QBoxLayout.Direction.LeftToRight)
        row.setSpacing(m.space(24))
        for i, bid in enumerate(ids):
            if not column and i == len(ids) - 1:
                row.addStretch(1)
            row.addWidget(_button(bid, t, m, self.pressed.emit))
        return row

    def _videos(self, remote: VideoView, own: VideoView | None, portrait: bool) -> QBoxLayout:
        m = self.m
        row = QBoxLayout(QBoxLayout.Direction.TopToBottom if portrait else
                         QBoxLayout.Direction.LeftToRight)
        row.setSpacing(m.space(24))
        remote.setMinimumSize(m.px(320), m.px(240))
        row.addWidget(remote, 3)
        if own is not None:
            own.setFixedSize(m.px(240), m.px(180))
            row.addWidget(own, 0, Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignRight)
        return row

    def _keypad(self, phone: str) -> QWidget:
        """The on-screen keyboard's phone keys (its entry shows the digits typed)."""
        from kiosk.ui.keyboard import OnScreenKeyboard

        kb = OnScreenKeyboard(self.m, "phone", max_len=11, text=phone, entry_outside=True,
                              t=self.t)
        kb.entry.setProperty("anyLanguage", True)
        self.keyboard = kb
        return kb

    @property
    def phone(self) -> str:
        return str(getattr(self.keyboard, "text", ""))

    def set_status(self, text: str) -> None:
        if self.status is not None:
            self.status.setText(text)
            self.status.setVisible(bool(text))

    def _drop_box(self, keep: tuple[VideoView | None, ...] = ()) -> None:
        for w in keep:  # the videos live across views: take them out before the box goes
            if w is not None and w.parentWidget() is not None:
                w.setParent(None)
        while self._outer.count():  # the box and the stretches around it
            self._outer.takeAt(0)
        if self.box is not None:
            self.box.hide()
            self.box.setParent(None)
            self.box.deleteLater()
        self.box, self.keyboard, self.status = None, None, None

    def close_view(self, keep: tuple[VideoView | None, ...] = ()) -> None:
        self._drop_box(keep)
        self.view = None
        self.hide()

    def mousePressEvent(self, event: object) -> None:
        pass  # touches on the dimmed part do not reach the screen underneath


class CallBar(QWidget):
    """The call while the citizen goes on with the flow: a strip where the header was
    (lower than it: the screen keeps its room): the agent's picture small (in landscape),
    what is happening, back to the call, hang up."""

    pressed = Signal(str)

    def __init__(self, m: theme.Metrics, t: Translator, remote: VideoView | None,
                 text: str, agent: str, portrait: bool) -> None:
        super().__init__()
        self.setObjectName("assistBar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(style(m))
        h = QHBoxLayout(self)
        h.setContentsMargins(m.space(48), m.space(12), m.space(48), m.space(12))
        h.setSpacing(m.space(24))
        if remote is not None and not portrait:
            remote.setMinimumSize(0, 0)
            remote.setFixedSize(m.px(88) * 4 // 3, m.px(88))
            h.addWidget(remote)
        self.text = label(text, "assistBarText")
        self.text.setAccessibleName(f"{text} {agent}".strip())
        h.addWidget(self.text, 1)
        for bid in ("hangup", "expand"):
            b = button(t(f"assist.button.{bid}"), f"assist-bar-{bid}",
                       primary=bid in PRIMARY_BUTTONS)
            b.setProperty("danger", "true" if bid in DANGER_BUTTONS else "false")
            b.clicked.connect(lambda _=False, x=bid: self.pressed.emit(x))
            h.addWidget(b)


def help_offer(m: theme.Metrics, t: Translator, pressed: Callable[[], None]) -> QWidget:
    """On an error screen: a line offering an agent, and the button to call one."""
    w = QWidget()
    w.setObjectName("assistOffer")
    w.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
    w.setStyleSheet(style(m))
    h = QHBoxLayout(w)
    h.setContentsMargins(m.space(24), m.space(12), m.space(24), m.space(12))
    h.setSpacing(m.space(24))
    h.addWidget(label(t("assist.offer.text"), "assistOfferText"), 1)
    b = _button("call", t, m, lambda _bid: pressed())
    b.setIcon(help_icon(m.px(40)))
    b.setIconSize(QSize(m.px(40), m.px(40)))
    h.addWidget(b)
    return w
