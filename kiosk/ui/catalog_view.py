"""Building blocks of the catalog screens (issue 17): touch cards, service rows and a grid
that pages with big arrows.

A category may hold fifty services: they are shown as large rows, as many as the panel
has room for, a page at a time with big ◀ ▶ buttons — never an inner scroll area with a
thin bar that hides rows. Rows on a page are all as high as the tallest row of the whole
list (measured with font metrics, not by making 300 widgets), so a page turn never moves
the arrows under a finger; only the rows of the page on display exist as widgets.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QMouseEvent, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.catalog.categories import BY_ID, CATEGORIES
from kiosk.catalog.search import CatalogIndex
from kiosk.flows.model import FlowDef, Zone
from kiosk.i18n import Translator
from kiosk.ui import theme
from kiosk.ui.widgets import label, set_flag
from kiosk.ui.workers import Relay, emit

log = logging.getLogger(__name__)

OTHER = "other"  # services filed under no category

# Type sizes (at u = 1; `Metrics.px` scales them), shared by the style sheet and the
# measurements that decide a row's height.
ROW_TITLE, ROW_SUB, CARD_TITLE, CARD_COUNT = 34, 24, 32, 24


@dataclass(frozen=True)
class Group:
    """A category (or a zone) as the home screen offers it: its services in order."""

    id: str
    title: str  # string key
    flows: tuple[str, ...]


@dataclass
class Catalog:
    """The services on offer, grouped for the home screen. Zone services are found in
    their zone (and by search), not in the home screen's categories: they run against
    another city's platform and a citizen looks for them there."""

    flows: dict[str, FlowDef] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    categories: list[Group] = field(default_factory=list)
    zones: list[Group] = field(default_factory=list)

    @classmethod
    def build(cls, flows: Sequence[FlowDef], zones: Mapping[str, Zone]) -> Catalog:
        by_cat: dict[str, list[str]] = {}
        by_zone: dict[str, list[str]] = {}
        for f in flows:
            if f.zone and f.zone in zones:
                by_zone.setdefault(f.zone, []).append(f.id)
            else:
                by_cat.setdefault(f.category if f.category in BY_ID else OTHER, []).append(f.id)
        cats = [Group(c.id, c.title, tuple(by_cat[c.id])) for c in CATEGORIES if c.id in by_cat]
        if OTHER in by_cat:
            cats.append(Group(OTHER, "catalog.other", tuple(by_cat[OTHER])))
        zs = sorted((z for z in zones.values() if z.id in by_zone), key=lambda z: (z.order, z.id))
        return cls({f.id: f for f in flows}, [f.id for f in flows], cats,
                   [Group(z.id, z.title, tuple(by_zone[z.id])) for z in zs])

    def category(self, cid: str) -> Group | None:
        return next((g for g in self.categories if g.id == cid), None)

    def zone(self, zid: str) -> Group | None:
        return next((g for g in self.zones if g.id == zid), None)

    def zone_categories(self, zid: str) -> list[Group]:
        """The categories within a zone, in the app's order."""
        zone = self.zone(zid)
        if zone is None:
            return []
        by_cat: dict[str, list[str]] = {}
        for fid in zone.flows:
            c = self.flows[fid].category
            by_cat.setdefault(c if c in BY_ID else OTHER, []).append(fid)
        out = [Group(c.id, c.title, tuple(by_cat[c.id])) for c in CATEGORIES if c.id in by_cat]
        if OTHER in by_cat:
            out.append(Group(OTHER, "catalog.other", tuple(by_cat[OTHER])))
        return out

    def home_of(self, fid: str) -> tuple[str, str]:
        """Where a service is listed: ("category", id) or ("zone", id)."""
        f = self.flows[fid]
        if f.zone and self.zone(f.zone) is not None:
            return "zone", f.zone
        return "category", f.category if f.category in BY_ID else OTHER


def font(m: theme.Metrics, size: int, bold: bool = False) -> QFont:
    f = QFont(theme.FONT_FAMILIES[0])
    f.setPixelSize(m.px(size))
    f.setBold(bold)
    return f


def text_height(f: QFont, text: str, width: int) -> int:
    if not text:
        return 0
    fm = QFontMetrics(f)
    flags = int(Qt.TextFlag.TextWordWrap)
    return fm.boundingRect(QRect(0, 0, max(1, width), 1 << 20), flags, text).height()


