"""Every screen of every business flow fits at the kiosk's panel sizes (no clipped text)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kiosk.ui.layout_check import layout_problems

SIZES = [(1920, 1080), (1080, 1920)]
# (flow, card on the reader, script overrides): the demo paths plus the other screens.
PATHS: list[tuple[str, str, dict[str, Any]]] = [
    ("ss_certificate", "chen", {"kind.choice": ["option-payment_detail"]}),
    ("tax_list", "wang", {"mode.choice": ["option-year"],
                          "year.choice": [["option-2020"], ["option-2021"]],
                          "nothing.info": ["action-again"]}),
    ("tax_list", "chen", {}),
    ("no_property", "chen", {}),
    ("no_property", "wang", {"scope.choice": ["option-self"], "explain.info": ["action-done"]}),
    ("provident_fund", "ouyang", {"start": []}),
    ("queue_ticket", "ouyang", {"start": [], "identify.identify": [],
                                "walk_in.choice": ["option-ss"]}),
    ("queue_ticket", "li", {"start": [], "identify.identify": [],
                            "late.choice": ["option-walk_in"]}),
    ("queue_ticket", "chen", {}),
    ("evaluation", "chen", {}),
    ("service_guide", "chen", {
        "browse.choice": [["option-cat:hf"], ["option-matter:hf-loan"]],
        "detail.info": [["option-section:materials"], ["option-section:fees"],
                        ["option-section:where"], ["action-print"]]}),
    ("service_guide", "chen", {}),
]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("flow,card,script", PATHS,
                         ids=[f"{f}-{c}-{i}" for i, (f, c, _) in enumerate(PATHS)])
def test_every_screen_fits(business_runtime, drive, size, flow, card, script) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime(idcard=f"sim://?card={card}")
    problems: dict[str, list[str]] = {}

    def inspect(win: Any, name: str) -> None:
        found = layout_problems(win)
        if found:
            problems[name] = found

    visit = drive(rt, flow, script=script, size=size, inspect=inspect)
    assert visit.ok, (visit.names, visit.errors)
    assert len(visit.names) >= 4
    assert problems == {}


@pytest.mark.parametrize("flow,card,script", [PATHS[0], PATHS[1], PATHS[4], PATHS[6], PATHS[9],
                                              PATHS[10]],
                         ids=["ss", "tax-nothing", "property-found", "walk-in", "evaluation",
                              "guide"])
def test_english_screens_fit_in_portrait(business_runtime, drive, flow, card, script) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime(idcard=f"sim://?card={card}")
    rt.config = rt.config.with_section("terminal", locale="en")
    problems: dict[str, list[str]] = {}
    titles: list[str] = []

    def inspect(win: Any, name: str) -> None:
        if win.flow_view.step_screen is not None:
            titles.append(win.flow_view.step_screen.title)
        found = layout_problems(win)
        if found:
            problems[name] = found

    visit = drive(rt, flow, script=script, size=(1080, 1920), inspect=inspect)
    assert visit.ok, (visit.names, visit.errors)
    assert problems == {}
    # screen titles are English (platform data such as matter names stays Chinese)
    assert titles and not re.search(r"[\u4e00-\u9fff]", titles[0]), titles


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("flow,card,script", [PATHS[0], PATHS[6], PATHS[9], PATHS[10]],
                         ids=["ss-form", "walk-in", "keypad", "guide-tabs"])
def test_elder_mode_screens_fit(business_runtime, drive, size, flow, card, script) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime(idcard=f"sim://?card={card}")
    problems: dict[str, list[str]] = {}
    modes: set[bool] = set()

    def inspect(win: Any, name: str) -> None:
        if "." in name:  # a flow screen (elder mode is chosen on the home screen)
            modes.add(win.elder)
        found = layout_problems(win)
        if found:
            problems[name] = found

    visit = drive(rt, flow, script=script, size=size, inspect=inspect, elder=True)
    assert visit.ok, (visit.names, visit.errors)
    assert modes == {True}
    assert problems == {}


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_expired_card_screen_fits(business_runtime, drive, size, locale, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime(idcard="sim://?card=zhou")  # an ID card that expired in 2024
    rt.config = rt.config.with_section("terminal", locale=locale)
    problems: dict[str, list[str]] = {}

    def inspect(win: Any, name: str) -> None:
        found = layout_problems(win)
        if found:
            problems[name] = found
        win.grab().save(str(tmp_path / f"{name}.png"))  # to look at

    visit = drive(rt, "ss_certificate", script={"ss_certificate.identify.error": ["action-home"]},
                  size=size, inspect=inspect)
    assert not visit.ok and "ss_certificate.identify.error" in visit.names
    (err, _texts), = visit.shown("ss_certificate.identify.error")
    assert ("证件已过期" in err.text) if locale == "zh_CN" else ("expired" in err.text)
    assert problems == {}
