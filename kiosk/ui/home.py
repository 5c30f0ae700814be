"""Attract screen and home screen (service tiles from the flow catalog)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from kiosk.flows.model import FlowDef
from kiosk.i18n import Translator
from kiosk.ui import theme
from kiosk.ui.widgets import label, set_flag


class AttractScreen(QWidget):
    touched = Signal()

    def __init__(self, m: theme.Metrics, t: Translator, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attract")
        # Its stretches absorb any height: never let a wrapped label's size estimate
        # push the window beyond the panel.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
        v = QVBoxLayout(self)
        v.setSpacing(m.px(36))
        v.addStretch(2)
        for text, name in ((t("app.title"), "attractTitle"), (t("app.subtitle"), "attractSub")):
            lab = label(text, name)
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
            v.addWidget(lab)
        v.addStretch(1)
        touch = QPushButton(t("attract.touch"))
        touch.setObjectName("attractTouch")
        touch.clicked.connect(self.touched.emit)
        v.addWidget(touch, 0, Qt.AlignmentFlag.AlignHCenter)
        hint = label(t("attract.hint"), "attractHint")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        v.addWidget(hint)
        v.addStretch(2)

    def mousePressEvent(self, event: object) -> None:  # noqa: N802 (Qt API)
        self.touched.emit()


class Tile(QFrame):
    """A service tile: a touch target whose layout grows with its (wrapping) text."""

    clicked = Signal()

    def __init__(self, flow: FlowDef, t: Translator, m: theme.Metrics) -> None:
        super().__init__()
        self.setObjectName("tile")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.flow_id = flow.id
        self.setProperty("flowId", flow.id)
        self.setProperty("pressed", "false")
        self.setMinimumHeight(m.px(190))
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        v = QVBoxLayout(self)
        v.setContentsMargins(m.px(28), m.px(20), m.px(28), m.px(20))
        self.title = label(t(flow.title), "tileTitle")
        self.title.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        v.addWidget(self.title)
        if flow.subtitle:
            sub = label(t(flow.subtitle), "tileSub")
            sub.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            v.addWidget(sub)
        self.paused = label(t("home.offline_tile"), "tilePaused")
        self.paused.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.paused.hide()
        v.addWidget(self.paused)
        v.addStretch(1)
        self.setAccessibleName(t(flow.title))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.button() == Qt.MouseButton.LeftButton:
            set_flag(self, "pressed", True)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        was_pressed = self.property("pressed") == "true"
        set_flag(self, "pressed", False)
        if (was_pressed and event.button() == Qt.MouseButton.LeftButton
                and self.rect().contains(event.position().toPoint())):
            self.clicked.emit()

    def click(self) -> None:
        if self.isEnabled():
            self.clicked.emit()


class HomeScreen(QWidget):
    flowChosen = Signal(str)

    def __init__(self, m: theme.Metrics, t: Translator, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("home")
        self.m, self.t = m, t
        self.tiles: dict[str, Tile] = {}
        v = QVBoxLayout(self)
        v.setContentsMargins(m.px(60), m.px(40), m.px(60), m.px(40))
        v.setSpacing(m.px(32))
        v.addWidget(label(t("home.title"), "homeTitle"))
        self.grid = QGridLayout()
        self.grid.setSpacing(m.px(28))
        v.addLayout(self.grid)
        v.addStretch(1)

    def set_catalog(self, flows: list[FlowDef], columns: int,
                    is_paused: Callable[[FlowDef], bool] = lambda f: False) -> None:
        for tile in self.tiles.values():
            tile.setParent(None)
            tile.deleteLater()
        self.tiles = {}
        for i, flow in enumerate(flows):
            tile = Tile(flow, self.t, self.m)
            tile.clicked.connect(lambda fid=flow.id: self.flowChosen.emit(fid))
            paused = is_paused(flow)
            tile.setEnabled(not paused)
            tile.paused.setVisible(paused)
            self.grid.addWidget(tile, i // columns, i % columns)
            self.tiles[flow.id] = tile
        for c in range(columns):
            self.grid.setColumnStretch(c, 1)
