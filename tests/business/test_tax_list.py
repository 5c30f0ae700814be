"""个人所得税纳税清单: by year or by months, multi-page A4 with totals and a verification code."""

from __future__ import annotations

import re
import threading

import requests

from flowpacks import BUILTIN_DIR
from kiosk.backend.client import BackendClient
from kiosk.flows.context import FlowContext
from kiosk.flows.interaction import ScriptedInteraction
from kiosk.flows.model import StepDef
from kiosk.flows.package import load_package
from kiosk.flows.periods import month_cn, month_index, month_text
from kiosk.flows.screens import Response
from kiosk.flows.steps.period import PeriodStep
from kiosk.session import Session
from synthetic.citizens import BY_KEY

from .conftest import flat, ink_ratio, needs_poppler, pdf_pages, receipt_texts, render_pages

CHEN = BY_KEY["chen"]
VERIFY = re.compile(r"验证码([0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4})")


def _limits(client: BackendClient, who: str = "chen") -> dict[str, object]:
    return client.post_json("/api/v1/tax/options",
                            {"id_number": BY_KEY[who].id_number})["limits"]


@needs_poppler
def test_months_range_prints_a_multi_page_list_with_totals(business_runtime, drive, client,
                                                          backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    visit = drive(rt, "tax_list")  # the citizen script: by months, "last 36 months"
    assert visit.ok, (visit.names, visit.errors)
    lim = _limits(client)
    end = month_index(str(lim["latest"]))
    start = end - 35
    api = client.post_json("/api/v1/tax/records", {
        "id_number": CHEN.id_number, "start": month_text(start), "end": month_text(end)})
    assert api["count"] > 35

    (_, pdf), = rt.devices["a4"].jobs
    pages = pdf_pages(pdf, tmp_path)
    assert len(pages) >= 2
    codes = set()
    for n, page in enumerate(pages, 1):
        text = flat(page)
        assert f"第{n}页/共{len(pages)}页" in text, n
        assert "扣缴义务人" in text  # the table header repeats on every page
        codes.update(VERIFY.findall(text))
    assert len(codes) == 1  # one verification code, on every page
    code = codes.pop()
    everything = flat("".join(pages))
    assert "个人所得税纳税清单" in everything and "完税证明" in everything
    assert f"{month_cn(month_text(start))}至{month_cn(month_text(end))}" in everything
    assert "4419**********3627" in everything and CHEN.id_number not in everything
    income = round(sum(r["income"] for r in api["rows"]), 2)
    tax = round(sum(r["tax"] for r in api["rows"]), 2)
    assert f"{income:,.2f}" in flat(pages[-1]) and f"{tax:,.2f}" in flat(pages[-1])
    assert f"共{api['count']}条" in flat(pages[-1])
    assert all(ink_ratio(p) > 0.01 for p in render_pages(pdf, tmp_path))
    # the printed code verifies on the platform's public page
    verified = requests.get(f"{backend.url}/verify/{code}", timeout=5)
    assert verified.status_code == 200 and "核验通过" in verified.text
    (receipt,) = receipt_texts(rt)
    assert code in receipt and "4419**********3627" in receipt


@needs_poppler
def test_by_year_offers_only_allowed_years(business_runtime, drive, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    lim = _limits(client)
    latest_year = str(lim["latest"])[:4]
    visit = drive(rt, "tax_list", script={"mode.choice": ["option-year"],
                                          "year.choice": [f"option-{latest_year}"]})
    assert visit.ok
    (year_screen, _), = visit.shown("year.choice")
    years = [int(o.id) for o in year_screen.options]
    assert years == sorted(years, reverse=True)
    assert min(years) >= int(str(lim["earliest"])[:4]) and max(years) == int(latest_year)
    (_, pdf), = rt.devices["a4"].jobs
    text = flat("".join(pdf_pages(pdf, tmp_path)))
    assert f"{latest_year}年01月至{month_cn(str(lim['latest']))}" in text


def test_a_year_without_records_offers_another_period(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime(idcard="sim://?card=wang")
    visit = drive(rt, "tax_list", script={
        "mode.choice": ["option-year"],
        "year.choice": [["option-2020"], ["option-2021"]],
        "nothing.info": ["action-again"]})
    assert visit.ok, visit.names
    (_nothing, texts), = visit.shown("nothing.info")
    assert "所选期间没有纳税记录" in texts
    assert len(visit.shown("mode.choice")) == 2
    assert len(rt.devices["a4"].jobs) == 1  # only the 2021 list, never an empty one


def test_no_tax_record_at_all(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime(idcard="sim://?card=nobody")
    visit = drive(rt, "tax_list")
    assert not visit.ok
    (_, texts), = visit.shown(".error")
    assert "未查询到您的相关记录" in texts
    assert rt.devices["a4"].jobs == []


def test_platform_error_then_retry(business_runtime, drive, admin) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    admin.fault("/api/v1/tax/records", status=503)
    visit = drive(rt, "tax_list", script={"query.error": ["action-retry"]})
    assert visit.ok, visit.names
    (_, texts), = visit.shown("query.error")
    assert "政务服务平台暂时故障" in texts and "重试" in texts
    assert len(rt.devices["a4"].jobs) == 1


def test_platform_timeout_then_retry(business_runtime, drive, admin, backend) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    rt.backend = BackendClient(backend.url, backend.terminal_id, backend.secret,
                               connect_timeout=1.0, read_timeout=1.0)
    admin.fault("/api/v1/tax/records", mode="stall", stall_s=2.5)
    visit = drive(rt, "tax_list", script={"query.error": ["action-retry"]})
    assert visit.ok, visit.names
    (_, texts), = visit.shown("query.error")
    assert "政务服务平台响应超时" in texts
    assert len(rt.devices["a4"].jobs) == 1


def test_a_second_copy_only_when_asked(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    visit = drive(rt, "tax_list", script={"done.info": [["action-reprint"], ["action-done"]]})
    assert visit.ok, visit.names
    first, second = visit.shown("done.info")
    assert [a.id for a in first[0].actions] == ["reprint", "done"]
    assert [a.id for a in second[0].actions] == ["done"]  # one extra copy, then no more
    jobs = rt.devices["a4"].jobs
    assert len(jobs) == 2 and jobs[0][1] == jobs[1][1]  # the same document, asked for
    assert len(rt.devices["receipt"].jobs) == 1


def test_many_allowed_years_are_paged() -> None:
    pkg = load_package(BUILTIN_DIR)
    session = Session()
    session.data["lim"] = {"earliest": "2008-05", "latest": "2025-05", "max_months": 12}
    answers = iter([Response("page_next"), Response("page_next"), Response("2008")])
    ui = ScriptedInteraction(threading.Event(), lambda s: next(answers))
    ctx = FlowContext(pkg.flows["tax_list"], pkg, session, ui, {}, None)
    step = PeriodStep(StepDef("year", "period", {"mode": "year", "limits": "lim"}))
    assert step.run(ctx).outcome == "next"
    shown = [[o.id for o in s.options] for s in ui.screens]
    assert shown[0][0] == "2025" and shown[-1][-1] == "2008"
    assert sum(len(x) for x in shown) == 18  # every allowed year, 8 per page
    assert (session.data["period"]["start"], session.data["period"]["end"]) == ("2008-05",
                                                                             "2008-12")
