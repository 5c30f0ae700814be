"""Draws any step screen (`Screen` descriptor) generically and returns the answer.

Each screen kind has a renderer (`RENDERERS`); kinds without one get the generic body
(illustration, texts, form widgets). Texts are drawn in the language chosen *now*: a
screen that came from a flow in another language is translated again (`retranslate`), so
switching language or elder mode redraws the screen on display at once — and what the
citizen already entered (a month picked, letters typed, stars given, a page turned) is
kept across the redraw (`ViewState`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLayout,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.flows.interaction import Pending
from kiosk.flows.screens import Action, Response, Screen, ScreenKind
from kiosk.i18n import Translator, retranslate
from kiosk.ui import theme
from kiosk.ui.form_widgets import CharPad, add_form_widgets
from kiosk.ui.illustration import Illustration
from kiosk.ui.widgets import button, label, mark_foreign, set_flag, wrap_button


@dataclass
class ViewState:
    """What the citizen entered on the screen on display (kept across a redraw)."""

    value: Any = None  # FORM steppers {id: value}
    text: str = ""  # KEYBOARD
    composing: str = ""
    keys: str = ""  # keyboard mode (pinyin / letters)
    rating: int = 0
    tags: list[str] = field(default_factory=list)
    page: int = 0  # PREVIEW
    zoom: int = 0


class FitScrollArea(QScrollArea):
    """Texts that scroll inside the card when, and only when, they do not fit: the bar
    shows only then (a wide, touchable one, from the style sheet)."""

    def __init__(self) -> None:
        super().__init__()
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)


def localized(s: Screen, t: Translator) -> Screen:
    """The screen with every translated text in `t`'s language."""
    return replace(
        s, title=retranslate(s.title, t), text=retranslate(s.text, t),
        hint=retranslate(s.hint, t), status=retranslate(s.status, t),
        voice=retranslate(s.voice, t), big=retranslate(s.big, t),
        actions=tuple(replace(a, label=retranslate(a.label, t)) for a in s.actions),
        options=tuple(replace(o, label=retranslate(o.label, t)) for o in s.options),
        fields=tuple(replace(f, label=retranslate(f.label, t)) for f in s.fields),
        rows=tuple((retranslate(a, t), retranslate(b, t)) for a, b in s.rows),
    )


