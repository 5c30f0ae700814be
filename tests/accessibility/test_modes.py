"""Language and elder-friendly mode: one tap from every screen, per visit."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TypeVar

import pytest
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLabel, QPushButton, QWidget

from kiosk.ui import theme
from kiosk.ui.citizen import tap
from kiosk.ui.main_window import MainWindow
from kiosk.voice import VoiceGuide

W = TypeVar("W", bound=QWidget)


def window(qtbot, rt, voice=None, size=(1920, 1080)) -> MainWindow:  # type: ignore[no-untyped-def]
    win = MainWindow(rt, QSize(*size), voice=voice)
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    return win


def find(root: QWidget, cls: type[W], name: str) -> W:
    """The widget named `name` under `root` (the test fails if there is none)."""
    found = root.findChild(cls, name)
    assert found is not None, name
    return found


def chrome(win: MainWindow, name: str) -> QPushButton:
    return win.chrome_buttons[name]


def start_certificate(win: MainWindow) -> None:
    tap(win.attract.touch)
    tap(win.home.tiles["ss_certificate"])


def test_language_switch_applies_to_home_and_the_visit_then_resets(qtbot, make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime(idcard="sim://")  # nobody places a card: the flow waits on identify
    win = window(qtbot, rt)
    tap(win.attract.touch)
    tap(chrome(win, "lang-en"))
    assert find(win.home, QLabel, "homeTitle").text() == "Choose a service"
    assert win.home.tiles["ss_certificate"].title.text() == "Social insurance certificate"
    assert find(win, QLabel, "help").text().startswith("Need help?")
    tap(win.home.tiles["ss_certificate"])
    qtbot.waitUntil(lambda: win.current_screen.endswith(".identify"), timeout=10000)
    assert find(win.flow_view, QLabel, "stepTitle").text() == "Identification"
    # switching language in the middle of a step redraws the chrome at once
    tap(chrome(win, "lang-zh_HK"))
    assert find(win, QLabel, "help").text().startswith("如需幫助")
    tap(find(win.flow_view, QPushButton, "action-cancel"))
    qtbot.waitUntil(lambda: win.current_screen == "home", timeout=10000)
    win.show_attract()  # the visit is over
    assert win.ui_locale == "zh_CN"
    assert find(win, QLabel, "help").text().startswith("如需帮助")


def test_elder_mode_is_larger_slower_and_simpler(qtbot, make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime(idcard="sim://")
    win = window(qtbot, rt)
    tap(win.attract.touch)
    std_font = find(win.home, QLabel, "homeTitle").fontInfo().pixelSize()
    std_timeout = win.idle.timeout_s
    tap(chrome(win, "elder"))
    assert win.elder
    elder_font = find(win.home, QLabel, "homeTitle").fontInfo().pixelSize()
    assert elder_font >= std_font * 1.35
    assert win.idle.timeout_s == pytest.approx(std_timeout * 2)
    tap(win.home.tiles["ss_certificate"])
    qtbot.waitUntil(lambda: win.current_screen.endswith(".identify"), timeout=10000)
    back = find(win.flow_view, QPushButton, "action-cancel")
    # touch targets: at least 120 px at 1080 p in elder mode (see docs/accessibility.md)
    assert back.height() >= 120 and back.width() >= 240
    body = find(win.flow_view, QLabel, "stepLead")
    assert body.fontInfo().pixelSize() >= 56
    tap(back)
    qtbot.waitUntil(lambda: win.current_screen == "home", timeout=10000)
    win.show_attract()
    assert not win.elder and win.idle.timeout_s == pytest.approx(std_timeout)


def contrast(fg: str, bg: str) -> float:
    def lum(hexcolor: str) -> float:
        rgb = [int(hexcolor[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    a, b = sorted((lum(fg), lum(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


@pytest.mark.parametrize("elder,minimum", [(False, 4.5), (True, 7.0)])
def test_text_colours_meet_the_contrast_minimum(elder: bool, minimum: float) -> None:
    c = theme.palette(elder)
    pairs = [(c["ink"], c["background"]), (c["ink"], c["surface"]), (c["muted"], c["background"]),
             (c["muted"], c["surface"]), (c["muted"], c["footer"]), ("#FFFFFF", c["primary"]),
             (c["primary"], c["surface"]), (c["warn"], c["surface"])]
    for fg, bg in pairs:
        assert contrast(fg, bg) >= minimum, (fg, bg, round(contrast(fg, bg), 2))


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")
def test_every_screen_speaks_its_prompt_and_can_replay(qtbot, make_runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime(idcard="sim://?card=chen&delay_ms=800")  # the identify screen is seen
    voice = VoiceGuide(sink_dir=tmp_path)
    win = window(qtbot, rt, voice=voice)
    start_certificate(win)
    qtbot.waitUntil(lambda: win.current_screen.endswith(".consent"), timeout=15000)
    said = [t for t, _ in voice.spoken]
    assert "请选择您要办理的业务" in said
    assert any("请将身份证放在感应区" in t or "正在读卡" in t for t in said), said
    assert said[-1] == "授权确认"
    for text in said:  # nothing personal was ever spoken
        assert "陈" not in text and "*" not in text and "3627" not in text
    n = len(voice.spoken)
    tap(chrome(win, "voice-replay"))
    qtbot.waitUntil(lambda: len(voice.spoken) == n + 1, timeout=5000)
    assert voice.spoken[-1][0] == "授权确认"
    tap(chrome(win, "voice-toggle"))
    assert not voice.enabled
    tap(find(win.flow_view, QPushButton, "action-disagree"))
    qtbot.waitUntil(lambda: win.current_screen == "home", timeout=10000)
    assert len(voice.spoken) == n + 1  # switched off: nothing more was said
