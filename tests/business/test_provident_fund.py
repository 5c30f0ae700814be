"""公积金贷款还款明细: a month range within the loan's life, an A4 table with totals."""

from __future__ import annotations

from kiosk.flows.periods import month_cn, month_index, month_text
from synthetic.citizens import BY_KEY

from .conftest import flat, ink_ratio, needs_poppler, pdf_pages, render_pages

OUYANG = BY_KEY["ouyang"]


@needs_poppler
def test_repayment_details(business_runtime, drive, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime(idcard="sim://?card=ouyang")
    visit = drive(rt, "provident_fund", script={
        "start": [], "period.form": [["option-preset:last_6"], ["action-confirm"]]})
    assert visit.ok, visit.names
    (_form, texts), = visit.shown("period.form")[:1]
    assert "DGGJJ-2022-031877" in texts  # the loan, from the platform, on the period screen
    loan = client.post_json("/api/v1/provident-fund/loan", {"id_number": OUYANG.id_number})
    end = month_index(loan["limits"]["latest"])
    start = end - 5
    api = client.post_json("/api/v1/provident-fund/repayments", {
        "id_number": OUYANG.id_number, "start": month_text(start), "end": month_text(end)})
    assert api["count"] == 6
    (_, pdf), = rt.devices["a4"].jobs
    pages = pdf_pages(pdf, tmp_path)
    text = flat("".join(pages))
    assert "住房公积金贷款还款明细" in text
    assert f"{month_cn(month_text(start))}至{month_cn(month_text(end))}" in text
    assert OUYANG.name in text and "4419**********" in text and OUYANG.id_number not in text
    paid = round(sum(r["amount"] for r in api["rows"]), 2)
    interest = round(sum(r["interest"] for r in api["rows"]), 2)
    assert f"{paid:,.2f}" in text and f"{interest:,.2f}" in text
    assert f"{api['remaining']:,.2f}" in text
    for n, page in enumerate(pages, 1):
        assert f"第{n}页/共{len(pages)}页" in flat(page)
    assert all(ink_ratio(p) > 0.01 for p in render_pages(pdf, tmp_path))


def test_no_loan_says_so(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()  # chen has no provident-fund loan
    visit = drive(rt, "provident_fund", script={"start": []})
    assert not visit.ok
    (_, texts), = visit.shown(".error")
    assert "未查询到您的住房公积金贷款记录" in texts
    assert not any(n.endswith("period.form") for n in visit.names)
    assert rt.devices["a4"].jobs == []


def test_range_longer_than_allowed_is_refused(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime(idcard="sim://?card=ouyang")
    # default 12 months; move the start back 13 more: 25 > 24 months allowed
    visit = drive(rt, "provident_fund", script={
        "start": [], "period.form": [["field:start:-13", "action-confirm"],
                                     ["option-preset:last_24"], ["action-confirm"]]})
    assert visit.ok
    statuses = [s.status for s, _ in visit.shown("period.form") if s is not None]
    assert "每次最长可查询 24 个月，请缩短查询期间" in statuses
    assert len(rt.devices["a4"].jobs) == 1