class FlowView(QWidget):
    """One step screen at a time; rebuilt for each screen so nothing stale remains."""

    answered = Signal(object, object)  # Pending, Response

    def __init__(self, metrics: theme.Metrics, translator: Callable[[], Translator],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("flowView")
        self.m = metrics
        self.elder = False
        self._t = translator
        self.pending: Pending | None = None
        self.step_screen: Screen | None = None
        self._outer = QVBoxLayout(self)
        self._card: QWidget | None = None
        # Remote help (kiosk/ui/assist): on error screens, an offer to call an agent.
        self.help_offer: Callable[[], QWidget] | None = None
        self._clear_state()

    def _clear_state(self) -> None:
        self._stars: list[QPushButton] = []
        self._tags: list[QPushButton] = []
        self._rating = 0
        self._value: Callable[[], Any] | None = None
        self._keyboard: Any = None
        self._document: Any = None

    @property
    def portrait(self) -> bool:
        return self.height() > self.width() * 1.05 if self.width() else False

    def clear(self) -> None:
        """Remove every widget of the current screen (and the personal data they showed)."""
        if self._card is not None:
            self._card.hide()
            self._card.setParent(None)
            self._card.deleteLater()
            self._card = None
        self._clear_state()
        self.pending, self.step_screen = None, None

    # -- what the citizen entered ----------------------------------------------------
    def state(self) -> ViewState:
        st = ViewState(rating=self._rating,
                       tags=[b.property("tagId") for b in self._tags if b.property("on") == "true"])
        if self._keyboard is not None:
            kb = self._keyboard
            st.text, st.composing = kb.text, getattr(kb, "composing", "")
            st.keys = getattr(kb, "mode", "")
        elif self._value is not None:
            st.value = self._value()
        if self._document is not None:
            st.page, st.zoom = self._document.page, self._document.zoom
        return st

    def redraw(self, portrait: bool) -> None:
        """Draw the screen on display again (new language or mode), keeping its input."""
        if self.pending is not None:
            self.show_screen(self.pending, portrait, keep=self.state())

    # -- drawing ---------------------------------------------------------------------
    def show_screen(self, pending: Pending, portrait: bool, keep: ViewState | None = None
                    ) -> None:
        self.clear()
        t = self._t()
        self.pending, self.step_screen = pending, pending.screen
        s = localized(pending.screen, t)
        keep = keep or ViewState()
        m = self.m
        self._outer.setContentsMargins(m.space(48), m.space(30), m.space(48), m.space(30))
        card = QWidget(self)
        card.setObjectName("card")
        card.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        v = QVBoxLayout(card)
        v.setContentsMargins(m.space(48), m.space(32), m.space(48), m.space(32))
        v.setSpacing(m.space(20))
        render = RENDERERS.get(s.kind, FlowView._render_generic)
        placed_actions = render(self, s, v, portrait, keep)
        if s.kind == ScreenKind.ERROR and self.help_offer is not None:
            # Under the error's text, in the column that scrolls if it must: a row of its
            # own under the card would take the room of the screen's buttons.
            holder = card.findChild(QWidget, "bodyHolder")
            texts = holder.layout() if holder is not None else None
            if isinstance(texts, QVBoxLayout):
                texts.insertWidget(max(0, texts.count() - 1), self.help_offer())
            else:
                v.addWidget(self.help_offer())
        if not placed_actions:
            v.addLayout(self._actions(s))
        self._outer.addWidget(card)
        self._card = card
        card.show()

    def _title_row(self, s: Screen, stacked: bool = False) -> QLayout:
        box: QBoxLayout = QVBoxLayout() if stacked else QHBoxLayout()
        box.setSpacing(self.m.space(8))
        pos = None
        if s.position != (0, 0):
            pos = label(self._t()("step.position", n=s.position[0], m=s.position[1]),
                        "stepPosition", wrap=stacked)
            pos.setAlignment(Qt.AlignmentFlag.AlignLeft if stacked else
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if stacked and pos is not None:
            box.addWidget(pos)
        box.addWidget(label(s.title, "stepTitle"), 1)
        if not stacked and pos is not None:
            box.addWidget(pos, 0, Qt.AlignmentFlag.AlignTop)
        return box

    def _texts(self) -> tuple[QScrollArea, QVBoxLayout]:
        """A column for texts that scrolls inside the card when (and only when) it must,
        rather than pushing the buttons off the panel."""
        scroll = FitScrollArea()
        scroll.setObjectName("bodyScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        holder = QWidget()
        holder.setObjectName("bodyHolder")
        scroll.setWidget(holder)
        texts = QVBoxLayout(holder)
        texts.setContentsMargins(0, 0, self.m.space(12), 0)
        texts.setSpacing(self.m.space(18))
        return scroll, texts

    def _lead(self, s: Screen, texts: QVBoxLayout) -> None:
        if s.text:
            lead = s.kind in (ScreenKind.IDENTIFY, ScreenKind.PROGRESS, ScreenKind.RESULT,
                              ScreenKind.ERROR)
            texts.addWidget(mark_foreign(label(s.text, "stepLead" if lead else "stepText"),
                                         s.text))
        if s.status:
            texts.addWidget(label(s.status, "stepStatus"))

    def _actions(self, s: Screen) -> QHBoxLayout:
        """Going back / cancelling sits on the left, the way forward on the right."""
        m = self.m
        row = QHBoxLayout()
        row.setSpacing(m.space(24))
        if not s.actions:
            return row
        secondary = [a for a in s.actions if not a.primary]
        primary = [a for a in s.actions if a.primary]
        for group in (secondary, None, primary):
            if group is None:
                row.addStretch(1)
                continue
            for a in group:
                row.addWidget(self._action_button(a))
        return row

    def _action_button(self, a: Action) -> QPushButton:
        b = button(a.label, f"action-{a.id}", primary=a.primary)
        b.setMinimumWidth(theme.target_minimum(f"action-{a.id}", self.m)[0])
        b.clicked.connect(lambda _=False, aid=a.id: self._answer(aid))
        return b

    # -- renderers, one per screen kind ----------------------------------------------
    def _render_body(self, s: Screen, v: QVBoxLayout, portrait: bool, keep: ViewState, *,
                     widgets: Callable[[QVBoxLayout], None] | None = None,
                     beside: QWidget | None = None) -> bool:
        """Title, then an illustration (or `beside`, e.g. the camera) next to (landscape)
        or above (portrait) a column of texts and `widgets` that scrolls if it must."""
        m = self.m
        v.addLayout(self._title_row(s))
        direction = QBoxLayout.Direction.TopToBottom if portrait else \
            QBoxLayout.Direction.LeftToRight
        body = QBoxLayout(direction)
        body.setSpacing(m.space(40))
        if s.illustration:
            ill = Illustration(s.illustration, m.space(420 if portrait else 320))
            body.addWidget(ill, 0, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        if beside is not None:
            body.addWidget(beside, 2)
        scroll, texts = self._texts()
        self._lead(s, texts)
        if widgets is not None:
            widgets(texts)
        if s.hint:
            texts.addWidget(label(s.hint, "stepHint"))
        if any(getattr(x, "foreign", False) for x in
               [*(v for _, v in s.rows), *(o.label for o in s.options)]):
            texts.addWidget(label(self._t()("screen.foreign_data"), "stepHint"))
        texts.addStretch(1)
        body.addWidget(scroll, 1)
        v.addLayout(body, 1)
        return False

    def _render_number(self, s: Screen, v: QVBoxLayout, portrait: bool, keep: ViewState
                       ) -> bool:
        """A number and its facts (a queue ticket): the number is the picture, and every
        fact stays on screen — beside the number in landscape, under it in portrait."""
        from kiosk.ui.form_widgets import big_number

        m = self.m
        v.addLayout(self._title_row(s))
        body = QBoxLayout(QBoxLayout.Direction.TopToBottom if portrait else
                          QBoxLayout.Direction.LeftToRight)
        body.setSpacing(m.space(48))
        number = big_number(s.big, m)
        if portrait:
            scroll, texts = self._texts()
            self._lead(s, texts)
            texts.addWidget(number)
        else:
            body.addWidget(number, 0, Qt.AlignmentFlag.AlignTop)
            scroll, texts = self._texts()
            self._lead(s, texts)
        self._value = add_form_widgets(texts, replace(s, big=""), m, self._t(), portrait,
                                       self._answer, facts=True)
        if s.hint:
            texts.addWidget(label(s.hint, "stepHint"))
        texts.addStretch(1)
        body.addWidget(scroll, 1)
        v.addLayout(body, 1)
        return False

    def _render_generic(self, s: Screen, v: QVBoxLayout, portrait: bool, keep: ViewState
                        ) -> bool:
        """FORM steppers, INFO rows and tabs, big numbers, or only texts."""
        if s.big:
            return self._render_number(s, v, portrait, keep)

        def widgets(texts: QVBoxLayout) -> None:
            fields = s.fields
            if keep.value:
                fields = tuple(replace(f, value=keep.value.get(f.id, f.value)) for f in fields)
            self._value = add_form_widgets(texts, replace(s, fields=fields), self.m, self._t(),
                                           portrait, self._answer)
        return self._render_body(s, v, portrait, keep, widgets=widgets)

    def _render_rating(self, s: Screen, v: QVBoxLayout, portrait: bool, keep: ViewState
                       ) -> bool:
        return self._render_body(s, v, portrait, keep, widgets=lambda texts: texts.addLayout(
            self._rating_widgets(s, portrait, keep)))

    def _render_choice(self, s: Screen, v: QVBoxLayout, portrait: bool, keep: ViewState
                       ) -> bool:
        return self._render_body(s, v, portrait, keep, widgets=lambda texts: texts.addLayout(
            self._choice_widgets(s, portrait)))

    def _render_camera(self, s: Screen, v: QVBoxLayout, portrait: bool, keep: ViewState
                       ) -> bool:
        """Live preview with a face guide (issue 5)."""
        from kiosk.ui.camera_view import CameraView

        view = CameraView(s.camera, s.guide or "center") if s.camera is not None else None
        return self._render_body(s, v, portrait, keep, beside=view)

    def _render_preview(self, s: Screen, v: QVBoxLayout, portrait: bool, keep: ViewState
                        ) -> bool:
        from kiosk.ui.document_view import DocumentView

        if not s.document:
            return self._render_generic(s, v, portrait, keep)
        doc = DocumentView(s.document, self.m, self._t, keep.page, keep.zoom)
        self._document = doc
        panel = self.window().size()  # 16:9 gives the page a column; 5:4 needs the width
        wide = panel.width() >= 1.5 * panel.height() if panel.height() else not portrait
        if portrait or not wide:  # a 5:4 panel too: the page needs the width
            v.addLayout(self._title_row(s))
            if s.hint:
                v.addWidget(label(s.hint, "stepHint"))
            v.addWidget(doc, 1)
            return False
        # Landscape: the page takes the card's whole height; what to read about it, the
        # zoom and page buttons and the way on sit beside it.
        row = QHBoxLayout()
        row.setSpacing(self.m.space(40))
        row.addWidget(doc, 3)
        side = QVBoxLayout()
        side.setSpacing(self.m.space(20))
        side.addLayout(self._title_row(s, stacked=True))
        if s.hint:
            side.addWidget(label(s.hint, "stepHint"))
        side.addStretch(1)
        for a in sorted(s.actions, key=lambda a: a.primary):
            side.addWidget(self._action_button(a))
        row.addLayout(side, 2)
        v.addLayout(row, 1)
        return True

    def _render_keyboard(self, s: Screen, v: QVBoxLayout, portrait: bool, keep: ViewState
                         ) -> bool:
        """Keys never scroll: in portrait they sit under the texts, in landscape beside
        them, with the typed text and the buttons in the left column."""
        from kiosk.ui.keyboard import MODES, OnScreenKeyboard

        m = self.m
        text = keep.text if keep.keys or keep.text else s.entry
        kb: OnScreenKeyboard | CharPad
        if s.keys in MODES:
            # An English-speaking citizen starts on letters (pinyin is one tap away).
            mode = "letters" if s.keys == "pinyin" and self._t().locale == "en" else s.keys
            kb = OnScreenKeyboard(m, keep.keys or mode, max_len=s.max_len,
                                  vocabulary=s.vocabulary, text=text,
                                  composing=keep.composing, entry_outside=True, t=self._t())
            entry: QWidget = kb.entry
            keys: QWidget = kb
        else:
            kb = CharPad(s.keys, m, self._t(), text, s.max_len, portrait, entry_outside=True)
            entry, keys = kb.entry, kb
        self._keyboard = kb
        self._value = lambda: kb.text
        scroll, texts = self._texts()
        self._lead(s, texts)
        if s.hint:
            texts.addWidget(label(s.hint, "stepHint"))
        texts.addStretch(1)
        if portrait:
            # Ten keys across a 1080 px panel: the card gives the keys its margins.
            self._outer.setContentsMargins(m.space(24), m.space(30), m.space(24), m.space(30))
            v.setContentsMargins(m.space(32), m.space(32), m.space(32), m.space(32))
            v.addLayout(self._title_row(s))
            v.addWidget(scroll, 1)
            v.addWidget(entry)
            v.addWidget(keys)
            return False
        row = QHBoxLayout()
        row.setSpacing(m.space(40))
        left = QVBoxLayout()
        left.setSpacing(m.space(20))
        left.addLayout(self._title_row(s, stacked=True))
        left.addWidget(scroll, 1)
        left.addWidget(entry)
        actions = QHBoxLayout()
        actions.setSpacing(m.space(16))
        for a in sorted(s.actions, key=lambda a: a.primary):
            actions.addWidget(self._action_button(a), 1)
        left.addLayout(actions)
        row.addLayout(left, 4)
        right = QVBoxLayout()
        right.addStretch(1)
        right.addWidget(keys)
        row.addLayout(right, 7)
        v.addLayout(row, 1)
        return True

    def _render_signature(self, s: Screen, v: QVBoxLayout, portrait: bool, keep: ViewState
                          ) -> bool:
        """A pad as wide as the card to sign on; `clear` empties it here (the flow hears
        only `back` or `confirm` with the strokes)."""
        from kiosk.ui.signature_pad import SignaturePad

        pad = SignaturePad(self.m, self._t()("signature.placeholder"))
        pad.set_value(keep.value)
        self._value = pad.value
        v.addLayout(self._title_row(s))
        for text, name in ((s.text, "stepText"), (s.status, "stepStatus"), (s.hint, "stepHint")):
            if text:
                v.addWidget(mark_foreign(label(text, name), text))
        if portrait:  # wide rather than tall, like the box it is printed in; within reach
            pad.setMaximumHeight(self.m.space(600))
            v.addStretch(1)
        # Portrait: `clear` sits on the pad's top edge, so the row under it holds only
        # back and confirm (three large buttons in a row do not fit a portrait panel in
        # elder mode: the window grew to 1248 px on a 1080 px panel). Landscape has the
        # width for all three in one row, and no height for another.
        for a in s.actions:
            if a.id == "clear" and portrait:
                top = QHBoxLayout()
                top.addStretch(1)
                b = self._action_button(a)
                b.clicked.disconnect()
                b.clicked.connect(pad.clear)
                top.addWidget(b)
                v.addLayout(top)
        v.addWidget(pad, 1)
        row = QHBoxLayout()
        row.setSpacing(self.m.space(24))
        for a in sorted(s.actions, key=lambda a: a.primary):
            if a.id == "clear" and portrait:
                continue
            b = self._action_button(a)
            if a.id == "clear":
                b.clicked.disconnect()
                b.clicked.connect(pad.clear)
            if a.primary:
                row.addStretch(1)
            row.addWidget(b)
        v.addLayout(row)
        return True

    def _answer(self, action: str) -> None:
        if self.pending is None:
            return
        value = None
        if self.step_screen is not None and self.step_screen.kind == ScreenKind.RATING:
            value = {"stars": self._rating,
                     "tags": [b.property("tagId") for b in self._tags
                              if b.property("on") == "true"]}
        elif self._value is not None:
            value = self._value()  # FORM steppers, KEYBOARD text
        self.answered.emit(self.pending, Response(action, value))

    def _rating_widgets(self, s: Screen, portrait: bool, keep: ViewState) -> QVBoxLayout:
        box = QVBoxLayout()
        stars = QHBoxLayout()
        stars.setSpacing(self.m.space(8))
        for n in range(1, 6):
            b = QPushButton("★")
            b.setObjectName("star")
            b.setProperty("stars", n)
            b.setAccessibleName(self._t()("evaluate.star", n=n))
            b.clicked.connect(lambda _=False, k=n: self._set_rating(k))
            self._stars.append(b)
            stars.addWidget(b)
        stars.addStretch(1)
        box.addLayout(stars)
        grid = QGridLayout()
        grid.setSpacing(self.m.space(16))
        cols = 2 if portrait else 4
        for i, opt in enumerate(s.options):
            b = QPushButton(opt.label)
            b.setObjectName("tag")
            b.setProperty("tagId", opt.id)
            set_flag(b, "on", opt.id in keep.tags)
            b.clicked.connect(lambda _=False, btn=b: set_flag(btn, "on",
                                                               btn.property("on") != "true"))
            self._tags.append(b)
            grid.addWidget(b, i // cols, i % cols)
        box.addLayout(grid)
        self._set_rating(keep.rating)
        return box

    def _set_rating(self, n: int) -> None:
        self._rating = n
        for b in self._stars:
            set_flag(b, "on", int(b.property("stars")) <= n)

    def _choice_widgets(self, s: Screen, portrait: bool) -> QGridLayout:
        grid = QGridLayout()
        grid.setSpacing(self.m.space(20))
        cols = 1 if portrait else 2
        for i, opt in enumerate(s.options):
            b = wrap_button(opt.label, f"option-{opt.id}", primary=opt.primary)
            mark_foreign(b.caption, opt.label)
            b.clicked.connect(lambda _=False, oid=opt.id: self._choose(oid))
            grid.addWidget(b, i // cols, i % cols)
        return grid

    def _choose(self, option: str) -> None:
        if self.pending is not None:
            self.answered.emit(self.pending, Response(option))


Renderer = Callable[[FlowView, Screen, QVBoxLayout, bool, ViewState], bool]
RENDERERS: dict[ScreenKind, Renderer] = {
    ScreenKind.PREVIEW: FlowView._render_preview,
    ScreenKind.KEYBOARD: FlowView._render_keyboard,
    ScreenKind.RATING: FlowView._render_rating,
    ScreenKind.CHOICE: FlowView._render_choice,
    ScreenKind.CAMERA: FlowView._render_camera,
    ScreenKind.SIGNATURE: FlowView._render_signature,
    # IDENTIFY, CONSENT, PROGRESS, RESULT, ERROR, FORM, INFO: texts and form widgets
}