class TouchCard(QFrame):
    """A touch target made of labels (a service row, a category): pressed look on touch,
    `clicked` when the finger lifts on it."""

    clicked = Signal()

    def __init__(self, name: str, m: theme.Metrics) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setProperty("pressed", "false")
        self.setProperty("touchTarget", True)  # checked against theme.TARGETS
        self.column = QVBoxLayout(self)
        self.column.setContentsMargins(*margins(m))
        self.column.setSpacing(m.space(6))

    def add_label(self, text: str, name: str) -> QLabel:
        lab = label(text, name)
        lab.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.column.addWidget(lab)
        return lab

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


def margins(m: theme.Metrics) -> tuple[int, int, int, int]:
    return m.space(24), m.space(14), m.space(24), m.space(14)


class ServiceRow(TouchCard):
    """One service in a list: its name, a line saying who provides it (not in elder
    mode: the name alone, larger), and why it is paused when it is."""

    def __init__(self, flow: FlowDef, t: Translator, m: theme.Metrics, sub: str,
                 paused: str | None) -> None:
        super().__init__("serviceRow", m)
        self.flow_id = flow.id
        self.setProperty("flowId", flow.id)
        self.title = self.add_label(t(flow.title), "rowTitle")
        if sub:
            self.add_label(sub, "rowSub")
        self.paused = self.add_label(t(paused) if paused else "", "rowPaused")
        self.paused.setVisible(bool(paused))
        self.setEnabled(not paused)
        self.setAccessibleName(t(flow.title))


def row_height(m: theme.Metrics, width: int, title: str, sub: str, paused: str) -> int:
    """The height a ServiceRow needs at `width` (what its layout will give its labels)."""
    left, top, right, bottom = margins(m)
    w = width - left - right - 2 * m.px(2)  # the border
    gap = m.space(6)
    h = top + bottom + 2 * m.px(2) + text_height(font(m, ROW_TITLE, True), title, w)
    for text in (sub, paused):
        if text:
            h += gap + text_height(font(m, ROW_SUB), text, w)
    return h


class GroupCard(TouchCard):
    """A category or zone on the home screen: its name and how many services it holds."""

    def __init__(self, name: str, gid: str, title: str, count: str, m: theme.Metrics) -> None:
        super().__init__(name, m)
        self.group_id = gid
        self.setProperty("groupId", gid)
        self.title = self.add_label(title, "cardTitle")
        self.count = self.add_label(count, "cardCount")
        self.setAccessibleName(title)


def card_height(m: theme.Metrics, width: int, title: str, count: str) -> int:
    left, top, right, bottom = margins(m)
    w = width - left - right - 2 * m.px(2)
    return (top + bottom + 2 * m.px(2) + m.space(6)
            + text_height(font(m, CARD_TITLE, True), title, w)
            + text_height(font(m, CARD_COUNT), count, w))


class _Body(QWidget):
    """Where a grid's cards are placed by hand: it never asks for more than one row, so
    a long list cannot make the window taller than the panel."""

    resized = Signal()

    def __init__(self, least: int, fixed: Callable[[int], int] | None = None) -> None:
        super().__init__()
        self.least, self.fixed = least, fixed
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        if fixed is not None:  # a grid that does not grow: exactly its rows' height
            policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def hasHeightForWidth(self) -> bool:
        return self.fixed is not None

    def heightForWidth(self, width: int) -> int:
        return self.fixed(width) if self.fixed is not None else -1

    def minimumSizeHint(self) -> QSize:
        return QSize(0, self.least)

    def sizeHint(self) -> QSize:
        return QSize(0, self.fixed(max(self.width(), 400)) if self.fixed else self.least)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.resized.emit()


