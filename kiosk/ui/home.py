"""Attract screen and home screen (service tiles from the flow catalog)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

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
        touch = self.touch = QPushButton(t("attract.touch"))
        touch.setObjectName("attractTouch")
        touch.clicked.connect(self.touched.emit)
        v.addWidget(touch, 0, Qt.AlignmentFlag.AlignHCenter)
        hint = label(t("attract.hint"), "attractHint")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        v.addWidget(hint)
        v.addStretch(2)

    def mousePressEvent(self, event: object) -> None:
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
        self.setProperty("touchTarget", True)  # checked against theme.TARGETS["tile"]
        self.setMinimumHeight(theme.target_minimum("tile", m)[1])  # text may make it taller
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        v = QVBoxLayout(self)
        v.setContentsMargins(m.px(28), m.px(20), m.px(28), m.px(20))
        self.title = label(t(flow.title), "tileTitle")
        self.title.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        v.addWidget(self.title)
        if flow.subtitle and not m.elder:  # elder mode: the title alone, larger
            sub = label(t(flow.subtitle), "tileSub")
            sub.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            v.addWidget(sub)
        self.paused = label(t("home.offline_tile"), "tilePaused")
        self.paused.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.paused.hide()
        v.addWidget(self.paused)
        v.addStretch(1)
        self.setAccessibleName(t(flow.title))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            set_flag(self, "pressed", True)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        was_pressed = self.property("pressed") == "true"
        set_flag(self, "pressed", False)
        if (was_pressed and event.button() == Qt.MouseButton.LeftButton
                and self.rect().contains(event.position().toPoint())):
            self.clicked.emit()

    def click(self) -> None:
        if self.isEnabled():
            self.clicked.emit()


class HomeScreen(QWidget):
    """Service tiles, a page at a time (elder mode shows fewer, larger tiles per page)."""

    flowChosen = Signal(str)

    def __init__(self, m: theme.Metrics, t: Translator, parent: QWidget | None = None,
                 portrait: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName("home")
        self.m, self.t = m, t
        self.tiles: dict[str, Tile] = {}
        self.order: list[str] = []
        self.columns, self.per_page, self.page = 3, 9, 0
        v = self._column = QVBoxLayout(self)
        v.setContentsMargins(m.space(60), m.space(24), m.space(60), m.space(24))
        v.setSpacing(m.space(28))
        # Landscape: the page buttons share the title's row, so the tiles get the height;
        # portrait: they sit under the tiles, where the width is.
        top = QHBoxLayout()
        top.setSpacing(m.space(24))
        self.title = label(t("home.title"), "homeTitle")
        top.addWidget(self.title, 1)
        v.addLayout(top)
        self.grid = QGridLayout()
        self.grid.setSpacing(m.space(28))
        v.addLayout(self.grid)
        v.addStretch(1)
        nav = top
        if portrait:
            nav = QHBoxLayout()
            nav.setSpacing(m.space(24))
            v.addLayout(nav)
        self.prev = QPushButton(t("home.prev_page"))
        self.prev.setObjectName("home-prev")
        self.prev.clicked.connect(lambda: self.show_page(self.page - 1))
        self.next = QPushButton(t("home.next_page"))
        self.next.setObjectName("home-next")
        self.next.setProperty("primary", "true")
        self.next.clicked.connect(lambda: self.show_page(self.page + 1))
        self.page_label = label("", "homePage", wrap=False)
        self.page_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        nav.addWidget(self.prev)
        if portrait:
            nav.addStretch(1)
        nav.addWidget(self.page_label)
        if portrait:
            nav.addStretch(1)
        nav.addWidget(self.next)

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.order) // self.per_page))

    def set_catalog(self, flows: list[FlowDef], columns: int,
                    is_paused: Callable[[FlowDef], bool | str | None] = lambda f: None,
                    rows: int = 3, room: QSize | None = None) -> None:
        """Tiles for `flows`, `columns` across and at most `rows` down a page — fewer when
        `room` (the panel under the header) cannot hold that many at their height. A tile
        is paused while `is_paused(flow)` gives a reason (a key shown on it)."""
        for tile in self.tiles.values():
            tile.setParent(None)
            tile.deleteLater()
        self.tiles, self.order = {}, []
        self.columns, self.per_page = columns, max(1, columns * rows)
        for flow in flows:
            tile = Tile(flow, self.t, self.m)
            tile.clicked.connect(lambda fid=flow.id: self.flowChosen.emit(fid))
            paused = is_paused(flow)  # why, as a translation key (or a plain flag)
            if isinstance(paused, str):
                tile.paused.setText(self.t(paused))
            tile.setEnabled(not paused)
            tile.paused.setVisible(bool(paused))
            tile.hide()
            self.tiles[flow.id] = tile
            self.order.append(flow.id)
        for c in range(4):
            self.grid.setColumnStretch(c, 1 if c < columns else 0)
        if room is not None:
            self.per_page = columns * self._rows_that_fit(room, columns, rows)
        self.show_page(min(self.page, self.pages - 1))

    def _rows_that_fit(self, room: QSize, columns: int, most: int) -> int:
        m = self._column.contentsMargins()
        gap = self.grid.spacing()
        col_w = (room.width() - m.left() - m.right() - (columns - 1) * gap) // columns
        tile_h = max([t.heightForWidth(col_w) if t.hasHeightForWidth()
                      else t.minimumSizeHint().height() for t in self.tiles.values()]
                     + [theme.target_minimum("tile", self.m)[1]])
        top = max(self.title.sizeHint().height(), self.next.sizeHint().height())
        avail = room.height() - m.top() - m.bottom() - top - self._column.spacing()
        return max(1, min(most, (avail + gap) // (tile_h + gap)))

    def show_page(self, page: int) -> None:
        self.page = max(0, min(page, self.pages - 1))
        for tile in self.tiles.values():
            self.grid.removeWidget(tile)
            tile.hide()
        first = self.page * self.per_page
        for i, fid in enumerate(self.order[first:first + self.per_page]):
            tile = self.tiles[fid]
            self.grid.addWidget(tile, i // self.columns, i % self.columns)
            tile.show()
        many = self.pages > 1
        self.prev.setVisible(many)
        self.next.setVisible(many)
        self.page_label.setVisible(many)
        self.prev.setEnabled(self.page > 0)
        self.next.setEnabled(self.page < self.pages - 1)
        self.page_label.setText(self.t("home.page", n=self.page + 1, m=self.pages))

    def page_of(self, flow_id: str) -> int:
        return self.order.index(flow_id) // self.per_page
