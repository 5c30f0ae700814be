"""无房证明: for the citizen or the couple (spouse identifies with their own card and agrees);
property found -> an explanation and where to go, and nothing printed."""

from __future__ import annotations

from typing import Any

from synthetic.citizens import BY_KEY

from .conftest import flat, ink_ratio, needs_poppler, pdf_pages, receipt_texts, render_pages

CHEN, HUANG = BY_KEY["chen"], BY_KEY["huang"]


@needs_poppler
def test_proof_for_the_citizen_alone(business_runtime, drive, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    visit = drive(rt, "no_property", script={"scope.choice": ["option-self"]})
    assert visit.ok, visit.names
    assert not any(".spouse" in n for n in visit.names)
    (_, pdf), = rt.devices["a4"].jobs
    pages = pdf_pages(pdf, tmp_path)
    text = flat("".join(pages))
    assert "无房产登记记录证明" in text and "无登记记录" in text
    assert CHEN.name in text and "4419**********3627" in text
    assert "配偶" not in text and HUANG.name not in text
    assert "第1页/共1页" in text
    assert all(ink_ratio(p) > 0.01 for p in render_pages(pdf, tmp_path))


@needs_poppler
def test_proof_for_the_couple_with_the_spouse_card(business_runtime, drive, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    same = "读到的仍是您本人的证件。请取回证件，由配偶放置其本人身份证"

    def spouse_arrives(win: Any, name: str) -> None:
        # The citizen's card is still on the reader when the spouse step starts: once
        # the screen says so, the spouse places their own card (and then agrees).
        screen = win.flow_view.step_screen
        if name.endswith("spouse.identify") and screen is not None and screen.status == same:
            rt.devices["idcard"].place_card("huang")

    visit = drive(rt, "no_property", script={"scope.choice": ["option-couple"],
                                             "spouse.identify": []}, inspect=spouse_arrives)
    assert visit.ok, visit.names
    statuses = [s.status for s, _ in visit.shown("spouse.identify") if s is not None]
    assert same in statuses
    (_consent, texts), = visit.shown("spouse_consent.consent")
    assert "请配偶本人阅读" in texts
    (_, pdf), = rt.devices["a4"].jobs
    text = flat("".join(pdf_pages(pdf, tmp_path)))
    assert "本人" in text and "配偶" in text
    assert CHEN.name in text and HUANG.name in text
    assert "4419**********3627" in text and "4419**********4153" in text
    assert CHEN.id_number not in text and HUANG.id_number not in text
    (receipt,) = receipt_texts(rt)
    assert "配偶 黄**" in receipt and HUANG.name not in receipt


def test_property_found_explains_and_prints_nothing(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime(idcard="sim://?card=wang")
    visit = drive(rt, "no_property", script={"scope.choice": ["option-self"],
                                             "explain.info": ["action-done"]})
    assert visit.ok
    (screen, texts), = visit.shown("explain.info")
    assert screen is not None and screen.title == "无法出具无房证明"
    assert "共 1 处" in screen.text
    assert "不动产登记查询结果" in texts and "东莞市不动产登记中心" in texts
    assert "元美路8号" in texts  # where to go instead
    assert not any(n.endswith(".preview") for n in visit.names)
    assert rt.devices["a4"].jobs == [] and rt.devices["receipt"].jobs == []


def test_a_person_who_is_not_the_spouse_is_refused(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    visit = drive(rt, "no_property", script={"scope.choice": ["option-couple"],
                                             "spouse.identify": ["card:li"]})
    assert not visit.ok
    (_, texts), = visit.shown(".error")
    assert "未查询到你们二人的婚姻登记关系" in texts
    assert rt.devices["a4"].jobs == [] and rt.devices["receipt"].jobs == []


def test_an_expired_spouse_card_is_refused(business_runtime, drive, admin) -> None:  # type: ignore[no-untyped-def]
    before = admin.services()["documents"].get("no_property", 0)
    rt = business_runtime()
    visit = drive(rt, "no_property", script={"scope.choice": ["option-couple"],
                                             "spouse.identify": ["card:zhou"]})  # expired 2024
    assert not visit.ok
    (_, texts), = visit.shown(".error")
    assert "证件已过期" in texts
    assert not any("spouse_consent" in n or "query" in n for n in visit.names)
    assert admin.services()["documents"].get("no_property", 0) == before
    assert rt.devices["a4"].jobs == []


def test_spouse_declines_so_nothing_is_looked_up(business_runtime, drive, admin) -> None:  # type: ignore[no-untyped-def]
    before = admin.services()["documents"].get("no_property", 0)
    rt = business_runtime()
    visit = drive(rt, "no_property", script={"scope.choice": ["option-couple"],
                                             "spouse.identify": ["card:huang"],
                                             "spouse_consent.consent": ["action-disagree"]})
    assert not visit.ok
    assert not any("query" in n for n in visit.names)
    assert admin.services()["documents"].get("no_property", 0) == before
    assert rt.devices["a4"].jobs == []


def test_back_from_the_spouse_card_returns_to_the_choice(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    visit = drive(rt, "no_property", script={
        "scope.choice": [["option-couple"], ["option-self"]],
        "spouse.identify": ["action-cancel"]})
    assert visit.ok
    assert len(visit.shown("scope.choice")) == 2
    assert len(rt.devices["a4"].jobs) == 1
