"""The fleet, one terminal and alerts as pages and API: filters, order, the same data,
queries that do not grow with the fleet, the downsampled timeline."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from console_helpers import Console, add_alert, add_terminal, now, signed_in
from fastapi.testclient import TestClient
from sqlalchemy import event

from opscentre.models import Event, HealthSample
from opscentre.web.queries import downsample

RECEIPT_FAULT = {"receipt": {"state": "hardware_error", "details": ["cutter_jam"],
                             "fault": True, "fitted": True}}


def seed(console: Console) -> None:
    t0 = now()
    with console.db() as s:
        add_terminal(s, "DG-0001", site="东城服务中心", last_seen=t0)
        add_terminal(s, "DG-0002", site="南城地铁站", paper="out", app_version="1.3.2",
                     last_seen=t0 - dt.timedelta(minutes=5),
                     consumables={"receipt": {"paper": "out"}})
        add_terminal(s, "DG-0003", site="南城地铁站", paper="low", online=False,
                     offline_reason="will", last_seen=t0 - dt.timedelta(hours=3))
        add_terminal(s, "DG-0004", site="松山湖银行网点", faults=["receipt"], fault_count=1,
                     devices=RECEIPT_FAULT, outbox_depth=42, paper="out",
                     packages={"active": ["builtin@2026.10.4"]},
                     last_seen=t0 - dt.timedelta(minutes=1))
        add_terminal(s, "DG-0005", site=None, last_seen=None, online=False,
                     faults=["camera"], fault_count=1)
        s.flush()
        add_alert(s, "DG-0003", rule="offline")
        add_alert(s, "DG-0004", rule="device_fault", subject="receipt")
        add_alert(s, "DG-0004", rule="paper", subject="receipt", state="acked")
        add_alert(s, "DG-0002", rule="paper", state="closed")
        s.commit()


@pytest.fixture
def vera(console: Console) -> TestClient:
    seed(console)
    return signed_in(console, "vera")


def ids(client: TestClient, query: str) -> list[str]:
    r = client.get(f"/api/terminals?{query}")
    assert r.status_code == 200, r.text
    assert int(r.headers["x-total-count"]) >= len(r.json())
    return [t["id"] for t in r.json()]


def page_ids(client: TestClient, query: str) -> list[str]:
    r = client.get(f"/fleet?{query}")
    assert r.status_code == 200, r.text
    return re.findall(r'<tr data-id="([^"]+)"', r.text)


CASES = [
    ("", ["DG-0001", "DG-0002", "DG-0003", "DG-0004", "DG-0005"]),
    ("status=offline", ["DG-0003", "DG-0005"]),
    ("status=online", ["DG-0001", "DG-0002", "DG-0004"]),
    ("paper=out", ["DG-0002", "DG-0004"]),
    ("paper=low", ["DG-0003"]),
    ("paper=problem", ["DG-0002", "DG-0003", "DG-0004"]),
    ("fault=any", ["DG-0004", "DG-0005"]),
    ("fault=none", ["DG-0001", "DG-0002", "DG-0003"]),
    ("fault=receipt", ["DG-0004"]),
    ("fault=camera", ["DG-0005"]),
    ("app_version=1.3.2", ["DG-0002"]),
    ("package=builtin@2026.10.4", ["DG-0004"]),
    ("package=builtin@2026.11", []),  # a prefix of a version is not that version
    ("site=南城地铁站", ["DG-0002", "DG-0003"]),
    ("q=000", ["DG-0001", "DG-0002", "DG-0003", "DG-0004", "DG-0005"]),
    ("q=0_0", []),  # LIKE's wildcards are plain characters here
    ("status=online&paper=out", ["DG-0002", "DG-0004"]),
    ("sort=last_seen&order=desc", ["DG-0001", "DG-0004", "DG-0002", "DG-0003", "DG-0005"]),
    ("sort=last_seen", ["DG-0003", "DG-0002", "DG-0004", "DG-0001", "DG-0005"]),
    ("sort=outbox&order=desc", ["DG-0004", "DG-0001", "DG-0002", "DG-0003", "DG-0005"]),
    ("sort=paper&order=desc", ["DG-0002", "DG-0004", "DG-0003", "DG-0001", "DG-0005"]),
    ("sort=alerts&order=desc", ["DG-0004", "DG-0003", "DG-0001", "DG-0002", "DG-0005"]),
    ("sort=status", ["DG-0003", "DG-0005", "DG-0001", "DG-0002", "DG-0004"]),
    ("limit=2&offset=2", ["DG-0003", "DG-0004"]),
]


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_fleet_filters_and_order_are_the_same_on_page_and_api(
        vera: TestClient, query: str, expected: list[str]) -> None:
    assert ids(vera, query) == expected
    if "limit" not in query:
        assert page_ids(vera, query) == expected


def test_the_same_filters_and_order_on_postgresql(make_console: Callable[..., Console],
                                                  pg_url: str) -> None:
    console = make_console(url=pg_url)
    seed(console)
    vera = signed_in(console, "vera")
    for query, expected in CASES:
        assert ids(vera, query) == expected, query
        if "limit" not in query:
            assert page_ids(vera, query) == expected, query


def test_a_terminal_in_the_list_has_what_scripts_rely_on(vera: TestClient) -> None:
    row = next(t for t in vera.get("/api/terminals").json() if t["id"] == "DG-0004")
    assert row["online"] is True and row["faults"] == ["receipt"]
    assert row["last_seen"].endswith("+00:00") and row["open_alerts"] == 2
    assert row["app_version"] == "1.4.0" and row["packages"] == ["builtin@2026.10.4"]
    never = next(t for t in vera.get("/api/terminals").json() if t["id"] == "DG-0005")
    assert never["last_seen"] is None and never["online"] is False


def test_the_fleet_page_counts_the_whole_fleet(vera: TestClient) -> None:
    html = vera.get("/fleet?site=东城服务中心").text
    counts = {label.strip(): int(n) for n, label in
              re.findall(r"<b>(\d+)</b> ([^<]+)</a>", html)}
    assert counts == {"终端": 5, "在线": 3, "离线": 2, "有故障": 2, "缺纸": 1, "无纸": 2}
    assert re.search(r'id="fleet-shown">显示 <b>1</b> / 1<', html)


@contextmanager
def counting(console: Console) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = console.db.kw["bind"]

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize("query", ["", "fault=receipt", "package=builtin@2026.11.1"])
def test_the_fleet_takes_the_same_queries_for_10_or_300_terminals(
        console: Console, query: str) -> None:
    c = signed_in(console, "vera")
    seen: list[int] = []
    for n in (10, 300):
        with console.db() as s:
            for i in range(len(seen) and 10, n):
                add_terminal(s, f"T{i:04d}", faults=["receipt"] if i % 3 else [],
                             fault_count=1 if i % 3 else 0, devices=RECEIPT_FAULT)
                if i % 7 == 0:
                    add_alert(s, f"T{i:04d}")
            s.commit()
        with counting(console) as statements:
            assert c.get(f"/fleet?{query}").status_code == 200
            assert c.get(f"/api/terminals?{query}").status_code == 200
        seen.append(len(statements))
    assert seen[0] == seen[1], f"queries grew with the fleet: {seen}"
    assert len(page_ids(c, query)) == len(ids(c, query)) > 0


def test_one_terminal_page_and_api(any_console: Console) -> None:
    console = any_console
    seed(console)
    with console.db() as s:
        s.add(Event(terminal_id="DG-0004", message_id="m1", type="fault", device="receipt",
                    at=now() - dt.timedelta(minutes=3),
                    body={"details": ["cutter_jam"], "message": "cutter jammed"}))
        s.commit()
    c = signed_in(console, "otto")
    api = c.get("/api/terminals/DG-0004").json()
    assert api["devices"]["receipt"]["state"] == "hardware_error"
    assert [e["type"] for e in api["events"]] == ["fault"]
    assert [a["rule"] for a in api["alerts"]] == ["device_fault", "paper"]
    html = c.get("/terminals/DG-0004").text
    # codes in words (凭条打印机 硬件故障 切刀卡住), an unknown one as it came
    assert "凭条打印机" in html and "硬件故障" in html and "切刀卡住" in html
    assert "hardware_error" not in html and 'id="timeline"' in html
    assert html.count('class="ack"') == 1  # the open alert, not the acknowledged one
    assert c.get("/terminals/NOPE").status_code == 404
    assert c.get("/api/terminals/NOPE").status_code == 404


def test_the_timeline_keeps_a_short_fault_between_points() -> None:
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    rows = [(start + dt.timedelta(minutes=5 * i), True, 0, "ok", i % 4, 1)
            for i in range(7 * 24 * 12)]  # a week of 5-minute samples
    rows[1000] = (rows[1000][0], True, 2, "out", 0, 1)  # five minutes of trouble
    rows[1500] = (rows[1500][0], False, 0, "ok", 0, 1)  # and a short outage
    buckets = downsample(rows, start, start + dt.timedelta(days=7), 100)
    assert len(buckets) == 100
    assert sum(b.samples for b in buckets) == len(rows)
    assert [b.faults for b in buckets].count(2) == 1
    assert [b.paper for b in buckets].count("out") == 1
    assert [b.offline for b in buckets].count(True) == 1
    assert max(b.outbox for b in buckets) == 3


def test_the_timeline_api_downsamples_days_of_health(any_console: Console) -> None:
    console = any_console
    seed(console)
    t0 = now() - dt.timedelta(days=3)
    with console.db() as s:
        for i in range(3 * 24 * 12):
            s.add(HealthSample(terminal_id="DG-0001", at=t0 + dt.timedelta(minutes=5 * i),
                               resolution=0, samples=1, online=True, fault_count=0,
                               paper="low" if 400 <= i < 410 else "ok", outbox_depth=i % 5))
        s.commit()
    c = signed_in(console, "vera")
    tl = c.get("/api/terminals/DG-0001/timeline?days=7&points=50").json()
    assert len(tl["buckets"]) <= 50
    assert sum(b["samples"] for b in tl["buckets"]) == 3 * 24 * 12
    assert any(b["paper"] == "low" for b in tl["buckets"])
    html = c.get("/terminals/DG-0001?days=7").text
    assert html.count("<rect") > 50  # the lanes are drawn
    assert "paper low" in html


def test_alerts_filter_by_state_rule_and_terminal(vera: TestClient) -> None:
    def rules(q: str) -> list[tuple[str, str]]:
        return [(a["terminal"], a["state"]) for a in vera.get(f"/api/alerts?{q}").json()]

    assert rules("") == [("DG-0004", "open"), ("DG-0003", "open"), ("DG-0004", "acked")]
    assert rules("state=closed") == [("DG-0002", "closed")]
    assert rules("state=all&rule=paper") == [("DG-0004", "acked"), ("DG-0002", "closed")]
    assert rules("terminal=DG-0003") == [("DG-0003", "open")]
    html = vera.get("/alerts?state=acked").text
    assert re.findall(r'data-alert="(\d+)" class="alert-(\w+)"', html)[0][1] == "acked"
