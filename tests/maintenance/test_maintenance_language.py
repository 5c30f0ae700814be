"""The maintenance screens in each language: the layout check (kiosk/ui/layout_check.py)
finds nothing on the entry page and on a busy dashboard, and no figure, check or result
is left in English (or as a raw key) on a Chinese screen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QPushButton

from kiosk.ui.layout_check import check

PIN = "48151623"
CODE = "HELLO-TOKEN-1234567890"
# What the dashboard must say in each language (a sample of translated figures/results).
EXPECTED = {
    "zh_CN": {"scanner": "已读码", "camera": "帧/秒", "report": "读到 22 个字符"},
    "zh_HK": {"scanner": "已讀碼", "camera": "幀/秒", "report": "讀到 22 個字元"},
    "en": {"scanner": "codes read", "camera": "frames/s", "report": "22 characters read"},
}


@pytest.fixture
def window(kiosk_windows, kiosk_config):  # type: ignore[no-untyped-def]
    def make(locale: str, size: QSize):  # type: ignore[no-untyped-def]
        cfg = kiosk_config.with_section("terminal", locale=locale).with_section(
            "devices", scanner=f"sim://?code={CODE}&delay_ms=50", camera="sim://?fps=10")
        return kiosk_windows(cfg, size)

    return make


def problems(win, locale: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(p) for p in check(win, locale=locale)]


@pytest.mark.parametrize("locale", ["zh_CN", "zh_HK", "en"])
@pytest.mark.parametrize("size", [QSize(1920, 1080), QSize(1080, 1920), QSize(1280, 1024)],
                         ids=["landscape", "portrait", "square"])
def test_maintenance_screens_in_every_language(qtbot, window, locale, size) -> None:  # type: ignore[no-untyped-def]
    win = window(locale, size)
    win.open_maintenance()
    qtbot.waitUntil(lambda: win.current_screen == "maintenance.entry")
    assert problems(win, locale) == []
    pad = win.maintenance.pinpad
    digits = {b.property("digit"): b for b in pad.findChildren(QPushButton, "pinDigit")}
    for d in PIN:
        qtbot.mouseClick(digits[d], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(pad.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.current_screen == "maintenance.dashboard", timeout=30_000)
    dash = win.maintenance.dashboard
    rt = win.runtime
    rt.devices["receipt"].set_paper("low")  # a detail to show
    qtbot.waitUntil(lambda: dash.snapshot is not None and "paper_low" in
                    dash.snapshot.device("receipt").details, timeout=30_000)

    def run(kind: str, action: str) -> None:
        tag = f"{action}:{kind}"
        qtbot.mouseClick(dash.rows[kind].buttons[action], Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: tag in dash.results, timeout=30_000)

    want = EXPECTED[locale]
    run("scanner", "scan")
    assert want["report"] in dash.report.text()
    qtbot.waitUntil(lambda: want["scanner"] in dash.rows["scanner"].details.text(),
                    timeout=30_000)
    assert want["camera"] in dash.rows["camera"].details.text()
    for text in (dash.report.text(), *(r.details.text() for r in dash.rows.values())):
        assert "reads" not in text and "fps" not in text and "maintenance." not in text
    assert problems(win, locale) == []
    rt.devices["idcard"].place_card("li")
    run("idcard", "card_read")
    assert problems(win, locale) == []
    run("receipt", "restart")
    assert problems(win, locale) == []
    run("receipt", "selftest")  # every check listed, translated
    assert problems(win, locale) == []
    assert ("status_answer" not in dash.report.text() and "online" not in dash.report.text()) \
        or locale == "en"
    win.maintenance.leave()
