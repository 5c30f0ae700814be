"""Catalog search as a citizen types: characters in either script, pinyin, initials,
English words, weaker matches on keywords, one mistake tolerated; the ranking rules.

The catalog is the synthetic Guangdong one (tests/catalog/data: Dongguan's services plus
25 of them in each of eight city zones, whose titles start with the city's name)."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.catalog.search import CatalogIndex, Hit

# (query, language, expected first hit): the examples of the issue and more.
TOP = [
    ("sbzm", "zh_CN", "ss_certificate"),             # initials, skipping 参保缴费
    ("sbzm", "zh_HK", "ss_certificate"),
    ("wfzm", "zh_CN", "re_no_property"),             # initials of 无房证明
    ("sbkbh", "zh_CN", "ss_card_replace"),           # initials of the whole title
    ("jzzsl", "zh_HK", "hh_residence"),              # 居住證申領: reading of Traditional
    ("gongjijinhuankuan", "zh_CN", "hf_repay"),      # 还款 read huan, not hai
    ("gong ji jin huan", "zh_CN", "hf_repay"),       # spaces between syllables
    ("gong4jijinhuan2", "zh_CN", "hf_repay"),        # tone digits, one of them wrong
    ("gōngjìjinhuán", "zh_CN", "hf_repay"),          # tone marks, one wrong
    ("shebaokabuhuan", "zh_CN", "ss_card_replace"),  # full pinyin
    ("shebkbh", "zh_CN", "ss_card_replace"),         # syllable prefixes
    ("yibaojiaofeimingxi", "zh_HK", "med_detail"),
    ("gzgjjjczm", "zh_CN", "gz_hf_deposit_cert"),    # a zone's service by initials
    ("guangzhouwufang", "zh_CN", "gz_re_no_property"),
    ("nuer", "zh_CN", None),                         # (no 女儿 service) nothing wrongly
    ("社保参保缴费证明", "zh_CN", "ss_certificate"),   # the exact title
    ("社保參保繳費證明", "zh_CN", "ss_certificate"),   # Traditional typed in zh_CN
    ("社保参保缴费证明", "zh_HK", "ss_certificate"),   # Simplified typed in zh_HK
    ("無房證明", "zh_HK", "re_no_property"),
    ("公积金购房", "zh_HK", "hf_withdraw_buy"),        # prefix, Simplified in zh_HK
    ("公积金购房取", "zh_CN", "hf_withdraw_buy"),      # one character missing
    ("社保参保缴费正明", "zh_CN", "ss_certificate"),   # one wrong character
    ("社保参保缴缴费证明", "zh_CN", "ss_certificate"),  # one extra character
    ("低保", "zh_CN", "ca_low_income"),               # a keyword only
    ("征信", "zh_HK", "pb_credit_personal"),          # a keyword, in zh_HK
    ("徵信", "zh_HK", "pb_credit_personal"),          # Traditional for a Simplified keyword
    ("公積金购房", "zh_CN", "hf_withdraw_buy"),        # the two scripts mixed
    ("passport", "en", "ee_passport"),
    ("PASSPORT APP", "en", "ee_passport"),           # case, prefix of the title
    ("pasport", "en", "ee_passport"),                # one typo in a long word
    ("social insurance certificate", "en", "ss_certificate"),
    ("insur cert", "en", "ss_certificate"),          # word prefixes, any words
    ("housing fund withdrawl", "en", "hf_withdraw_rent"),
    ("no property guangzhou", "en", "gz_re_no_property"),
    ("gjj", "en", "hf_detail"),                      # a pinyin keyword in English mode
    ("无房", "en", "re_no_property"),                 # Chinese title as a weaker form
]


def ids(hits: list[Hit]) -> list[str]:
    return [h.flow_id for h in hits]


@pytest.mark.parametrize(("query", "locale", "expected"), TOP)
def test_top_hit(index: Any, query: str, locale: str, expected: str | None) -> None:
    hits = index.search(query, locale)
    if expected is None:
        assert hits == []
    else:
        assert hits, f"{query!r} ({locale}) found nothing"
        assert hits[0].flow_id == expected, (query, locale, hits[:3])


def test_initials_find_every_provident_fund_service(index: Any, synthetic: Any) -> None:
    """`gjj`: every 公积金 service (title starting with it, then inside it, then the
    keyword), and first the ones whose title starts with 公积金."""
    flows, translators, _ = synthetic
    fund = {f.id for f in flows if "公积金" in translators["zh_CN"](f.title)}
    hits = index.search("gjj", "zh_CN", limit=300)
    assert fund <= set(ids(hits))
    starting = [h for h in hits if h.why == "initials"]
    assert starting and all(h.title.startswith("公积金") for h in starting)
    assert ids(hits)[:len(starting)] == ids(starting)


def test_hong_kong_titles_are_shown_whatever_the_script_typed(index: Any) -> None:
    for query in ("社保", "社保卡", "shebao", "sbk"):
        hits = index.search(query, "zh_HK")
        assert hits[0].title.startswith("社保卡"), (query, hits[:2])
    hits = index.search("公积金", "zh_HK")
    assert hits[0].title.startswith("公積金")
    assert all("公积金" not in h.title for h in hits)


def test_rank_order_exact_prefix_initials_pinyin_substring_keyword_fuzzy(index: Any) -> None:
    """One query per tier: the tier's score is what the docs table says, and the
    tiers come out strongest first."""
    assert index.search("无房证明", "zh_CN")[0].why == "title"
    hits = index.search("无房", "zh_CN")
    assert [h.why for h in hits[:1]] == ["prefix"]
    assert {h.why for h in hits[1:]} == {"substring"}  # the zones' 广州无房证明 …
    assert index.search("wfzm", "zh_CN")[0].why == "initials"
    assert index.search("wufang", "zh_CN")[0].why == "pinyin"
    scores = [h.score for h in index.search("zhengming", "zh_CN", limit=300)]
    assert scores == sorted(scores, reverse=True)
    assert index.search("低保", "zh_CN")[0].why == "keyword"
    assert index.search("社保参保缴费正明", "zh_CN")[0].why == "fuzzy"
    order = [index.search(q, "zh_CN")[0].score for q in
             ("无房证明", "无房", "wfzm", "wufang", "房证", "低保", "无房证名")]
    assert order == sorted(order, reverse=True) and len(set(order)) == len(order)


def test_ties_go_to_the_shorter_title_then_the_catalog_order(index: Any) -> None:
    hits = index.search("居住证", "zh_CN")
    assert ids(hits[:2]) == ["hh_residence", "hh_residence_renew"]  # same length: order
    zone_hits = [h for h in index.search("无房证明", "zh_CN") if h.why == "substring"]
    assert [len(h.title) for h in zone_hits] == sorted(len(h.title) for h in zone_hits)
    assert ids(zone_hits)[:2] == ["gz_re_no_property", "sz_re_no_property"]


def test_wrong_tone_and_missing_character(index: Any) -> None:
    right = ids(index.search("gong1ji1jin1", "zh_CN"))
    assert right and ids(index.search("gong4ji3jin2", "zh_CN")) == right
    assert ids(index.search("gòngjǐjìn", "zh_CN")) == right
    missing = index.search("社保参缴费证明", "zh_CN")  # 保 left out
    assert missing[0].flow_id == "ss_certificate" and missing[0].why == "fuzzy"
    # two characters wrong is not one mistake, unless they sound the same (交废 缴费)
    assert "ss_certificate" not in ids(index.search("社保参保打印证明", "zh_CN"))
    homophones = index.search("社保参保交废证明", "zh_CN")
    assert homophones[0].flow_id == "ss_certificate" and homophones[0].why == "sound"


def test_umlaut_as_v_or_u(synthetic: Any) -> None:
    from kiosk.flows.model import FlowDef, StepDef
    from kiosk.i18n import Translator

    strings = {"zh_CN": {"t.lv": "旅游证件", "t.nv": "女职工生育"}}
    flows = [FlowDef(id=k[2:], title=k, steps=(StepDef("done", "finish"),))
             for k in strings["zh_CN"]]
    idx = CatalogIndex.build(flows, {"zh_CN": Translator("zh_CN", strings)})
    assert ids(idx.search("lvyou", "zh_CN")) == ["lv"]
    assert ids(idx.search("lüyou", "zh_CN")) == ["lv"]
    assert ids(idx.search("nvzhigong", "zh_CN")) == ["nv"]
    assert ids(idx.search("nuzhigong", "zh_CN")) == ["nv"]


def test_english_words_and_typos(index: Any) -> None:
    assert index.search("driving", "en")[0].title.startswith("Driving licence")
    assert index.search("drivng licence", "en")[0].why == "fuzzy"  # 6 letters, one missing
    assert index.search("pasport", "en")[0].why == "fuzzy"
    # short words are not guessed at, nor two typos
    assert index.search("pasprt", "en") == []
    assert index.search("txa", "en") == []
    assert index.search("ax", "en") == []  # inside a word: not for two letters
    # English titles in English mode, never the Chinese ones
    assert all(h.title.isascii() for h in index.search("tax", "en"))


def test_weaker_forms_department_zone_category(index: Any) -> None:
    dept = index.search("不动产登记中心", "zh_CN", limit=300)
    assert dept and {h.why for h in dept} == {"department"}
    zone = index.search("珠海专区", "zh_CN", limit=300)
    assert len(zone) == 25 and {h.why for h in zone} == {"zone"}
    assert all(h.flow_id.startswith("zh_") for h in zone)
    cat = index.search("exit and", "en", limit=300)  # category "Exit and entry"
    assert {h.flow_id: h.why for h in cat}["ee_passport"] == "category"
    assert {h.flow_id for h in cat} == {f"ee_{k}" for k in (
        "hkmo_endorse", "hkmo_apply", "taiwan", "passport", "progress", "photo")}


def test_limit_empty_query_and_unknown_language(index: Any) -> None:
    assert len(index.search("z", "zh_CN", limit=7)) == 7
    assert index.search("", "zh_CN") == [] and index.search("  ·  ", "en") == []
    pasted = "社保参保缴费证明" + "。" * 500  # a long paste: only its start is looked at
    assert index.search(pasted, "zh_CN")[0].flow_id == "ss_certificate"
    with pytest.raises(KeyError):
        index.search("社保", "fr")


def test_every_prefix_keystroke_keeps_the_service(index: Any) -> None:
    """Typed one key at a time, the wanted service never drops out of the list."""
    for query, locale, wanted in (("gongjijinzufang", "zh_CN", "hf_withdraw_rent"),
                                  ("housing fund withdrawal", "en", "hf_withdraw_rent"),
                                  ("社保卡补换", "zh_HK", "ss_card_replace")):
        for n in range(2, len(query) + 1):
            assert wanted in ids(index.search(query[:n], locale)), query[:n]


def test_a_package_through_its_translators_and_zones(package_dir: Any) -> None:
    """The package's own translators and zones (how the home screen builds it)."""
    from kiosk.commands.catalog import index_for
    from kiosk.flows.package import load_package

    idx = index_for(load_package(package_dir))
    assert idx.search("sbzm", "zh_CN")[0].flow_id == "ss_certificate"
    assert idx.search("wfzm", "zh_HK")[0].flow_id == "no_property"
    assert idx.search("gjj", "zh_CN")[0].flow_id == "hf_repay"
    assert idx.search("Queue", "en")[0].flow_id == "queue"
    zone = idx.search("廣州專區", "zh_HK")
    assert [(h.flow_id, h.why) for h in zone] == [("gz_hf_deposit", "zone")]