class PagedGrid(QWidget):
    """Cards `columns` across, as many rows as fit (at most `max_rows`), a page at a time.

    `make(id)` builds the card of an item, `measure(id, width)` says how high it must be
    at a column's width. With `paging` off the grid shows its first page only (the most
    used services: as many as fit). `first` is the first item on display; it survives a
    re-layout (a language or mode switch, a rotated panel)."""

    pageChanged = Signal(int)  # the first item's index

    def __init__(self, m: theme.Metrics, t: Translator, columns: int,
                 make: Callable[[str], QWidget], measure: Callable[[str, int], int],
                 least: int, *, name: str = "grid", max_rows: int = 0,
                 paging: bool = True, grow: bool = True, min_w: int = 0) -> None:
        super().__init__()
        self.setObjectName(name)
        self.m, self.t = m, t
        # At most `columns` across: fewer where a column would be narrower than min_w.
        self.most_columns, self.columns = columns, columns
        self.max_rows, self.paging, self.min_w = max_rows, paging, min_w
        self.make, self.measure, self.least = make, measure, least
        self.items: list[str] = []
        self.first = self.anchor = 0
        self.per_page = 0
        self.row_h = least
        self.gap = m.space(20)
        self.cards: dict[str, QWidget] = {}
        self._heights: dict[tuple[str, int], int] = {}
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(m.space(16))
        self.body = _Body(least, None if grow else self.fixed_height)
        self.body.resized.connect(self.relayout)
        v.addWidget(self.body, 1 if grow else 0)
        nav = self.nav = QWidget()
        row = QHBoxLayout(nav)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(m.space(24))
        self.prev = QPushButton(t("catalog.prev"))
        self.prev.setObjectName("page-prev")
        self.prev.clicked.connect(lambda: self.turn(-1))
        self.next = QPushButton(t("catalog.next"))
        self.next.setObjectName("page-next")
        self.next.setProperty("primary", "true")
        self.next.clicked.connect(lambda: self.turn(1))
        self.page_label = label("", "pageLabel", wrap=False)
        self.page_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        row.addWidget(self.prev)
        row.addStretch(1)
        row.addWidget(self.page_label)
        row.addStretch(1)
        row.addWidget(self.next)
        nav.hide()
        v.addWidget(nav)

    # -- items and pages ---------------------------------------------------------------
    def set_items(self, items: Sequence[str], first: int = 0) -> None:
        self.items = list(items)
        self.first = max(0, min(first, len(self.items) - 1)) if self.items else 0
        # The item the citizen's page starts with: a re-layout (a smaller size on the way
        # to the real one) shows the page holding it, and never loses it.
        self.anchor = self.first
        self.relayout()

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.items) // self.per_page)) if self.per_page else 1

    @property
    def page(self) -> int:
        return self.first // self.per_page if self.per_page else 0

    def page_of(self, item: str) -> int:
        return self.items.index(item) // self.per_page if self.per_page else 0

    def turn(self, delta: int) -> None:
        page = max(0, min(self.page + delta, self.pages - 1))
        self.first = self.anchor = page * self.per_page
        self._place()
        self.pageChanged.emit(self.first)

    def fixed_height(self, width: int) -> int:
        """For a grid that does not grow: the height of all its rows (up to max_rows)."""
        self.columns = self._columns_for(width)
        col_w = self._col_w(width)
        row_h = self._row_h(col_w)
        rows = -(-len(self.items) // self.columns) if self.items else 1
        if self.max_rows:
            rows = min(rows, self.max_rows)
        return rows * row_h + (rows - 1) * self.gap

    # -- placing -----------------------------------------------------------------------
    def _columns_for(self, width: int) -> int:
        fit = (width + self.gap) // (self.min_w + self.gap) if self.min_w else self.most_columns
        return max(1, min(self.most_columns, fit))

    def _col_w(self, width: int) -> int:
        return max(1, (width - (self.columns - 1) * self.gap) // self.columns)

    def _row_h(self, col_w: int) -> int:
        return max([self.least] + [self._measured(i, col_w) for i in self.items])

    def _measured(self, item: str, width: int) -> int:
        """An item's height at a width, measured once (search results come back often)."""
        key = (item, width)
        if key not in self._heights:
            self._heights[key] = self.measure(item, width)
        return self._heights[key]

    def relayout(self) -> None:
        """How many rows fit the body's height, and which page shows `first`."""
        w, h = self.body.width(), self.body.height()
        if w <= 1 or h <= 1:
            return
        self.columns = self._columns_for(w)
        self.row_h = self._row_h(self._col_w(w))
        rows = max(1, (h + self.gap) // (self.row_h + self.gap))
        if self.max_rows:
            rows = min(rows, self.max_rows)
        self.per_page = rows * self.columns
        many = self.paging and len(self.items) > self.per_page
        if many == self.nav.isHidden():  # (isVisible: False too while not yet on screen)
            self.nav.setVisible(many)  # the body's height changes: laid out again
        self.first = (self.anchor // self.per_page) * self.per_page
        self._place()

    def _place(self) -> None:
        for card in self.cards.values():
            card.hide()  # (not setParent(None): a top-level window costs ~0.5 ms a card)
            card.deleteLater()
        self.cards = {}
        if not self.per_page:
            return
        col_w = self._col_w(self.body.width())
        shown = self.items[self.first:self.first + self.per_page]
        for n, item in enumerate(shown):
            card = self.make(item)
            card.setParent(self.body)
            r, c = divmod(n, self.columns)
            card.setGeometry(c * (col_w + self.gap), r * (self.row_h + self.gap),
                             col_w, self.row_h)
            card.show()
            self.cards[item] = card
        self.prev.setEnabled(self.page > 0)
        self.next.setEnabled(self.page < self.pages - 1)
        self.page_label.setText(self.t("catalog.page", n=self.page + 1, m=self.pages))


def stylesheet(m: theme.Metrics) -> str:
    """The catalog screens' own rules (on top of theme.stylesheet)."""
    c = theme.palette(m.elder)
    return f"""
    #serviceRow, #categoryCard, #zoneCard {{ background: {c["surface"]};
        border: {m.px(2)}px solid #C9D6E3; border-radius: {m.px(14)}px; }}
    #zoneCard {{ border-color: {theme.ACCENT}; }}
    #serviceRow[pressed="true"], #categoryCard[pressed="true"], #zoneCard[pressed="true"] {{
        background: #DCE9F7; }}
    #serviceRow:disabled {{ background: #E4E7EB; }}
    #rowTitle {{ font-size: {m.px(ROW_TITLE)}px; font-weight: bold; color: {c["primary_dark"]}; }}
    #rowSub {{ font-size: {m.px(ROW_SUB)}px; color: {c["muted"]}; }}
    #rowPaused {{ font-size: {m.px(ROW_SUB)}px; color: {c["warn"]}; }}
    #cardTitle {{ font-size: {m.px(CARD_TITLE)}px; font-weight: bold; color: {c["primary_dark"]}; }}
    #cardCount {{ font-size: {m.px(CARD_COUNT)}px; color: {c["muted"]}; }}
    #sectionTitle {{ font-size: {m.px(34)}px; font-weight: bold; }}
    #catalogTitle {{ font-size: {m.title}px; font-weight: bold; }}
    #pageLabel {{ font-size: {m.body}px; color: {c["muted"]}; }}
    #searchHint, #noResult {{ font-size: {m.body}px; color: {c["muted"]}; }}
    #noResult {{ color: {c["ink"]}; }}
    #searchField {{ background: white; border: {m.px(3)}px solid {c["primary"]};
        border-radius: {m.px(20)}px; }}
    #searchField[pressed="true"] {{ background: #DCE9F7; }}
    #searchFieldText {{ font-size: {m.px(32)}px; color: {c["muted"]}; }}
    """


class SearchWorker:
    """Catalog search off the UI thread (it costs up to ~6 ms a keystroke at 300
    services, and building the index ~1 s): one thread, the latest query only — a query
    typed over is never searched — answers back on the UI thread through `relay.done`
    ("found", (query, locale, flow ids)).

    `index()` gives the search index of the package set on display (built, on this
    thread, when it changes)."""

    def __init__(self, index: Callable[[], CatalogIndex]) -> None:
        self.relay = Relay()
        self._index = index
        self._cond = threading.Condition()
        self._want: tuple[str, str] | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="catalog-search")
        self._thread.start()

    def ask(self, query: str, locale: str) -> None:
        with self._cond:
            self._want = (query, locale)
            self._cond.notify()

    def prepare(self) -> None:
        """Build the index now (while nobody is typing)."""
        self.ask("", "")

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._want is None and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                query, locale = self._want or ("", "")
                self._want = None
            try:
                index = self._index()
                ids = [h.flow_id for h in index.search(query, locale)] if query else []
            except Exception:  # the kiosk goes on; the note says nothing was found
                log.exception("catalog search failed")
                ids = []
            if query:
                emit(self.relay, "found", (query, locale, ids))
