"""社会保险参保缴费证明: the kind (参保证明 / 缴费明细) and the period, through the widgets."""

from __future__ import annotations

from kiosk.backend.client import BackendClient
from kiosk.flows.periods import month_cn, month_index, month_text
from synthetic.citizens import BY_KEY

from .conftest import flat, ink_ratio, needs_poppler, pdf_pages, receipt_texts, render_pages

CHEN = BY_KEY["chen"]


def _limits(client: BackendClient) -> dict[str, object]:
    return client.post_json("/api/v1/social-security/options",
                            {"id_number": CHEN.id_number})["limits"]


@needs_poppler
def test_payment_detail_for_a_chosen_period(business_runtime, drive, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    # 缴费明细; move the start two months later, the end one month earlier: 9 months.
    visit = drive(rt, "ss_certificate", script={
        "kind.choice": ["option-payment_detail"],
        "period.form": ["field:start:+2", "field:end:-1", "action-confirm"]})
    assert visit.ok, visit.names
    assert any(n.endswith("preview_detail.preview") for n in visit.names)
    lim = _limits(client)
    end = month_index(str(lim["latest"])) - 1
    start = month_index(str(lim["latest"])) - 11 + 2
    record = client.post_json("/api/v1/social-security/statement", {
        "id_number": CHEN.id_number, "kind": "payment_detail",
        "start": month_text(start), "end": month_text(end)})
    assert len(record["months"]) == 9
    assert round(sum(r["total"] for r in record["months"]), 2) == record["totals"]["total"]

    (_, pdf), = rt.devices["a4"].jobs
    pages = pdf_pages(pdf, tmp_path)
    text = flat("".join(pages))
    assert "社会保险个人缴费明细" in text
    assert f"{month_cn(month_text(start))}至{month_cn(month_text(end))}" in text
    assert "4419**********3627" in text and CHEN.id_number not in text
    assert f"{record['totals']['total']:,.2f}" in text  # the totals row
    for n, page in enumerate(pages, 1):
        assert f"第{n}页/共{len(pages)}页" in flat(page)
    assert all(ink_ratio(p) > 0.01 for p in render_pages(pdf, tmp_path))
    (receipt,) = receipt_texts(rt)
    assert "打印社会保险个人缴费明细（1份）" in receipt


def test_period_outside_what_the_platform_allows_is_refused_on_screen(
        business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    # end before start: the screen says what to change and keeps the citizen's values
    visit = drive(rt, "ss_certificate", script={
        "kind.choice": ["option-participation"],
        "period.form": [["field:start:+11", "field:end:-3", "action-confirm"],
                        ["field:start:-11", "action-confirm"]]})
    assert visit.ok
    forms = visit.shown("period.form")
    assert len(forms) == 2
    second, texts = forms[1]
    assert second is not None and second.status == "起始月份不能晚于截止月份，请调整"
    assert "起始月份不能晚于截止月份" in texts
    assert len(rt.devices["a4"].jobs) == 1


def test_back_from_the_period_returns_to_the_kind(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    visit = drive(rt, "ss_certificate", script={
        "kind.choice": [["option-participation"], ["option-payment_detail"]],
        "period.form": [["action-back"], ["action-confirm"]]})
    assert visit.ok
    kinds = [n for n in visit.names if n.endswith("kind.choice")]
    assert len(kinds) == 2
    assert any(n.endswith("preview_detail.preview") for n in visit.names)


def test_no_record_says_so_before_any_choice(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime(idcard="sim://?card=nobody")
    visit = drive(rt, "ss_certificate")
    assert not visit.ok
    assert not any(n.endswith(".choice") for n in visit.names)
    (_err, texts), = visit.shown(".error")
    assert "未查询到您的相关记录" in texts and "12345" in texts
    assert rt.devices["a4"].jobs == [] and rt.devices["receipt"].jobs == []
