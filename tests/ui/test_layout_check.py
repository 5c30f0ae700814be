"""The layout check sees what a person sees: each fault is built on purpose and caught.

Every rule of `kiosk.ui.layout_check` has a screen that breaks it (the review's cut-off
keyboard, the sliver of a bottom key row, the clipped countdown, overlapping tile
texts, small header buttons, a half-translated screen) and a clean twin that passes,
so a rule that stops seeing its fault fails here.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from kiosk.ui import theme
from kiosk.ui.layout_check import check
from kiosk.ui.widgets import label

M = theme.Metrics(1.0)


def rules(root: QWidget, **kw: object) -> set[str]:
    root.show()
    QApplication.processEvents()
    return {p.rule for p in check(root, metrics=M, **kw)}  # type: ignore[arg-type]


@pytest.fixture
def window(qtbot):  # type: ignore[no-untyped-def]
    def make(w: int = 800, h: int = 600) -> QWidget:
        root = QWidget()
        root.setFixedSize(w, h)
        qtbot.addWidget(root)
        return root
    return make


def big_button(text: str, parent: QWidget | None = None) -> QPushButton:
    b = QPushButton(text, parent)
    b.setStyleSheet("font-size: 30px;")
    b.setFixedSize(200, 100)
    return b


def test_a_clean_screen_has_no_problem(window) -> None:  # type: ignore[no-untyped-def]
    root = window()
    v = QVBoxLayout(root)
    v.addWidget(label("请将身份证放在感应区", "lead"))
    row = QHBoxLayout()
    row.addWidget(big_button("返回"))
    row.addStretch(1)
    b = big_button("下一步")
    b.setObjectName("action-next")
    b.setFixedSize(260, 100)
    row.addWidget(b)
    v.addLayout(row)
    root.show()
    assert check(root, metrics=M, locale="zh_CN") == []


def test_a_control_cut_by_its_panel(window) -> None:  # type: ignore[no-untyped-def]
    root = window()
    panel = QFrame(root)
    panel.setGeometry(0, 0, 500, 300)
    big_button("p", panel).move(400, 10)  # 200 wide: 100 px of it outside the panel
    assert "clipped" in rules(root)
    panel.setGeometry(0, 0, 700, 300)
    assert "clipped" not in rules(root)


def keyboard_in_scroll(root: QWidget, width: int, *, horizontal: bool) -> QScrollArea:
    """The review's elder portrait keyboard: keys wider than the card's scroll area."""
    area = QScrollArea(root)
    area.setGeometry(0, 0, 600, 400)
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded if horizontal
                                      else Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    inner = QWidget()
    inner.setMinimumWidth(width)
    h = QHBoxLayout(inner)
    for ch in "qwertyuiop":
        key = big_button(ch)
        key.setFixedSize(width // 10 - 8, 100)
        h.addWidget(key)
    area.setWidget(inner)
    return area


def test_keys_cut_by_a_scroll_area_that_cannot_scroll_sideways(window) -> None:  # type: ignore[no-untyped-def]
    root = window()
    keyboard_in_scroll(root, 1000, horizontal=False)
    assert "clipped" in rules(root)


def test_a_keyboard_needed_on_screen_may_not_hide_under_the_fold(window) -> None:  # type: ignore[no-untyped-def]
    """Elder landscape: 1.5 rows of keys show, the rest behind a small inner scroll."""
    root = window()
    area = QScrollArea(root)
    area.setGeometry(0, 0, 600, 260)
    area.setWidgetResizable(True)
    kb = QWidget()
    v = QVBoxLayout(kb)
    for _ in range(4):
        v.addWidget(big_button("a"))
    area.setWidget(kb)
    root.show()
    assert "behind-scroll" not in rules(root)  # scrolling content that may scroll
    kb.setProperty("mustShow", True)  # what the keyboard says about itself
    assert "behind-scroll" in rules(root)
    area.setGeometry(0, 0, 600, 500)
    assert "behind-scroll" not in rules(root)


def test_a_scroll_area_too_small_to_use(window) -> None:  # type: ignore[no-untyped-def]
    root = window()
    area = QScrollArea(root)
    area.setGeometry(0, 0, 600, 120)
    area.setWidgetResizable(True)
    inner = QWidget()
    inner.setMinimumHeight(800)
    area.setWidget(inner)
    assert "behind-scroll" in rules(root)
    area.setGeometry(0, 0, 600, 500)
    assert "behind-scroll" not in rules(root)


def test_text_wider_than_its_label(window) -> None:  # type: ignore[no-untyped-def]
    root = window()
    lab = QLabel("可输入拼音选字（如 shebao → 社保）", root)
    lab.setStyleSheet("font-size: 30px;")
    lab.setGeometry(0, 0, 300, 60)
    assert "text-cut" in rules(root)
    lab.setGeometry(0, 0, 790, 60)
    assert "text-cut" not in rules(root)


def test_wrapped_text_taller_than_its_label(window) -> None:  # type: ignore[no-untyped-def]
    """The idle countdown: two lines of text in a one-line-high label."""
    root = window()
    lab = label("您还在吗？7 秒后将自动退出并清除您的信息", "idleText", parent=root)
    lab.setStyleSheet("font-size: 34px;")
    lab.setGeometry(0, 0, 500, 45)
    assert "text-cut" in rules(root)
    lab.setGeometry(0, 0, 500, lab.heightForWidth(500))
    assert "text-cut" not in rules(root)


def test_a_button_squeezed_to_a_sliver(window) -> None:  # type: ignore[no-untyped-def]
    """The keyboard's bottom row with candidates shown: text taller than the key."""
    root = window()
    b = QPushButton("清空", root)
    b.setStyleSheet("font-size: 36px; min-height: 0; padding: 0;")
    b.setGeometry(0, 0, 200, 20)
    assert "text-cut" in rules(root)
    b.setGeometry(0, 0, 200, 100)
    assert "text-cut" not in rules(root)


