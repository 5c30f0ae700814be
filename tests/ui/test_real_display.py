"""The real kiosk on a real display, driven by real input events (xdotool on X).

`kiosk run` starts as a terminal starts it; the test finds controls through the probe
file the app writes (kiosk/ui/probe.py) and clicks them with the X server's pointer.
Every screen passed is checked by the layout check and saved as a screenshot under the
test's tmp folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from real_display import Cage, Kiosk, XDisplay

CJK = re.compile(r"[\u3400-\u9fff]")
pytestmark = pytest.mark.slow


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    d = tmp_path / "shots"
    d.mkdir()
    return d


def tap(x: XDisplay, kiosk: Kiosk, state: dict[str, Any], **what: str) -> None:
    c = kiosk.control(state, **what)
    assert c["enabled"], c
    x.click(*c["centre"])


def fits(state: dict[str, Any]) -> bool:
    assert state["problems"] == [], (state["screen"], state["problems"])
    return True


def test_full_screen_on_a_bare_x_server_follows_a_resolution_change(tmp_path: Path,
                                                                     shots: Path) -> None:
    """No window manager: the window must still cover the whole screen, laid out for it,
    and follow the screen when its resolution changes (landscape -> portrait -> 1280x1024)."""
    x = XDisplay(1920, 1080, resizeable=True)
    kiosk = Kiosk(tmp_path, x.env())
    try:
        s = kiosk.wait(lambda s: s.get("screen") == "attract" and s["window"] == [0, 0, 1920, 1080],
                       "attract full screen")
        fits(s)
        x.screenshot(shots / "1-1920x1080.png")
        tap(x, kiosk, s, name="attractTouch")
        s = kiosk.screen("home")
        fits(s)
        for w, h in ((1080, 1920), (1280, 1024)):
            x.resize(w, h)
            s = kiosk.wait(lambda s, w=w, h=h: s["window"] == [0, 0, w, h] and not s["problems"],
                           f"window {w}x{h} laid out")
            x.screenshot(shots / f"2-{w}x{h}.png")
            tiles = [c for c in s["controls"] if c["name"] == "tile"]
            assert tiles and all(0 <= c["centre"][0] < w and 0 <= c["centre"][1] < h
                                 for c in tiles)
    finally:
        kiosk.stop()
        x.stop()


def test_full_screen_under_the_cage_kiosk_compositor(tmp_path: Path) -> None:
    """Under cage (Wayland) the compositor decides the window's size: the kiosk must take
    the whole output it is configured for and lay out for it. (cage's headless backend in
    wlroots 0.15 renders no pixels to capture — grim returns black — so this test reads the
    sizes, not a picture; the X tests look at pictures.)"""
    cage = Cage(tmp_path)
    kiosk = Kiosk(tmp_path, cage.env())
    try:
        s = kiosk.wait(lambda s: s.get("screen") == "attract" and s["display"][2] > 0
                       and s["window"][2:] == s["display"][2:], "attract filling cage's output")
        fits(s)
        assert s["display"][2:] == [1280, 720]  # wlroots' headless output
    finally:
        kiosk.stop()
        cage.stop()


def test_a_citizen_in_elder_mode_and_english_searches_the_guide_by_typing(
        tmp_path: Path, shots: Path) -> None:
    """The whole service-guide flow with real clicks: English, elder mode, letters typed on
    the on-screen keyboard, a language switch in the middle of a step, to the printout."""
    x = XDisplay(1080, 1920)
    kiosk = Kiosk(tmp_path, x.env())
    n = 0

    def look(s: dict[str, Any], name: str) -> dict[str, Any]:
        nonlocal n
        n += 1
        if s["problems"]:
            # The probe writes every 250 ms and may catch a screen between two layout
            # passes (a scroll bar just appeared, the content not yet narrowed to it: seen
            # once under load). What a citizen sees is the screen once laid out; a problem
            # that stays is still reported below, with the state it stayed in.
            try:
                s = kiosk.wait(lambda s2, scr=s["screen"]: s2["screen"] == scr
                               and not s2["problems"], f"{name} laid out", timeout=3)
            except AssertionError:
                s = kiosk.state()
        x.screenshot(shots / f"{n:02d}-{name}.png")
        fits(s)
        return s

    try:
        s = look(kiosk.screen("attract"), "attract")
        tap(x, kiosk, s, name="attractTouch")
        s = kiosk.screen("home")
        c = next(c for c in s["controls"] if c["name"] == "chrome" and c["text"] == "EN")
        x.click(*c["centre"])
        s = kiosk.wait(lambda s: s["locale"] == "en" and s["screen"] == "home", "English home")
        c = next(c for c in s["controls"] if c["name"] == "chrome" and "Large" in c["text"])
        x.click(*c["centre"])
        s = look(kiosk.wait(lambda s: s["elder"] and s["screen"] == "home", "elder home"),
                 "home")
        # The guide is filed under Public services: that category's card (turning the
        # categories' pages with the big arrow until it shows), then the guide's row.
        while not any(c["flow"] == "service_guide" for c in s["controls"]):
            public = [c for c in s["controls"]
                      if c["name"] == "categoryCard" and c["text"] == "Public services"]
            tap(x, kiosk, s, **({"name": "categoryCard", "text": "Public services"} if public
                                else {"name": "page-next"}))
            s = kiosk.wait(lambda s2, old=s: s2["controls"] != old["controls"], "next page")
        tap(x, kiosk, s, flow="service_guide")
        s = look(kiosk.screen("browse.choice"), "browse")
        tap(x, kiosk, s, name="action-search")
        s = look(kiosk.screen("browse.keyboard"), "keyboard")
        before = {c["key"]: c["centre"] for c in s["controls"] if c["name"] == "key"}
        assert set("QWERTYUIOPASDFGHJKLZXCVBNM") <= set(before), sorted(before)
        for letter in "SB":
            s = kiosk.state()
            tap(x, kiosk, s, name="key", key=letter)
            kiosk.wait(lambda s, t=letter: any(t in txt for txt in s["texts"]), f"typed {letter}")
        s = look(kiosk.state(), "typed")
        after = {c["key"]: c["centre"] for c in s["controls"] if c["name"] == "key"}
        assert {k: after[k] for k in before} == before  # no key moved under the finger
        # Switch to 简体 on this screen: it must switch at once, and keep what was typed.
        c = next(c for c in s["controls"] if c["name"] == "chrome" and c["text"] == "简体")
        x.click(*c["centre"])
        s = kiosk.wait(lambda s: s["locale"] == "zh_CN", "Chinese")
        assert any("SB" in t for t in s["texts"]), s["texts"]
        assert any(CJK.search(c["text"]) for c in s["controls"] if c["name"] == "action-confirm")
        look(s, "switched-zh")
        c = next(c for c in s["controls"] if c["name"] == "chrome" and c["text"] == "EN")
        x.click(*c["centre"])
        s = kiosk.wait(lambda s: s["locale"] == "en" and s["screen"].endswith("keyboard"),
                       "English again")
        tap(x, kiosk, s, name="action-confirm")
        s = look(kiosk.wait(lambda s: s["screen"].endswith("browse.choice") and any(
            c["name"].startswith("option-matter:") for c in s["controls"]), "results"), "results")
        tap(x, kiosk, s, name="option-matter:ss-cert")
        s = look(kiosk.screen("detail.info"), "detail")
        tap(x, kiosk, s, name="action-print")
        s = look(kiosk.screen("done.result", timeout=60), "printed")
        assert list((tmp_path / "a4").glob("*.pdf")) or list((tmp_path / "receipt").iterdir())
        tap(x, kiosk, s, name="action-done")
        kiosk.screen("home")
    finally:
        kiosk.stop()
        x.stop()
