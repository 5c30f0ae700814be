"""Draws any step screen (`Screen` descriptor) generically and returns the answer."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QScrollArea,
    QGridLayout,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.flows.interaction import Pending
from kiosk.flows.screens import Response, Screen, ScreenKind
from kiosk.i18n import Translator
from kiosk.ui import theme
from kiosk.ui.form_widgets import add_form_widgets
from kiosk.ui.illustration import Illustration
from kiosk.ui.widgets import button, label, set_flag


class ScaledImage(QWidget):
    """Shows a picture as large as fits, keeping its aspect ratio."""

    def __init__(self, png: bytes, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("previewImage")
        self._pix = QPixmap()
        self._pix.loadFromData(png, "PNG")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        self.setMinimumHeight(120)

    def paintEvent(self, _event: object) -> None:  # noqa: N802 (Qt API)
        if self._pix.isNull():
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        scaled = self._pix.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        x = (self.width() - scaled.width()) / 2
        p.fillRect(QRectF(x - 2, -1, scaled.width() + 4, scaled.height() + 2), Qt.GlobalColor.gray)
        p.drawPixmap(QRectF(x, 0, scaled.width(), scaled.height()), self._pix,
                     QRectF(self._pix.rect()))
        p.end()


class FitScrollArea(QScrollArea):
    """Scrolls only when the content really is taller than the room it has."""

    def resizeEvent(self, event: object) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)  # type: ignore[arg-type]
        inner = self.widget()
        if inner is None:
            return
        width = self.viewport().width()
        need = inner.heightForWidth(width) if inner.hasHeightForWidth() else \
            inner.minimumSizeHint().height()
        fits = need <= self.height()
        policy = Qt.ScrollBarPolicy.ScrollBarAlwaysOff if fits else \
            Qt.ScrollBarPolicy.ScrollBarAsNeeded
        if self.verticalScrollBarPolicy() != policy:
            self.setVerticalScrollBarPolicy(policy)


class FlowView(QWidget):
    """One step screen at a time; rebuilt for each screen so nothing stale remains."""

    answered = Signal(object, object)  # Pending, Response

    def __init__(self, metrics: theme.Metrics, translator: Callable[[], Translator],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("flowView")
        self.m = metrics
        self._t = translator
        self.pending: Pending | None = None
        self.screen: Screen | None = None
        self._outer = QVBoxLayout(self)
        self._outer.setContentsMargins(self.m.space(48), self.m.space(30), self.m.space(48),
                                       self.m.space(30))
        self._card: QWidget | None = None
        self._stars: list[QPushButton] = []
        self._tags: list[QPushButton] = []
        self._rating = 0

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
        self._stars, self._tags = [], []
        self._value = None
        self.pending, self.screen = None, None

    def show_screen(self, pending: Pending, portrait: bool) -> None:
        self.clear()
        self.pending, self.screen = pending, pending.screen
        s = pending.screen
        m = self.m
        card = QWidget(self)
        card.setObjectName("card")
        card.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        v = QVBoxLayout(card)
        self._outer.setContentsMargins(m.space(48), m.space(30), m.space(48), m.space(30))
        v.setContentsMargins(m.space(48), m.space(32), m.space(48), m.space(32))
        v.setSpacing(m.space(20))
        top = QHBoxLayout()
        top.addWidget(label(s.title, "stepTitle"), 1)
        if s.position != (0, 0):
            pos = label(self._t()("step.position", n=s.position[0], m=s.position[1]),
                        "stepPosition", wrap=False)
            pos.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            top.addWidget(pos, 0, Qt.AlignmentFlag.AlignTop)
        v.addLayout(top)

        if s.kind == ScreenKind.PREVIEW and s.image_png:
            v.addWidget(ScaledImage(s.image_png), 1)
            if s.hint:
                v.addWidget(label(s.hint, "stepHint"))
        else:
            direction = QBoxLayout.Direction.TopToBottom if portrait else \
                QBoxLayout.Direction.LeftToRight
            body = QBoxLayout(direction)
            body.setSpacing(m.space(40))
            if s.illustration:
                ill = Illustration(s.illustration, m.space(420 if portrait else 320))
                body.addWidget(ill, 0, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            if s.kind == ScreenKind.CAMERA and s.camera is not None:  # live preview (issue 5)
                from kiosk.ui.camera_view import CameraView

                body.addWidget(CameraView(s.camera, s.guide or "center"), 2)
            # Long texts (a consent in English, elder mode) scroll inside the card
            # rather than pushing the buttons off the panel.
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
            texts.setContentsMargins(0, 0, m.space(12), 0)
            texts.setSpacing(m.space(18))
            if s.text:
                lead = s.kind in (ScreenKind.IDENTIFY, ScreenKind.PROGRESS, ScreenKind.RESULT,
                                  ScreenKind.ERROR)
                texts.addWidget(label(s.text, "stepLead" if lead else "stepText"))
            if s.status:
                texts.addWidget(label(s.status, "stepStatus"))
            if s.kind == ScreenKind.RATING:
                texts.addLayout(self._rating_widgets(s, portrait))
            if s.kind == ScreenKind.CHOICE:
                texts.addLayout(self._choice_widgets(s, pending, portrait))
            self._value = add_form_widgets(texts, s, m, self._t(), portrait, self._answer)
            if s.hint:
                texts.addWidget(label(s.hint, "stepHint"))
            texts.addStretch(1)
            body.addWidget(scroll, 1)
            v.addLayout(body, 1)

        if s.actions:
            # Going back / cancelling sits on the left, the way forward on the right.
            row = QHBoxLayout()
            row.setSpacing(m.space(24))
            secondary = [a for a in s.actions if not a.primary]
            primary = [a for a in s.actions if a.primary]
            for group in (secondary, None, primary):
                if group is None:
                    row.addStretch(1)
                    continue
                for a in group:
                    b = button(a.label, f"action-{a.id}", primary=a.primary)
                    b.setMinimumWidth(m.px(300 if a.primary else 240))
                    b.clicked.connect(lambda _=False, aid=a.id: self._answer(aid))
                    row.addWidget(b)
            v.addLayout(row)
        self._outer.addWidget(card)
        self._card = card
        card.show()

    def _answer(self, action: str) -> None:
        if self.pending is None:
            return
        value = None
        if self.screen is not None and self.screen.kind == ScreenKind.RATING:
            value = {"stars": self._rating,
                     "tags": [b.property("tagId") for b in self._tags if b.property("on") == "true"]}
        elif getattr(self, "_value", None) is not None:
            value = self._value()  # FORM steppers, KEYBOARD text
        self.answered.emit(self.pending, Response(action, value))

    def _rating_widgets(self, s: Screen, portrait: bool) -> QVBoxLayout:
        box = QVBoxLayout()
        stars = QHBoxLayout()
        stars.setSpacing(self.m.space(8))
        self._rating = 0
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
            b.setProperty("on", "false")
            b.clicked.connect(lambda _=False, btn=b: set_flag(btn, "on",
                                                               btn.property("on") != "true"))
            self._tags.append(b)
            grid.addWidget(b, i // cols, i % cols)
        box.addLayout(grid)
        return box

    def _set_rating(self, n: int) -> None:
        self._rating = n
        for b in self._stars:
            set_flag(b, "on", int(b.property("stars")) <= n)

    def _choice_widgets(self, s: Screen, pending: Pending, portrait: bool) -> QGridLayout:
        grid = QGridLayout()
        grid.setSpacing(self.m.space(20))
        cols = 1 if portrait else 2
        for i, opt in enumerate(s.options):
            b = button(opt.label, f"option-{opt.id}", primary=opt.primary)
            b.clicked.connect(lambda _=False, oid=opt.id: self.answered.emit(
                pending, Response(oid)))
            grid.addWidget(b, i // cols, i % cols)
        return grid
