"""On-screen keyboard: pinyin candidates, letters, digit pads; driven by tapping keys."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QPushButton, QVBoxLayout, QWidget

from kiosk.ime.pinyin import PinyinIME
from kiosk.ui import theme
from kiosk.ui.citizen import tap
from kiosk.ui.keyboard import OnScreenKeyboard


@pytest.fixture(scope="module")
def ime() -> PinyinIME:
    return PinyinIME(["公积金贷款还款明细", "个人所得税纳税清单"])


@pytest.mark.parametrize("letters,first", [
    ("shebao", "社保"), ("sb", "社保"), ("gjj", "公积金"), ("gongjijin", "公积金"),
    ("zhengming", "证明"), ("yinhang", None), ("shi", None), ("wufangzm", "无房证明"),
])
def test_candidates(ime: PinyinIME, letters: str, first: str | None) -> None:
    cands = ime.candidates(letters)
    assert cands, letters
    if first:
        assert cands[0] == first
    assert len(cands) == len(set(cands))


def test_single_characters_lead_with_common_ones(ime: PinyinIME) -> None:
    assert ime.candidates("shi").index("是") < 5
    assert "中" in ime.candidates("zhong")[:3]
    assert ime.candidates("") == [] and ime.candidates("123") == []


def test_polyphones_in_phrases_read_right() -> None:
    ime = PinyinIME(["银行网点"])
    assert ime.candidates("yinhang")[0] == "银行网点"


def test_consumed_letters() -> None:
    assert PinyinIME.consumed("shebaoka", "社保") == 6
    assert PinyinIME.consumed("gjj", "公积金") == 3
    assert PinyinIME.consumed("zhongguo", "中") == 5


def keyboard(qtbot, mode: str, **kw) -> OnScreenKeyboard:  # type: ignore[no-untyped-def]
    m = theme.metrics_for(1920, 1080)
    root = QWidget()
    root.setStyleSheet(theme.stylesheet(m))
    kb = OnScreenKeyboard(m, mode, **kw)
    QVBoxLayout(root).addWidget(kb)
    qtbot.addWidget(root)
    root.resize(1600, 800)
    root.show()
    kb._test_root = root  # type: ignore[attr-defined]  # keep the window alive
    assert kb.wait_ready(30)
    return kb


def key(kb: OnScreenKeyboard, k: str) -> QPushButton:
    for b in kb.findChildren(QPushButton, "key"):
        if b.property("key") == k:
            return b
    raise AssertionError(f"no key {k}")


def test_typing_pinyin_and_choosing_a_candidate(qtbot) -> None:  # type: ignore[no-untyped-def]
    kb = keyboard(qtbot, "pinyin", vocabulary=["公积金贷款还款明细"])
    for ch in "GJJ":
        tap(key(kb, ch))
    qtbot.waitUntil(lambda: kb.candidates()[:1] == ["公积金"], timeout=5000)
    cands = kb.findChildren(QPushButton, "candidate")
    assert cands[0].text() == "公积金"
    tap(cands[0])
    assert kb.text == "公积金" and kb.composing == ""
    for ch in "MX":
        tap(key(kb, ch))
    qtbot.waitUntil(lambda: bool(kb.candidates()), timeout=5000)
    tap(key(kb, "SPACE"))  # space takes the first candidate
    assert kb.text.startswith("公积金") and len(kb.text) > 3
    tap(key(kb, "BACKSPACE"))
    assert kb.text == "公积金" or len(kb.text) == 4


def test_switch_to_letters_and_clear(qtbot) -> None:  # type: ignore[no-untyped-def]
    kb = keyboard(qtbot, "pinyin")
    tap(key(kb, "SWITCH"))
    assert kb.mode == "letters"
    for ch in "SB":
        tap(key(kb, ch))
    assert kb.text == "SB"
    tap(key(kb, "CLEAR"))
    assert kb.text == ""


def test_id_number_pad_accepts_digits_and_x_up_to_the_limit(qtbot) -> None:  # type: ignore[no-untyped-def]
    kb = keyboard(qtbot, "id_number", max_len=18)
    for ch in "44190019850314362X" + "9":
        tap(key(kb, ch))
    assert kb.text == "44190019850314362X"
    assert {b.property("key") for b in kb.findChildren(QPushButton, "key")} == set(
        "0123456789X") | {"BACKSPACE"}


def test_digit_pad_has_no_letters(qtbot) -> None:  # type: ignore[no-untyped-def]
    kb = keyboard(qtbot, "digits")
    keys = {b.property("key") for b in kb.findChildren(QPushButton, "key")}
    assert keys == set("0123456789") | {"BACKSPACE"}
