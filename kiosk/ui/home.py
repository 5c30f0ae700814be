"""Attract screen and home screen: the service catalog (issue 17).

The home screen offers a search field, the most used services, the categories and the
zones; a category lists its services a page at a time (kiosk/ui/catalog_view.py); search
runs on the on-screen keyboard's every key. Every service is reachable in three touches:
home -> category -> service, home -> zone -> (category) -> service, or search.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.flows.model import FlowDef, Zone
from kiosk.i18n import Translator, typed
from kiosk.ui import theme
from kiosk.ui.catalog_view import (
    Catalog,
    Group,
    GroupCard,
    PagedGrid,
    SearchWorker,
    ServiceRow,
    TouchCard,
    card_height,
    font,
    row_height,
    stylesheet,
    text_height,
)
from kiosk.ui.keyboard import OnScreenKeyboard
from kiosk.ui.widgets import label


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


class Tile(TouchCard):
    """A service tile (the most used services on the home screen): larger than a row."""

    def __init__(self, flow: FlowDef, t: Translator, m: theme.Metrics,
                 paused: str | None = None) -> None:
        super().__init__("tile", m)
        self.flow_id = flow.id
        self.setProperty("flowId", flow.id)
        self.setMinimumHeight(theme.target_minimum("tile", m)[1])  # text may make it taller
        self.column.setContentsMargins(*_tile_margins(m))
        self.title = self.add_label(t(flow.title), "tileTitle")
        if flow.subtitle and not m.elder:  # elder mode: the title alone, larger
            self.add_label(t(flow.subtitle), "tileSub")
        self.paused = self.add_label(t(paused) if paused else t("home.offline_tile"),
                                     "tilePaused")
        self.paused.setVisible(bool(paused))
        self.setEnabled(not paused)
        self.column.addStretch(1)
        self.setAccessibleName(t(flow.title))


def _tile_margins(m: theme.Metrics) -> tuple[int, int, int, int]:
    return m.px(28), m.px(20), m.px(28), m.px(20)


def tile_height(m: theme.Metrics, width: int, title: str, sub: str, paused: str) -> int:
    left, top, right, bottom = _tile_margins(m)
    w = width - left - right - 2 * m.px(2)
    h = top + bottom + 2 * m.px(2) + text_height(font(m, 38, True), title, w)
    for text in (sub, paused):
        if text:
            h += m.space(6) + text_height(font(m, 24), text, w)
    return max(h, theme.target_minimum("tile", m)[1])


@dataclass
class Nav:
    """Where the citizen is in the catalog: kept when the screen is drawn again (another
    language, elder mode, a rotated panel, a service paused)."""

    page: str = "home"  # home | category | zone | search
    group: str = ""  # the category or zone on display
    sub: str = ""  # a category within a zone
    first: int = 0  # the first item of the list page on display
    query: str = ""  # search: what was typed (characters chosen) …
    composing: str = ""  # … letters not turned into characters (searched as pinyin)
    keys: str = ""  # the keyboard's mode (pinyin / letters)


# Screen names announced for each page (MainWindow.screenShown).
SCREEN = {"home": "home", "category": "catalog.category", "zone": "catalog.zone",
          "search": "catalog.search"}
# A zone with more services than this lists its categories first.
ZONE_SPLIT = 12


class _Targets(Mapping[str, "ServiceRow | Tile"]):
    """Every service on offer -> its touch target, brought on screen the way a citizen
    would reach it (the home screen's tile, else its category's page). For tests and the
    scripted citizen: `tap(home.tiles[flow_id])`."""

    def __init__(self, home: HomeScreen) -> None:
        self.home = home

    def __getitem__(self, fid: str) -> ServiceRow | Tile:
        return self.home.reach(fid)

    def __contains__(self, fid: object) -> bool:
        return fid in self.home.catalog.flows

    def __iter__(self) -> Iterator[str]:
        return iter(self.home.catalog.order)

    def __len__(self) -> int:
        return len(self.home.catalog.order)


class HomeScreen(QWidget):
    """The catalog: a search field, the most used services, the categories and the zones;
    a category's (or zone's) services a page at a time; search with the on-screen keys.

    Pages are built when shown (nothing stale remains) from `nav`, so a redraw in another
    language or mode shows the same place."""

    flowChosen = Signal(str)
    shown = Signal(str, str)  # screen name, words to say (may be empty)

    def __init__(self, m: theme.Metrics, t: Translator, parent: QWidget | None = None,
                 portrait: bool = False, nav: Nav | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("home")
        self.m, self.t, self.portrait = m, t, portrait
        self.setStyleSheet(stylesheet(m))
        self.nav = nav or Nav()
        self.catalog = Catalog()
        self.is_paused: Callable[[FlowDef], bool | str | None] = lambda f: None
        self.most_used: list[str] = []
        self.search: SearchWorker | None = None
        # The query whose results are on display (answers arrive from the search thread).
        self.answered = ""
        self._keep_first = False
        self.view: QWidget | None = None
        self.grids: dict[str, PagedGrid] = {}
        self.back: QPushButton | None = None
        self.search_field: TouchCard | None = None
        self.title: QLabel | None = None
        self.keyboard: OnScreenKeyboard | None = None
        self.result_note: QLabel | None = None
        self._column = QVBoxLayout(self)
        self._column.setContentsMargins(m.space(48), m.space(24), m.space(48), m.space(24))

    # -- the catalog -------------------------------------------------------------------
    def set_catalog(self, flows: list[FlowDef],
                    is_paused: Callable[[FlowDef], bool | str | None] = lambda f: None, *,
                    zones: Mapping[str, Zone] | None = None, most_used: Sequence[str] = (),
                    search: SearchWorker | None = None) -> None:
        """The services on offer; `is_paused(flow)` gives why one is paused (a key), the
        most used come first on the home screen, `search` answers what is typed."""
        self.catalog = Catalog.build(flows, zones or {})
        self.is_paused = is_paused
        self.most_used = [f for f in most_used if f in self.catalog.flows]
        if search is not self.search and search is not None:
            search.relay.done.connect(self._found, Qt.ConnectionType.QueuedConnection)
        self.search = search
        if not self._valid(self.nav):
            self.nav = Nav()
        self._render()

    @property
    def tiles(self) -> _Targets:
        return _Targets(self)

    def _valid(self, nav: Nav) -> bool:
        if nav.page == "category":
            return self.catalog.category(nav.group) is not None
        if nav.page == "zone":
            return self.catalog.zone(nav.group) is not None
        return True

    def _paused(self, fid: str) -> str | None:
        why = self.is_paused(self.catalog.flows[fid])
        if not why:
            return None
        return why if isinstance(why, str) else "home.offline_tile"

    # -- navigation --------------------------------------------------------------------
    def go(self, nav: Nav, announce: bool = True) -> None:
        self.nav = nav
        self._render()
        if announce:
            self.shown.emit(SCREEN[nav.page], self._speech())

    def go_home(self, announce: bool = False) -> None:
        self.go(Nav(), announce)

    def open_category(self, cid: str, announce: bool = True) -> None:
        self.go(Nav("category", cid), announce)

    def open_zone(self, zid: str, sub: str = "", announce: bool = True) -> None:
        self.go(Nav("zone", zid, sub), announce)

    def open_search(self, announce: bool = True) -> None:
        self.go(Nav("search"), announce)

    def go_back(self) -> None:
        if self.nav.page == "zone" and self.nav.sub:
            self.open_zone(self.nav.group)
        else:
            self.go(Nav())

    def _speech(self) -> str:
        nav = self.nav
        if nav.page == "home":
            return str(self.t("home.title"))
        if nav.page == "search":
            return str(self.t("catalog.search_title"))
        return self._group_title()

    def _group_title(self) -> str:
        nav = self.nav
        group = (self.catalog.category(nav.group) if nav.page == "category"
                 else self.catalog.zone(nav.group))
        if group is None:
            return ""
        title = str(self.t(group.title))
        if nav.sub:
            sub = next((g for g in self.catalog.zone_categories(nav.group) if g.id == nav.sub),
                       None)
            if sub is not None:
                title = str(self.t("catalog.zone_category", zone=title, category=self.t(sub.title)))
        return title

    # -- drawing -----------------------------------------------------------------------
    def _render(self) -> None:
        if self.view is not None:
            self.view.hide()
            self._column.removeWidget(self.view)
            self.view.setParent(None)
            self.view.deleteLater()
        self.grids, self.back, self.search_field = {}, None, None
        self.keyboard, self.result_note = None, None
        page = {"home": self._home_page, "category": self._list_page,
                "zone": self._zone_page, "search": self._search_page}[self.nav.page]
        self.view = page()
        self._column.addWidget(self.view)
        if self.isVisible():
            self.view.show()  # now, not on the next turn of the event loop: polished at once

    def _section(self, v: QVBoxLayout, key: str) -> None:
        v.addWidget(label(self.t(key), "sectionTitle"))

    def _home_page(self) -> QWidget:
        m, t, elder = self.m, self.t, self.m.elder
        w = QWidget()
        search = self.search_field = TouchCard("searchField", m)
        search.add_label(t("catalog.search_field"), "searchFieldText")
        search.setMinimumHeight(theme.target_minimum("button", m)[1])
        search.clicked.connect(lambda: self.open_search())
        most = self._most_used_grid()
        # The categories, then the zones (drawn apart), in one grid: one set of arrows.
        zones = {g.id for g in self.catalog.zones}
        cats = self._group_grid(
            "categories", self.catalog.categories + self.catalog.zones,
            lambda g: self.open_zone(g.id) if g.id in zones else self.open_category(g.id),
            columns=(2 if elder else 3) if self.portrait else (3 if elder else 4),
            card_name=lambda gid: "zoneCard" if gid in zones else "categoryCard")
        # The title and the search field share the top row: the services get the height.
        top = QHBoxLayout()
        top.setSpacing(m.space(32))
        self.title = label(t("home.title"), "homeTitle", wrap=False)
        top.addWidget(self.title)
        top.addWidget(search, 1)
        if self.portrait:
            v = QVBoxLayout(w)
            v.setContentsMargins(0, 0, 0, 0)
            v.setSpacing(m.space(18))
            v.addLayout(top)
            if most.items:
                self._section(v, "catalog.most_used")
                v.addWidget(most)
            self._section(v, "catalog.categories")
            v.addWidget(cats, 1)
        else:
            outer = QVBoxLayout(w)
            outer.setContentsMargins(0, 0, 0, 0)
            outer.setSpacing(m.space(18))
            outer.addLayout(top)
            row = QHBoxLayout()
            row.setSpacing(m.space(40))
            outer.addLayout(row, 1)
            left = QVBoxLayout()
            left.setSpacing(m.space(18))
            if most.items:
                self._section(left, "catalog.most_used")
                left.addWidget(most, 1)
            else:
                left.addStretch(1)
            row.addLayout(left, 2)
            v = QVBoxLayout()
            v.setSpacing(m.space(18))
            self._section(v, "catalog.categories")
            v.addWidget(cats, 1)
            row.addLayout(v, 3)
        return w

    def _most_used_grid(self) -> PagedGrid:
        """The most used services; on a new terminal (nothing counted yet) the package's
        first services fill the places."""
        m, elder = self.m, self.m.elder
        most = (4 if elder else 6)
        ids = self.most_used + [f for f in self.catalog.order if f not in self.most_used]
        columns = 2 if elder or not self.portrait else 3

        # Elder mode on a portrait panel: large rows, so the categories keep their room.
        rows = elder and self.portrait

        def make(fid: str) -> QWidget:
            f = self.catalog.flows[fid]
            tile = (ServiceRow(f, self.t, m, "", self._paused(fid)) if rows
                    else Tile(f, self.t, m, self._paused(fid)))
            tile.clicked.connect(lambda: self.flowChosen.emit(fid))
            return tile

        def measure(fid: str, width: int) -> int:
            f, paused = self.catalog.flows[fid], self._paused(fid)
            why = str(self.t(paused)) if paused else ""
            if rows:
                return row_height(m, width, str(self.t(f.title)), "", why)
            return tile_height(m, width, str(self.t(f.title)),
                               "" if elder or not f.subtitle else str(self.t(f.subtitle)), why)

        least = m.px(110) if rows else theme.target_minimum("tile", m)[1]
        grid = PagedGrid(m, self.t, columns, make, measure, least,
                         name="mostUsed", paging=False, grow=not self.portrait,
                         max_rows=most // columns,
                         min_w=0 if rows else theme.target_minimum("tile", m)[0])
        grid.set_items(ids[:most])
        self.grids["most"] = grid
        return grid

    def _group_grid(self, key: str, groups: Sequence[Group], chosen: Callable[[Group], None],
                    columns: int, card_name: Callable[[str], str] = lambda gid: "categoryCard"
                    ) -> PagedGrid:
        m, t = self.m, self.t
        by_id = {g.id: g for g in groups}

        def count(g: Group) -> str:
            return str(t("catalog.count", n=len(g.flows)))

        def make(gid: str) -> QWidget:
            g = by_id[gid]
            card = GroupCard(card_name(gid), gid, str(t(g.title)), count(g), m)
            card.clicked.connect(lambda: chosen(g))
            return card

        def measure(gid: str, width: int) -> int:
            g = by_id[gid]
            return card_height(m, width, str(t(g.title)), count(g))

        grid = PagedGrid(m, t, columns, make, measure, theme.target_minimum("button", m)[1],
                         name=key)
        grid.set_items([g.id for g in groups], self.nav.first)
        grid.pageChanged.connect(self._turned)
        self.grids[key] = grid
        return grid

    def _turned(self, first: int) -> None:
        self.nav.first = first
        self.shown.emit(SCREEN[self.nav.page], "")

    def _title_row(self, title: str) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(self.m.space(24))
        back = self.back = QPushButton(self.t("catalog.back"))
        back.setObjectName("catalog-back")
        back.clicked.connect(self.go_back)
        row.addWidget(back)
        row.addWidget(label(title, "catalogTitle"), 1)
        return row

    def _service_grid(self, ids: Sequence[str], columns: int, sub: Callable[[FlowDef], str]
                      ) -> PagedGrid:
        m, t = self.m, self.t

        def make(fid: str) -> QWidget:
            f = self.catalog.flows[fid]
            row = ServiceRow(f, t, m, sub(f), self._paused(fid))
            row.clicked.connect(lambda: self.flowChosen.emit(fid))
            return row

        def measure(fid: str, width: int) -> int:
            f, paused = self.catalog.flows[fid], self._paused(fid)
            return row_height(m, width, str(t(f.title)), sub(f), str(t(paused)) if paused else "")

        grid = PagedGrid(m, t, columns, make, measure, m.px(110), name="services")
        grid.set_items(ids, self.nav.first)
        grid.pageChanged.connect(self._turned)
        self.grids["services"] = grid
        return grid

    def _sub_line(self, f: FlowDef, zone: bool = False) -> str:
        """Who provides a service (not in elder mode: the name alone, larger)."""
        if self.m.elder:
            return ""
        parts = []
        if zone and f.zone and self.catalog.zone(f.zone) is not None:
            parts.append(str(self.t(self.catalog.zone(f.zone).title)))  # type: ignore[union-attr]
        if f.department:
            parts.append(str(self.t(f.department)))
        elif f.subtitle:
            parts.append(str(self.t(f.subtitle)))
        return " · ".join(parts)

    def _list_page(self, ids: Sequence[str] | None = None) -> QWidget:
        m = self.m
        w = QWidget()
        v = QVBoxLayout(w)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(m.space(20))
        if ids is None:
            group = self.catalog.category(self.nav.group)
            ids = group.flows if group is not None else ()
        title = self.t("catalog.list_title", title=self._group_title(), n=len(ids))
        v.addLayout(self._title_row(str(title)))
        v.addWidget(self._service_grid(ids, 1 if self.portrait else 2, self._sub_line), 1)
        return w

    def _zone_page(self) -> QWidget:
        nav, zone = self.nav, self.catalog.zone(self.nav.group)
        assert zone is not None
        cats = self.catalog.zone_categories(zone.id)
        if nav.sub:
            sub = next((g for g in cats if g.id == nav.sub), None)
            return self._list_page(sub.flows if sub is not None else ())
        if len(zone.flows) <= ZONE_SPLIT or len(cats) < 2:
            return self._list_page(zone.flows)
        # A big zone: its categories first (home -> zone -> category -> service).
        w = QWidget()
        v = QVBoxLayout(w)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(self.m.space(20))
        v.addLayout(self._title_row(str(self.t("catalog.list_title", title=self._group_title(),
                                                  n=len(zone.flows)))))
        v.addWidget(self._group_grid("categories", cats, lambda g: self.open_zone(zone.id, g.id),
                                     columns=(2 if self.m.elder else 3) if self.portrait
                                     else 4), 1)
        return w

    # -- search ------------------------------------------------------------------------
    def _search_page(self) -> QWidget:
        m, t, nav = self.m, self.t, self.nav
        w = QWidget()
        mode = nav.keys or ("letters" if t.locale == "en" else "pinyin")
        # Candidates offered first: the categories' and zones' names (short words; the
        # services' whole titles made every candidate list ~10 ms slower). Simplified only:
        # the input method's word list is shared by every keyboard for good, and a
        # Traditional word left there was offered on Simplified screens.
        words = ([str(t(g.title)) for g in self.catalog.categories + self.catalog.zones]
                 if t.locale == "zh_CN" else [])
        kb = self.keyboard = OnScreenKeyboard(m, mode, text=nav.query, composing=nav.composing,
                                              vocabulary=words, entry_outside=True, t=t)
        note = self.result_note = label("", "searchHint")
        results = self._service_grid([], 1, lambda f: self._sub_line(f, zone=True))
        results.setObjectName("results")
        if self.portrait:
            v = QVBoxLayout(w)
            v.setContentsMargins(0, 0, 0, 0)
            v.setSpacing(m.space(18))
            v.addLayout(self._title_row(str(t("catalog.search_title"))))
            v.addWidget(kb.entry)
            v.addWidget(note)
            v.addWidget(results, 1)
            v.addWidget(kb)
        else:
            row = QHBoxLayout(w)
            row.setContentsMargins(0, 0, 0, 0)
            row.setSpacing(m.space(40))
            left = QVBoxLayout()
            left.setSpacing(m.space(18))
            left.addLayout(self._title_row(str(t("catalog.search_title"))))
            left.addWidget(kb.entry)
            left.addWidget(note)
            left.addWidget(results, 1)
            row.addLayout(left, 4)
            right = QVBoxLayout()
            right.addStretch(1)
            right.addWidget(kb)
            row.addLayout(right, 6)
        kb.textChanged.connect(lambda _text: self._typed())
        self._typed(keep_page=True)
        return w

    def query(self) -> str:
        """What the search runs on: the characters chosen and the letters typed after
        them (searched as pinyin and initials: no need to pick characters)."""
        kb = self.keyboard
        return (kb.text + kb.composing).strip() if kb is not None else ""

    def _typed(self, keep_page: bool = False) -> None:
        """A key was pressed: ask for the results (they arrive in `_found`)."""
        kb = self.keyboard
        if kb is None:
            return
        nav = self.nav
        nav.query, nav.composing, nav.keys = kb.text, kb.composing, kb.mode
        self._keep_first = keep_page
        if not keep_page:
            nav.first = 0
        q = self.query()
        if q and self.search is not None:
            self.search.ask(q, self.t.locale)
        else:
            self._show_results("", [])

    def _found(self, _tag: str, answer: object) -> None:
        if not isinstance(answer, tuple) or len(answer) != 3:
            return
        query, locale, ids = answer
        if self.keyboard is None or query != self.query() or locale != self.t.locale:
            return  # typed over, or another page or language by now
        self._show_results(str(query), [f for f in ids if f in self.catalog.flows])

    def _show_results(self, q: str, ids: list[str]) -> None:
        note, grid = self.result_note, self.grids.get("services")
        if note is None or grid is None:
            return
        if ids != grid.items or self._keep_first:  # the same results: the same rows
            grid.set_items(ids, self.nav.first if self._keep_first else 0)
        self._keep_first = False
        self.answered = q
        if not q:
            note.setText(self.t("catalog.search_hint"))
            note.setObjectName("searchHint")
        elif not ids:
            note.setText(self.t("catalog.no_result", q=typed(q, self.t)))
            note.setObjectName("noResult")
        else:
            note.setText(self.t("catalog.results", n=len(ids)))
            note.setObjectName("searchHint")
        note.style().unpolish(note)
        note.style().polish(note)
        # The note may need another line: lay the page out now, not on the next pass.
        lay = self.view.layout() if self.view is not None else None
        if lay is not None:
            lay.activate()

    # -- reaching a service (the scripted citizen, tests) ---------------------------------
    def _where(self, fid: str) -> Nav:
        kind, gid = self.catalog.home_of(fid)
        if kind == "category":
            return Nav("category", gid)
        zone = self.catalog.zone(gid)
        cats = self.catalog.zone_categories(gid)
        if zone is not None and len(zone.flows) > ZONE_SPLIT and len(cats) > 1:
            return Nav("zone", gid, next(g.id for g in cats if fid in g.flows))
        return Nav("zone", gid)

    def _settle(self) -> None:
        """Lay the page out now (a hidden screen too), so its grids know their pages."""
        if self.view is not None:
            self.view.resize(self.contentsRect().size())
            lay = self.layout()
            if lay is not None:
                lay.activate()
            for grid in self.grids.values():
                inner = grid.layout()
                if inner is not None:
                    inner.activate()
                grid.relayout()

    def reach(self, fid: str) -> ServiceRow | Tile:
        """The service's touch target, on screen: its tile on the home screen if it has
        one, else its row in its category (or zone), on the right page."""
        if fid not in self.catalog.flows:
            raise KeyError(fid)
        most = self.grids.get("most")
        if self.nav.page == "home" and most is not None:
            self._settle()
            if fid in most.cards:
                return _row(most.cards[fid])
        want = self._where(fid)
        if (self.nav.page, self.nav.group, self.nav.sub) != (want.page, want.group, want.sub):
            self.go(want, announce=False)
        self._settle()
        grid = self.grids["services"]
        page = grid.page_of(fid)
        if page != grid.page:
            grid.turn(page - grid.page)
        return _row(grid.cards[fid])

    def next_tap(self, fid: str) -> tuple[QWidget, bool]:
        """What a citizen touches next on the way to service `fid`; True when it is the
        service itself."""
        nav, want = self.nav, self._where(fid)
        if nav.page == "home":
            most = self.grids.get("most")
            if most is not None and fid in most.cards:
                return most.cards[fid], True
            return self._towards(self.grids["categories"], want.group), False
        if nav.page == "search" or (nav.page, nav.group) != (want.page, want.group):
            assert self.back is not None
            return self.back, False
        if nav.page == "zone" and nav.sub != want.sub:
            if nav.sub:
                assert self.back is not None
                return self.back, False
            return self._towards(self.grids["categories"], want.sub), False
        grid = self.grids["services"]
        return self._towards(grid, fid), fid in grid.cards

    @staticmethod
    def _towards(grid: PagedGrid, item: str) -> QWidget:
        if item in grid.cards:
            return grid.cards[item]
        return grid.next if grid.page_of(item) > grid.page else grid.prev


def _row(card: QWidget) -> ServiceRow | Tile:
    """A service's card in a grid of services (the grids of groups hold GroupCards)."""
    if not isinstance(card, (ServiceRow, Tile)):
        raise TypeError(f"not a service row: {card!r}")
    return card
