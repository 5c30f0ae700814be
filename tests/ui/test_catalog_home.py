"""The catalog's home screen at 300 services (issue 17), through the real widgets.

A synthetic package (the built-in one plus ~300 generated guide-only services with
categories, departments and three zones) stands in for the Greater Bay Area catalog;
a citizen reaches services by category, by zone, by search typed on the on-screen keys
and from the most used, with real mouse clicks. Paused services show as paused wherever
they appear; a language or mode switch keeps the page the citizen was on; every page
fits in three languages, both modes and both orientations.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QPushButton, QWidget

from flowpacks import BUILTIN_DIR
from kiosk.runtime import Runtime
from kiosk.ui.catalog_view import PagedGrid, stylesheet
from kiosk.ui.citizen import tap
from kiosk.ui.layout_check import layout_problems
from kiosk.ui.main_window import MainWindow

# Subjects per category (Simplified, Traditional, English) and actions: their products
# are the service names, ~300 of them, in the categories the app knows.
SUBJECTS: dict[str, list[tuple[str, str, str]]] = {
    "social_security": [("养老保险", "養老保險", "Pension insurance"),
                        ("失业保险", "失業保險", "Unemployment insurance")],
    "medical": [("医疗保险", "醫療保險", "Medical insurance"),
                ("生育保险", "生育保險", "Maternity insurance")],
    "housing_fund": [("住房公积金", "住房公積金", "Housing fund"),
                     ("公积金贷款", "公積金貸款", "Housing fund loan")],
    "tax": [("个人所得税", "個人所得稅", "Income tax"), ("车船税", "車船稅", "Vehicle tax")],
    "real_estate": [("不动产登记", "不動產登記", "Property registration"),
                    ("房屋交易", "房屋交易", "Home sale")],
    "household": [("户籍", "戶籍", "Household registration"),
                  ("居住证", "居住證", "Residence permit")],
    "exit_entry": [("港澳通行证", "港澳通行證", "HK and Macao pass"),
                   ("护照", "護照", "Passport")],
    "transport": [("驾驶证", "駕駛證", "Driving licence"),
                  ("机动车", "機動車", "Motor vehicle")],
    "civil_affairs": [("养老服务", "養老服務", "Elderly care"),
                      ("社会救助", "社會救助", "Social assistance")],
    "marriage_birth": [("婚姻登记", "婚姻登記", "Marriage registration"),
                       ("生育登记", "生育登記", "Birth registration")],
    "education": [("学位申请", "學位申請", "School place"),
                  ("学历证明", "學歷證明", "Education record")],
    "employment": [("就业登记", "就業登記", "Job registration"),
                   ("创业补贴", "創業補貼", "Start-up grant")],
    "business": [("企业登记", "企業登記", "Company registration"),
                 ("个体工商户", "個體工商戶", "Sole trader")],
}
ACTIONS: list[tuple[str, str, str]] = [
    ("证明打印", "證明打印", "certificate"), ("记录查询", "記錄查詢", "record"),
    ("进度查询", "進度查詢", "progress"), ("办事指南", "辦事指南", "guide"),
    ("明细打印", "明細打印", "statement"), ("资格认证", "資格認證", "eligibility check"),
    ("信息变更", "資訊變更", "change of details"), ("预约办理", "預約辦理", "appointment"),
    ("材料清单", "材料清單", "list of documents"), ("政策查询", "政策查詢", "policy"),
    ("缴费查询", "繳費查詢", "payments"), ("表格下载", "表格下載", "forms"),
]
ZONES = [("t_fs", "佛山专区", "佛山專區", "Foshan zone", 22), ("t_sz", "深圳专区", "深圳專區",
         "Shenzhen zone", 6), ("t_hkmo", "港澳专区", "港澳專區", "Hong Kong and Macao zone", 4)]


def write_synthetic_package(dest: Path, count: int = 300) -> list[str]:
    """The built-in package plus `count` generated guide-only services with categories,
    departments, keywords and three zones (Guangzhou's big enough to split by category).
    Half need the platform (paused offline). Returns the generated flow ids."""
    shutil.copytree(BUILTIN_DIR, dest)
    strings = {loc: json.loads((dest / "strings" / f"{loc}.json").read_text("utf-8"))
               for loc in ("zh_CN", "zh_HK", "en")}
    names = [(cat, s, a) for a in ACTIONS for cat, subs in SUBJECTS.items() for s in subs]
    zone_of: list[str] = []
    for zid, *_rest, n in ZONES:
        zone_of += [zid] * n
    ids: list[str] = []
    for i, (cat, subject, action) in enumerate(names[:count]):
        fid = f"gen_{i:03d}"
        zone = zone_of[i] if i < len(zone_of) else ""
        for k, loc in enumerate(("zh_CN", "zh_HK", "en")):
            sep = " " if loc == "en" else ""
            strings[loc][f"flow.{fid}.title"] = f"{subject[k]}{sep}{action[k]}"
        dept = f"dept.{cat}"
        (dest / "flows" / f"{fid}.toml").write_text(
            f'id = "{fid}"\ntitle = "flow.{fid}.title"\ncategory = "{cat}"\n'
            f'department = "{dept}"\norder = {100 + i}\nzone = "{zone}"\n'
            f'requires_online = {"true" if i % 2 else "false"}\n'
            f'requires_devices = {json.dumps(["a4"] if action[2] == "certificate" else [])}\n'
            f'keywords = ["{subject[0]}"]\n\n'
            '[[steps]]\nid = "done"\ntype = "finish"\ntitle = "flow.gen.done.title"\n'
            'text = "flow.gen.done.text"\ncounted = false\n', "utf-8")
        ids.append(fid)
    for k, loc in enumerate(("zh_CN", "zh_HK", "en")):
        table = strings[loc]
        table["flow.gen.done.title"] = ("请到窗口办理", "請到窗口辦理", "Please go to a counter")[k]
        table["flow.gen.done.text"] = (
            "请带上身份证到服务窗口办理。", "請帶同身份證到服務窗口辦理。",
            "Bring your ID card to a service counter.")[k]
        for cat in SUBJECTS:
            table[f"dept.{cat}"] = ("东莞市主管部门", "東莞市主管部門", "Dongguan authority")[k]
        for zid, cn, hk, en, _n in ZONES:
            table[f"zone.{zid}"] = (cn, hk, en)[k]
        (dest / "strings" / f"{loc}.json").write_text(
            json.dumps(table, ensure_ascii=False, indent=1), "utf-8")
    manifest = (dest / "manifest.toml").read_text("utf-8")
    flows_line = next(line for line in manifest.splitlines() if line.startswith("flows ="))
    listed = json.loads(flows_line.split("=", 1)[1]) + ids
    manifest = manifest.replace(flows_line, f"flows = {json.dumps(listed)}")
    manifest += "".join(f'\n[[zones]]\nid = "{zid}"\ntitle = "zone.{zid}"\norder = {20 + n}\n'
                        for n, (zid, *_rest) in enumerate(ZONES))
    (dest / "manifest.toml").write_text(manifest, "utf-8")
    return ids


# -- fixtures ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def big_runtime(backend: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """A terminal on simulated devices whose package holds the built-ins + 300 services."""
    from kiosk.backend.client import BackendClient
    from kiosk.config import Config

    tmp = tmp_path_factory.mktemp("catalog")
    write_synthetic_package(tmp / "pkg")
    cfg = Config().with_section(
        "devices", idcard="sim://?card=chen", sscard="sim://",
        a4=f"sim://?spool={tmp / 'a4'}", receipt=f"sim://?spool={tmp / 'receipt'}")
    cfg = cfg.with_section("storage", data_dir=str(tmp / "data"))
    cfg = cfg.with_section("terminal", id=backend.terminal_id)
    cfg = cfg.with_section("packages", builtin_dir=str(tmp / "pkg"))
    rt = Runtime.create(cfg)
    rt.open_devices()
    rt.backend = BackendClient(backend.url, backend.terminal_id, backend.secret)
    rt.backend_ready.set()
    assert len(rt.package.catalog()) >= 300
    yield rt
    rt.close()


def window(qtbot: Any, rt: Runtime, size: tuple[int, int] = (1920, 1080)) -> MainWindow:
    win = MainWindow(rt, QSize(*size))
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    tap(win.attract.touch)
    assert win.current_screen == "home"
    return win


def grid(win: MainWindow, name: str) -> PagedGrid:
    return win.home.grids[name]


def touch_towards(win: MainWindow, grid_name: str, item: str) -> int:
    """Turn the grid's pages (big arrows) until `item` shows, then touch it; the number
    of page turns."""
    g, turns = grid(win, grid_name), 0
    while item not in g.cards:
        tap(g.next if g.page_of(item) > g.page else g.prev)
        turns += 1
        assert turns < 40
    tap(g.cards[item])
    return turns


def finish_guide(qtbot: Any, win: MainWindow, fid: str) -> None:
    """A generated guide-only service: its one screen, then home again."""
    qtbot.waitUntil(lambda: win.current_screen == f"{fid}.done.result", timeout=10000)
    done = win.flow_view.findChild(QPushButton, "action-done")
    assert done is not None
    tap(done)
    qtbot.waitUntil(lambda: win.current_screen == "home" and win.session is None,
                    timeout=10000)


def key(win: MainWindow, k: str) -> QPushButton:
    kb = win.home.keyboard
    assert kb is not None
    found = [b for b in kb.findChildren(QPushButton, "key") if b.property("key") == k]
    assert found, k
    return found[0]


def results(qtbot: Any, win: MainWindow) -> list[str]:
    """The results on display once the search thread has answered what is typed."""
    qtbot.waitUntil(lambda: win.home.answered == win.home.query(), timeout=30000)
    return list(grid(win, "services").items)


# -- reaching every service --------------------------------------------------------------
def test_every_service_is_a_category_or_zone_and_a_row_away(qtbot: Any, big_runtime: Runtime
                                                            ) -> None:
    """Each of the ~300 services: a card on the home screen (its category, or its zone and
    then the zone's category when the zone is big), then its row — at most three touches
    (page turns with the big arrows aside)."""
    win = window(qtbot, big_runtime)
    home = win.home
    cards = set(grid(win, "categories").items)
    for fid in home.catalog.order:
        where = home._where(fid)
        assert where.group in cards, fid
        touches = 2 + (1 if where.sub else 0)
        assert touches <= 3
        listed = (home.catalog.category(where.group) if where.page == "category"
                  else home.catalog.zone(where.group))
        assert listed is not None and fid in listed.flows


def test_a_service_on_a_later_page_of_its_category_by_touch(qtbot: Any, big_runtime: Runtime
                                                           ) -> None:
    win = window(qtbot, big_runtime)
    social = win.home.catalog.category("social_security")
    assert social is not None and len(social.flows) > 12
    fid = social.flows[-1]
    touch_towards(win, "categories", "social_security")
    assert win.current_screen == "catalog.category"
    turns = touch_towards(win, "services", fid)
    assert turns >= 1  # it was not on the first page
    assert win.flow_id == fid and win.session is not None
    finish_guide(qtbot, win, fid)


def test_a_service_of_a_big_zone_through_its_categories(qtbot: Any, big_runtime: Runtime
                                                        ) -> None:
    win = window(qtbot, big_runtime)
    zone = win.home.catalog.zone("t_fs")
    assert zone is not None and len(zone.flows) > 12
    fid = zone.flows[-1]
    touch_towards(win, "categories", "t_fs")
    assert win.current_screen == "catalog.zone"
    cat = win.home.catalog.flows[fid].category
    touch_towards(win, "categories", cat)  # the zone's own categories
    assert win.home.nav.sub == cat
    touch_towards(win, "services", fid)
    assert win.flow_id == fid
    finish_guide(qtbot, win, fid)
    # A small zone lists its services at once; back leaves it for the home screen.
    touch_towards(win, "categories", "t_sz")
    small = win.home.catalog.zone("t_sz")
    assert small is not None and set(grid(win, "services").items) == set(small.flows)
    assert win.home.back is not None
    tap(win.home.back)
    assert win.current_screen == "home" and win.home.nav.page == "home"


def test_the_built_in_services_stay_within_three_touches(qtbot: Any, big_runtime: Runtime
                                                         ) -> None:
    """The scripted citizen (the demo's and the gallery's) finds each built-in service by
    touching what a person would, one touch per screen."""
    win = window(qtbot, big_runtime)
    for fid in ("service_guide", "evaluation", "queue_ticket"):
        touches = 0
        while True:
            target, is_service = win.home.next_tap(fid)
            is_turn = target.objectName() in ("page-next", "page-prev")
            tap(target)
            touches += 0 if is_turn else 1
            if is_service:
                break
            assert touches <= 3
        assert touches <= 3 and win.flow_id == fid
        win._end_session("test")
        win.show_home()


# -- search ------------------------------------------------------------------------------
def test_search_by_letters_on_the_on_screen_keys(qtbot: Any, big_runtime: Runtime) -> None:
    win = window(qtbot, big_runtime)
    assert win.home.search_field is not None
    tap(win.home.search_field)
    assert win.current_screen == "catalog.search"
    seen: list[list[str]] = []
    for letter in "SBZM":  # pinyin initials, no character picked
        tap(key(win, letter))
        seen.append(results(qtbot, win))
    assert win.home.query() == "sbzm"
    assert all(seen), seen  # every keystroke shows results at once
    assert seen[0] != seen[-1]  # and they narrow as the citizen types
    assert "ss_certificate" in seen[-1]
    tap(grid(win, "services").cards.get("ss_certificate") or win.home.reach("ss_certificate"))
    assert win.flow_id == "ss_certificate" and win.session is not None
    assert big_runtime.package.flows["ss_certificate"].category == "social_security"


def test_search_by_a_chosen_chinese_candidate_and_no_result(qtbot: Any, big_runtime: Runtime
                                                            ) -> None:
    win = window(qtbot, big_runtime)
    assert win.home.search_field is not None
    tap(win.home.search_field)
    kb = win.home.keyboard
    assert kb is not None and kb.mode == "pinyin" and kb.wait_ready()
    for letter in "GONGJIJIN":
        tap(key(win, letter))
    assert results(qtbot, win)  # the letters alone already search
    candidate = next((b for b in kb.findChildren(QPushButton, "candidate")
                      if b.text() == "公积金"), None)
    qtbot.waitUntil(lambda: any(b.text() == "公积金"
                                for b in kb.findChildren(QPushButton, "candidate")),
                    timeout=10000)
    candidate = next(b for b in kb.findChildren(QPushButton, "candidate")
                     if b.text() == "公积金")
    tap(candidate)
    assert kb.text == "公积金" and kb.composing == ""
    found = results(qtbot, win)
    titles = [str(win.home.t(win.home.catalog.flows[f].title)) for f in found]
    assert found and all("公积金" in t for t in titles[:5]), titles
    # Nothing found: the screen says so, and what to try instead.
    tap(key(win, "CLEAR"))
    for letter in "QQQQQQ":
        tap(key(win, letter))
    assert results(qtbot, win) == []
    note = win.home.result_note
    assert note is not None and note.objectName() == "noResult"
    assert "qqqqqq" in note.text() and "分类" in note.text()


# -- most used ---------------------------------------------------------------------------
def test_a_service_used_comes_first_among_the_most_used(qtbot: Any, big_runtime: Runtime
                                                        ) -> None:
    win = window(qtbot, big_runtime)
    fid = "gen_250"
    assert fid not in grid(win, "most").items
    for _ in range(3):  # more than any other service in this module
        touch_towards(win, "categories", win.home._where(fid).group)
        touch_towards(win, "services", fid)
        finish_guide(qtbot, win, fid)
    most = grid(win, "most")
    assert most.items[0] == fid
    tap(most.cards[fid])  # one touch from the home screen now
    assert win.flow_id == fid
    finish_guide(qtbot, win, fid)


# -- paused ------------------------------------------------------------------------------
def test_paused_services_show_as_paused_everywhere(qtbot: Any, big_runtime: Runtime) -> None:
    rt = big_runtime
    win = window(qtbot, rt)
    needs_a4 = [f.id for f in rt.home_catalog() if "a4" in f.requires_devices]
    try:
        rt.note_device("a4", "device.a4.paper_out")  # the status poll found no paper
        qtbot.waitUntil(lambda: not win.home.tiles["ss_certificate"].isEnabled(), timeout=5000)
        tile = win.home.tiles["ss_certificate"]  # among the most used
        assert tile.objectName() == "tile" and not tile.paused.isHidden()  # type: ignore[attr-defined]
        paused_text = tile.paused.text()  # type: ignore[attr-defined]
        assert paused_text == "打印机暂停服务（缺纸或故障）"

        def check(rows: dict[str, QWidget]) -> int:
            n = 0
            for fid, row in rows.items():
                paused = fid in needs_a4
                assert row.isEnabled() is not paused, fid
                assert row.paused.isHidden() is not paused, fid  # type: ignore[attr-defined]
                n += paused
            return n

        touch_towards(win, "categories", "social_security")
        assert check(grid(win, "services").cards) > 0
        tap(next(iter(c for f, c in grid(win, "services").cards.items() if f in needs_a4)))
        assert win.session is None  # a paused row starts nothing
        assert win.home.back is not None
        tap(win.home.back)
        assert win.home.search_field is not None
        tap(win.home.search_field)
        for letter in "ZM":
            tap(key(win, letter))
        assert results(qtbot, win)
        assert check(grid(win, "services").cards) > 0
    finally:
        rt.note_device("a4", None)
    qtbot.waitUntil(lambda: all(c.isEnabled() for c in grid(win, "services").cards.values()),
                    timeout=5000)
    assert win.home.nav.page == "search" and win.home.query() == "zm"  # kept on a refresh


# -- language and mode switches ------------------------------------------------------------
def test_language_and_elder_switch_keep_the_page(qtbot: Any, big_runtime: Runtime) -> None:
    win = window(qtbot, big_runtime)
    touch_towards(win, "categories", "social_security")
    tap(grid(win, "services").next)
    first = grid(win, "services").items[grid(win, "services").first]
    assert grid(win, "services").page == 1
    tap(win.chrome_buttons["lang-en"])
    g = grid(win, "services")
    assert win.home.nav.page == "category" and g.page == 1 and first in g.cards
    assert win.current_screen == "catalog.category"
    row = g.cards[first]
    assert row.title.text() == str(win.t(big_runtime.package.flows[first].title))  # type: ignore[attr-defined]
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in row.title.text())  # type: ignore[attr-defined]
    tap(win.chrome_buttons["elder"])
    g = grid(win, "services")
    assert win.elder and win.home.nav.group == "social_security" and first in g.cards
    assert layout_problems(win) == []
    # Search: what was typed stays, the results follow the language.
    tap(win.home.back)  # type: ignore[arg-type]
    tap(win.home.search_field)  # type: ignore[arg-type]
    tap(win.chrome_buttons["lang-zh_HK"])
    kb = win.home.keyboard
    assert kb is not None
    for letter in "GJJ":
        tap(key(win, letter))
    before = results(qtbot, win)
    assert before
    tap(win.chrome_buttons["lang-zh_CN"])
    assert win.home.nav.page == "search" and win.home.query().lower() == "gjj"
    assert results(qtbot, win) == before
    titles = [str(win.home.t(win.home.catalog.flows[f].title)) for f in results(qtbot, win)]
    assert "公积金" in "".join(titles)


# -- layout --------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920)], ids=["landscape", "portrait"])
def test_every_catalog_page_fits(qtbot: Any, big_runtime: Runtime, size: tuple[int, int]
                                 ) -> None:
    """Home, a category (and its next page), a big zone and its category, search with
    results and with none: three languages x standard/elder, no layout problem."""
    win = window(qtbot, big_runtime, size)
    problems: dict[str, list[str]] = {}

    def look(name: str) -> None:
        found = layout_problems(win)
        if (win.width(), win.height()) != size:
            found.append(f"window is {win.width()}x{win.height()}")
        for key, g in win.home.grids.items():  # arrows when, and only when, there are pages
            if g.paging and g.nav.isHidden() is (g.pages > 1):
                found.append(f"{key}: {g.pages} page(s), arrows hidden={g.nav.isHidden()}")
        if found:
            problems[f"{win.ui_locale}-{'elder' if win.elder else 'std'}-{name}"] = found

    for locale in ("zh_CN", "zh_HK", "en"):
        for elder in (False, True):
            win.set_locale(locale)
            win.set_elder(elder)
            home = win.home
            home.go_home()
            look("home")
            home.open_category("social_security")
            look("category")
            if grid(win, "services").pages > 1:
                tap(grid(win, "services").next)
                look("category-2")
            home.open_zone("t_fs")
            look("zone")
            home.open_zone("t_fs", home.catalog.zone_categories("t_fs")[0].id)
            look("zone-category")
            home.open_search()
            for letter in ("SBZM" if locale != "en" else "FUND"):
                tap(key(win, letter))
            assert results(qtbot, win)
            look("search")
            for letter in "QQQQ":
                tap(key(win, letter))
            assert results(qtbot, win) == []
            look("search-none")
    assert problems == {}


def test_the_layout_check_sees_a_row_drawn_too_short(qtbot: Any, big_runtime: Runtime) -> None:
    """The rows' heights come from font metrics, not from the widgets: if that measure is
    wrong, the layout check must say so (a check that cannot fail guards nothing)."""
    from kiosk.ui import theme
    from kiosk.ui.catalog_view import ServiceRow

    m = theme.metrics_for(1080, 1920, elder=True)
    t = big_runtime.package.translator("en")
    flows = {f.id: f for f in big_runtime.package.catalog()}
    ids = list(flows)[:3]

    def make(fid: str) -> QWidget:
        return ServiceRow(flows[fid], t, m, "Dongguan authority", None)

    for measure, bad in ((lambda fid, w: 20, True), (lambda fid, w: m.px(220), False)):
        root = QWidget()
        qtbot.addWidget(root)
        root.setStyleSheet(theme.stylesheet(m) + stylesheet(m))
        root.resize(1000, 1400)
        g = PagedGrid(m, t, 1, make, measure, 10)
        g.setParent(root)
        g.setGeometry(0, 0, 1000, 1400)
        root.show()
        g.set_items(ids)
        qtbot.waitUntil(lambda g=g: len(g.cards) == len(ids), timeout=5000)
        found = layout_problems(root, metrics=m, locale="en")
        assert any("text-cut" in p or "small-target" in p for p in found) is bad, found
