"""办事指南: browse or search, the matter's details, the checklist receipt; offline from cache."""

from __future__ import annotations

from kiosk.backend.client import BackendClient
from synthetic.guide import MATTERS

from .conftest import receipt_texts

SS_CERT = next(m for m in MATTERS if m["id"] == "ss-cert")
RE_QUERY = next(m for m in MATTERS if m["id"] == "re-query")


def test_search_by_pinyin_then_print_the_checklist(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    visit = drive(rt, "service_guide", script={
        "detail.info": [["option-section:materials"], ["option-section:where"],
                        ["action-print"]]})
    assert visit.ok, visit.names
    (results, _), = visit.shown("browse.choice")[1:2]
    assert results is not None and "社保" in results.text
    assert [o.id for o in results.options] == [f"matter:{m['id']}" for m in MATTERS
                                               if m["category"] == "ss"]
    details = visit.shown("detail.info")
    assert details[0][0].title == SS_CERT["name"]
    assert [r[1] for r in details[0][0].rows] == [c["text"] for c in SS_CERT["conditions"]]
    assert [r[1] for r in details[1][0].rows] == [f"{x['name']}（{x['note']}）"
                                                  for x in SS_CERT["materials"]]
    where = dict(details[2][0].rows)
    assert where["办理地点"] == SS_CERT["location"] and where["咨询电话"] == "12345"
    (receipt,) = receipt_texts(rt)
    assert SS_CERT["name"] in receipt
    for material in SS_CERT["materials"]:
        assert f"□ {material['name']}" in receipt
    assert SS_CERT["fee"] in receipt and SS_CERT["time_limit"] in receipt


def test_browse_by_category_with_initials_search_failing_first(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    visit = drive(rt, "service_guide", script={
        "browse.choice": [["action-search"], ["option-cat:re"], ["option-matter:re-query"]],
        "browse.keyboard": [["key:SWITCH", "type:ZZZ", "action-confirm"], ["action-back"]],
        "detail.info": ["action-print"]})
    assert visit.ok, visit.names
    statuses = [s.status for s, _ in visit.shown("browse.keyboard") if s is not None]
    assert any("没有找到与“ZZZ”相关的事项" in s for s in statuses)
    (receipt,) = receipt_texts(rt)
    assert RE_QUERY["name"] in receipt


def test_guide_works_offline_from_the_cache(business_runtime, drive, backend) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    first = drive(rt, "service_guide", script={"detail.info": ["action-print"]})
    assert first.ok
    # the platform becomes unreachable and the cached copy is old: still usable, with a note
    cache = rt.offline.open_cache()
    entry = cache.get("guide", "guide.catalog")
    cache.put("guide", "guide.catalog", entry.value, fetched=entry.fetched - 7200)
    rt.backend = BackendClient("http://127.0.0.1:9", backend.terminal_id, backend.secret,
                               connect_timeout=0.5, read_timeout=0.5)
    again = drive(rt, "service_guide", script={"detail.info": ["action-print"]})
    assert again.ok, again.names
    (cats, _texts), = again.shown("browse.choice")[:1]
    assert "当前为离线数据" in cats.hint
    assert len(rt.devices["receipt"].jobs) == 2


def test_no_cache_and_no_platform(business_runtime, drive, backend) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    rt.backend = BackendClient("http://127.0.0.1:9", backend.terminal_id, backend.secret,
                               connect_timeout=0.5, read_timeout=0.5)
    visit = drive(rt, "service_guide")
    assert not visit.ok
    (_, texts), = visit.shown(".error")
    assert "无法连接政务服务平台" in texts
