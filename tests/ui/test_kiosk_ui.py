"""The kiosk's real widgets, driven like a citizen would, against the reference backend."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QLabel, QPushButton, QWidget

from kiosk.ui.citizen import ScriptedCitizen, tap
from kiosk.ui.idle import IdleOverlay
from kiosk.ui.layout_check import layout_problems
from kiosk.ui.main_window import MainWindow
from synthetic.citizens import BY_KEY

SIZES = [(1920, 1080), (1080, 1920), (1280, 1024)]


def make_window(qtbot, rt, size=(1920, 1080)) -> MainWindow:  # type: ignore[no-untyped-def]
    win = MainWindow(rt, QSize(*size))
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    return win


class Citizen(ScriptedCitizen):
    result: bool | None = None  # how the visit ended, once it has


def run_citizen(qtbot, win, **kw) -> Citizen:  # type: ignore[no-untyped-def]
    result: dict[str, bool] = {}
    citizen = Citizen(win, "ss_certificate", None, lambda ok: result.update(ok=ok),
                      delay_ms=30, **kw)
    win.screenShown.emit(win.current_screen)  # start from the screen already on display
    qtbot.waitUntil(lambda: "ok" in result, timeout=60000)
    citizen.result = result["ok"]
    return citizen


def overlay(win: MainWindow) -> IdleOverlay:
    assert win.overlay is not None  # made with the window's chrome
    return win.overlay


def child(root: QWidget, name: str) -> QPushButton:
    button = root.findChild(QPushButton, name)
    assert button is not None, name
    return button


def all_texts(win: MainWindow) -> str:
    parts = [w.text() for w in win.findChildren(QLabel)]
    parts += [w.text() for w in win.findChildren(QAbstractButton)]
    return "\n".join(parts)


def test_certificate_flow_through_the_widgets(qtbot, make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime()
    win = make_window(qtbot, rt)
    citizen = run_citizen(qtbot, win)
    assert citizen.result is True, citizen.seen
    kinds = [n.rsplit(".", 1)[-1] for n in citizen.seen]
    for expected in ("attract", "home", "consent", "preview", "rating", "result"):
        assert expected in kinds
    assert len(rt.devices["a4"].jobs) == 1 and len(rt.devices["receipt"].jobs) == 1
    assert win.session is None  # wiped after the flow
    assert citizen.seen[-1] == "home"


def test_a_social_security_card_left_in_the_slot_is_called_back(qtbot, make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime(idcard="sim://", sscard="sim://?card=li")  # 李建国 uses his card
    win = make_window(qtbot, rt)
    citizen = run_citizen(qtbot, win)
    assert citizen.result is True, citizen.seen
    # The flow is over and the card is still in the slot: a banner until it is taken.
    qtbot.waitUntil(lambda: win.card_banner.isVisible(), timeout=5000)
    assert win.card_banner.text() == "请取走读卡口中的社保卡"
    assert win.card_reminder.showing == "ss_card" and layout_problems(win) == []
    assert BY_KEY["li"].name not in all_texts(win)
    rt.devices["sscard"].remove_card()
    qtbot.waitUntil(lambda: not win.card_banner.isVisible(), timeout=5000)
    assert win.card_reminder.showing == ""


def test_an_id_card_session_sets_no_reminder(qtbot, make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime()  # the ID card lies on top of the reader: picked up, not watched
    win = make_window(qtbot, rt)
    assert run_citizen(qtbot, win).result is True
    qtbot.wait(500)
    assert not win.card_banner.isVisible()


def test_idle_timeout_counts_down_wipes_and_returns_to_attract(qtbot, make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime()
    rt.config = rt.config.with_section("session", idle_timeout_s=1.5, countdown_s=1.0)
    win = make_window(qtbot, rt)
    tap(win.attract.touch)
    tap(win.home.tiles["ss_certificate"])
    # the card is read and the consent screen waits for the citizen, who walks away
    qtbot.waitUntil(lambda: win.current_screen.endswith(".consent"), timeout=20000)
    session = win.session
    assert session is not None and session.identity is not None
    qtbot.waitUntil(lambda: overlay(win).isVisible(), timeout=5000)
    assert "秒后将自动退出" in overlay(win).text.text()
    qtbot.waitUntil(lambda: win.current_screen == "attract", timeout=5000)
    assert win.session is None
    assert session.identity is None and session.data == {} and session.end_reason == "idle"
    qtbot.wait(300)  # let the cancelled flow thread finish
    text = all_texts(win)
    chen = BY_KEY["chen"]
    for secret in (chen.name, chen.id_number, chen.id_number[-4:], chen.name[0] + "*"):
        assert secret not in text
    assert not overlay(win).isVisible()


def test_touch_during_countdown_keeps_the_session(qtbot, make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime()
    rt.config = rt.config.with_section("session", idle_timeout_s=1.5, countdown_s=1.0)
    win = make_window(qtbot, rt)
    tap(win.attract.touch)
    tap(win.home.tiles["ss_certificate"])
    qtbot.waitUntil(lambda: win.current_screen.endswith(".consent"), timeout=20000)
    qtbot.waitUntil(lambda: overlay(win).isVisible(), timeout=5000)
    tap(overlay(win).button)
    assert not overlay(win).isVisible()
    assert win.session is not None and win.current_screen.endswith(".consent")


def test_back_on_identify_returns_home_without_identity(qtbot, make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime(idcard="sim://")  # nobody puts a card on the reader
    win = make_window(qtbot, rt)
    tap(win.attract.touch)
    tap(win.home.tiles["ss_certificate"])
    qtbot.waitUntil(lambda: win.current_screen.endswith(".identify"), timeout=10000)
    tap(child(win.flow_view, "action-cancel"))
    qtbot.waitUntil(lambda: win.current_screen == "home", timeout=10000)
    assert win.session is None


def test_platform_error_shows_what_to_do_next(qtbot, make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime(idcard="sim://?card=nobody")
    win = make_window(qtbot, rt)
    errors: list[str] = []

    def inspect(w: MainWindow, name: str) -> None:
        if name.endswith(".error"):
            errors.append(all_texts(w))

    citizen = run_citizen(qtbot, win, inspect=inspect)
    assert citizen.result is False
    assert errors and "未查询到您的相关记录" in errors[0] and "12345" in errors[0]
    assert rt.devices["a4"].jobs == []


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_screen_fits_at_kiosk_resolutions(qtbot, make_runtime, size) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime()
    win = make_window(qtbot, rt, size)
    problems: dict[str, list[str]] = {}

    def inspect(w: MainWindow, name: str) -> None:
        found = layout_problems(w)
        if found:
            problems[name] = found

    citizen = run_citizen(qtbot, win, inspect=inspect)
    assert citizen.result is True
    assert len(citizen.seen) >= 7
    assert problems == {}


def test_a_tap_on_an_empty_part_of_the_screen_counts_as_activity(qtbot, make_runtime) -> None:  # type: ignore[no-untyped-def]
    """The review: only buttons kept the session alive; a tap on the page's blank space
    did not, and the citizen reading a long text was logged out."""
    from PySide6.QtCore import QPoint

    rt = make_runtime()
    rt.config = rt.config.with_section("session", idle_timeout_s=3.0, countdown_s=1.0)
    win = make_window(qtbot, rt)
    tap(win.attract.touch)
    tap(win.home.tiles["ss_certificate"])
    qtbot.waitUntil(lambda: win.current_screen.endswith(".consent"), timeout=20000)
    qtbot.wait(1500)
    before = win.idle.remaining()
    # the flow view's own background, away from every control
    QTest.mouseClick(win.flow_view, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert win.idle.remaining() > before + 1.0


def test_keys_stay_put_while_typing_and_the_bottom_row_is_whole(qtbot, make_runtime) -> None:  # type: ignore[no-untyped-def]
    """After the first letter the candidate bar used to push the keys down ~106 px and
    squeeze the bottom row to a sliver; every key keeps its place and its height."""
    from kiosk.ui.keyboard import OnScreenKeyboard

    for size, elder in (((1080, 1920), True), ((1920, 1080), True), ((1920, 1080), False)):
        rt = make_runtime()
        win = make_window(qtbot, rt, size)
        win.set_elder(elder)
        tap(win.attract.touch)
        tap(win.home.tiles["service_guide"])
        qtbot.waitUntil(lambda w=win: w.current_screen.endswith("browse.choice"), timeout=20000)
        tap(child(win.flow_view, "action-search"))
        qtbot.waitUntil(lambda w=win: w.current_screen.endswith("browse.keyboard"),
                        timeout=10000)
        kb = win.flow_view.findChild(OnScreenKeyboard)
        assert kb is not None and kb.wait_ready(30)

        def keys(w: Any = win) -> dict[str, tuple[int, int, int, int]]:
            return {b.property("key"): (*b.mapTo(w, b.rect().topLeft()).toTuple(),
                                        b.width(), b.height())
                    for b in w.flow_view.findChildren(QPushButton, "key") if b.isVisible()}
        before = keys()
        for k in "GJJ":
            tap(next(b for b in win.flow_view.findChildren(QPushButton, "key")
                     if b.property("key") == k))
        qtbot.waitUntil(lambda k=kb: bool(k.candidates()), timeout=10000)
        qtbot.wait(50)
        after = keys()
        assert {k: after[k] for k in before} == before, (size, elder)
        heights = {h for (_x, _y, _w, h) in after.values()}
        assert len(heights) == 1, heights  # the bottom row as tall as the letters
        assert layout_problems(win) == []
        win.close()