def test_texts_drawn_over_each_other(window) -> None:  # type: ignore[no-untyped-def]
    """A tile laid out for 1080p on a 720p window: title over subtitle."""
    root = window()
    title = QLabel("社保参保缴费证明", root)
    sub = QLabel("打印社会保险参保缴费证明", root)
    title.setGeometry(10, 10, 400, 50)
    sub.setGeometry(10, 40, 400, 50)
    assert "text-cut" in {p.rule for p in check(root, metrics=M) if "overlaps" in p.detail}
    sub.setGeometry(10, 70, 400, 50)
    assert not [p for p in check(root, metrics=M) if "overlaps" in p.detail]


def test_a_control_outside_the_window(window) -> None:  # type: ignore[no-untyped-def]
    root = window()
    big_button("清空", root).move(700, 10)
    assert "off-window" in rules(root)


def test_a_window_grown_past_its_panel(qtbot) -> None:  # type: ignore[no-untyped-def]
    """A screen whose content needs more width than the panel makes the kiosk window
    grow past it (the gallery saw 1248 px on a 1080 px panel): the panel's edge cuts
    off what sits beyond it, though nothing leaves the (grown) window."""
    from PySide6.QtCore import QSize

    class Kiosk(QWidget):
        screen_size = QSize(1080, 1920)

    root = Kiosk()
    qtbot.addWidget(root)
    v = QVBoxLayout(root)
    wide = QWidget()
    wide.setMinimumWidth(1200)  # a row of buttons wider than the panel
    v.addWidget(wide)
    root.resize(1080, 1920)
    assert "window-grew" in rules(root)
    wide.setMinimumWidth(900)
    v.activate()
    root.resize(1080, 1920)
    assert "window-grew" not in rules(root)


@pytest.mark.parametrize("name,size,ok_size", [
    ("chrome", (80, 68), (100, 88)),  # header buttons ~68 px high
    ("action-next", (200, 100), (240, 100)),  # a step's way forward, too narrow
    ("key", (60, 100), (80, 100)),
])
def test_touch_targets_below_the_documented_minimum(window, name, size, ok_size) -> None:  # type: ignore[no-untyped-def]
    root = window()
    b = QPushButton("EN", root)
    b.setObjectName(name)
    b.setStyleSheet("font-size: 20px; padding: 0; min-height: 0;")
    b.setFixedSize(*size)
    assert "small-target" in rules(root)
    b.setFixedSize(*ok_size)
    assert "small-target" not in rules(root)


def test_home_tiles_below_their_documented_height(window) -> None:  # type: ignore[no-untyped-def]
    root = window()
    tile = QFrame(root)
    tile.setObjectName("tile")
    tile.setProperty("touchTarget", True)
    tile.setGeometry(0, 0, 400, 129)
    assert "small-target" in rules(root)
    tile.setGeometry(0, 0, 400, 190)
    assert "small-target" not in rules(root)


def test_elder_mode_asks_larger_targets(window) -> None:  # type: ignore[no-untyped-def]
    root = window()
    b = QPushButton("返回", root)
    b.setStyleSheet("font-size: 20px;")
    b.setFixedSize(260, 100)
    assert check(root, metrics=M) == []
    assert any(p.rule == "small-target" for p in check(root, metrics=theme.Metrics(1.4, True)))


@pytest.mark.parametrize("locale,text", [
    ("en", "身份验证"),  # English mode, Chinese step text
    ("zh_CN", "Step 1 of 7"),  # Chinese mode, an English line
    ("zh_CN", "請將身份證放在感應區"),  # Simplified mode, Traditional characters
    ("zh_HK", "请将身份证放在感应区"),  # Traditional mode, Simplified characters
])
def test_a_screen_mixing_languages(window, locale, text) -> None:  # type: ignore[no-untyped-def]
    root = window()
    lab = label(text, "stepLead", parent=root)
    lab.setGeometry(0, 0, 790, 80)
    assert "mixed-language" in rules(root, locale=locale)
    lab.setProperty("anyLanguage", True)  # e.g. the language buttons, each in its script
    assert "mixed-language" not in rules(root, locale=locale)


@pytest.mark.parametrize("locale,text", [
    ("en", "Step 1 of 7"), ("zh_CN", "第 1 步 / 共 7 步"), ("zh_HK", "第 1 步 / 共 7 步"),
    ("zh_CN", "可输入拼音选字（如 shebao → 社保）"), ("zh_HK", "請將身份證放在感應區"),
    ("zh_CN", "EN"), ("en", "DG-DEMO-0001"),
])
def test_text_in_the_chosen_language_passes(window, locale, text) -> None:  # type: ignore[no-untyped-def]
    root = window()
    lab = label(text, "stepLead", parent=root)
    lab.setGeometry(0, 0, 790, 80)
    assert "mixed-language" not in rules(root, locale=locale)
