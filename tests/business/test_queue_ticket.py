"""预约取号 / 现场取号: by ID card or the appointment QR code; on time, early, late, none."""

from __future__ import annotations

from typing import Any

from synthetic.citizens import BY_KEY
from synthetic.services import appointment_qr

from .conftest import receipt_texts

BY_CARD: dict[str, list[str]] = {"start": [], "identify.identify": []}  # card on the reader


def _tickets(admin: Any) -> list[dict[str, Any]]:
    return admin.services()["tickets"]


def _shown_ticket(visit: Any) -> tuple[str, dict[str, str]]:
    (screen, _), = visit.shown("show.info")
    return screen.big, dict(screen.rows)


def test_on_time_by_id_card(business_runtime, drive, admin) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    visit = drive(rt, "queue_ticket", script=BY_CARD)
    assert visit.ok, visit.names
    number, rows = _shown_ticket(visit)
    # chen's appointment has one number, whichever test checked in first (see below)
    token = appointment_qr("chen").rsplit(":", 1)[-1]
    (issued,) = [t for t in _tickets(admin) if t.get("appointment_id") == token]
    assert issued["number"] == number
    rows.pop("提示", None)  # "already checked in", when an earlier test did
    assert rows == {"业务类型": "社会保险", "办理区域": issued["window_area"],
                    "前面等候": f"{issued['waiting']} 人", "取号方式": "预约取号"}
    (receipt,) = receipt_texts(rt)
    assert " ".join(number) in receipt  # printed large (double width)
    assert "业务类型：社会保险" in receipt and f"办理区域：{issued['window_area']}" in receipt
    assert f"前面等候：{issued['waiting']}人" in receipt
    assert "取号人：陈**" in receipt and BY_KEY["chen"].name not in receipt


def test_on_time_by_appointment_qr(business_runtime, drive, admin) -> None:  # type: ignore[no-untyped-def]
    before = len(_tickets(admin))
    rt = business_runtime(idcard="sim://")  # no card: the citizen shows the phone
    seen: dict[str, str] = {}

    def inspect(win: Any, name: str) -> None:
        if win.session is not None and win.session.identity is not None:
            seen["source"] = win.session.identity.source.value

    visit = drive(rt, "queue_ticket", inspect=inspect)  # the demo script: scan the QR code
    assert visit.ok, visit.names
    assert seen["source"] == "qr"
    number, _rows = _shown_ticket(visit)
    issued = [t for t in _tickets(admin) if t.get("appointment_id")
              == appointment_qr("chen").rsplit(":", 1)[-1]]
    assert len(_tickets(admin)) <= before + 1 and [t["number"] for t in issued] == [number]
    assert issued[0]["kind"] == "appointment"
    assert len(rt.devices["receipt"].jobs) == 1


def test_checking_in_twice_gives_the_same_number_and_says_so(business_runtime, drive,
                                                             admin) -> None:  # type: ignore[no-untyped-def]
    """The review met A021 then A022 for one appointment, with no word about it."""
    numbers, notes = [], []
    for _ in range(2):
        rt = business_runtime()
        visit = drive(rt, "queue_ticket", script=BY_CARD)
        assert visit.ok, visit.names
        number, rows = _shown_ticket(visit)
        numbers.append(number)
        notes.append(rows.get("提示", ""))
    assert numbers[0] == numbers[1]
    assert "已取过号" in notes[1]
    token = appointment_qr("chen").rsplit(":", 1)[-1]
    assert len([t for t in _tickets(admin) if t.get("appointment_id") == token]) == 1


def test_an_appointment_tomorrow_is_not_called_today(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    """"您预约的是今天 01:06" was said at 22:06: the date is named, never assumed."""
    from datetime import datetime, timedelta

    from synthetic.services import APPOINTMENTS

    rt = business_runtime(idcard="sim://?card=wang")  # an appointment three hours ahead
    visit = drive(rt, "queue_ticket", script={**BY_CARD, "early.choice": ["option-cancel"]})
    (early, _), = visit.shown("early.choice")
    slot = datetime.now() + timedelta(minutes=APPOINTMENTS["wang"][1])
    assert "今天" not in early.text
    assert slot.strftime("%Y-%m-%d") in early.text


def test_wrong_codes_keep_the_scanner_listening(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime(idcard="sim://")
    visit = drive(rt, "queue_ticket", script={
        "start": [],
        "identify.identify": [["scan:https://example.org/not-ours"],
                              ["scan:GJZW:APPT:YY00000000000000"],
                              [f"scan:{appointment_qr('chen')}"]]})
    assert visit.ok, visit.names
    statuses = [s.status for s, _ in visit.shown("identify.identify") if s is not None]
    assert "无法识别该二维码，请出示政务App中的身份码或预约码" in statuses
    assert "未查询到该二维码的信息，请刷新身份码后重新扫码" in statuses


def test_too_early_with_walk_in_allowed(business_runtime, drive, admin) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime(idcard="sim://?card=wang")  # a tax appointment in three hours
    visit = drive(rt, "queue_ticket", script={**BY_CARD, "early.choice": ["option-walk_in"]})
    assert visit.ok, visit.names
    (early, _texts), = visit.shown("early.choice")
    assert [o.id for o in early.options] == ["walk_in", "cancel"]
    assert "税务" in early.text and "起可签到取号" in early.text
    number, rows = _shown_ticket(visit)
    assert number.startswith("C") and rows["取号方式"] == "现场取号"
    assert _tickets(admin)[-1]["number"] == number


def test_too_early_without_walk_in_only_offers_to_come_back(business_runtime, drive, admin) -> None:  # type: ignore[no-untyped-def]
    before = len(_tickets(admin))
    rt = business_runtime(idcard="sim://?card=huang")  # 不动产登记: appointment only
    visit = drive(rt, "queue_ticket", script={**BY_CARD, "early.choice": ["option-cancel"]})
    assert not visit.ok
    (early, _), = visit.shown("early.choice")
    assert [o.id for o in early.options] == ["cancel"]
    assert len(_tickets(admin)) == before and rt.devices["receipt"].jobs == []


def test_too_late_offers_a_walk_in_number(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime(idcard="sim://?card=li")
    visit = drive(rt, "queue_ticket", script={**BY_CARD, "late.choice": ["option-walk_in"]})
    assert visit.ok
    (late, _), = visit.shown("late.choice")
    assert "已失效" in late.text
    number, rows = _shown_ticket(visit)
    assert number.startswith("B") and rows["业务类型"] == "住房公积金"


def test_no_appointment_offers_walk_in_categories(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime(idcard="sim://?card=ouyang")
    visit = drive(rt, "queue_ticket", script={**BY_CARD, "walk_in.choice": ["option-tax"]})
    assert visit.ok
    (choice, texts), = visit.shown("walk_in.choice")
    assert [o.id for o in choice.options] == ["ss", "hf", "tax"]  # walk-in categories only
    assert all("等候" in o.label for o in choice.options)
    assert "须提前预约" in texts
    number, rows = _shown_ticket(visit)
    assert number.startswith("C") and rows["取号方式"] == "现场取号"


def test_lost_answer_then_retry_gives_the_same_number_once(business_runtime, drive, admin) -> None:  # type: ignore[no-untyped-def]
    before = len(_tickets(admin))
    admin.fault("/api/v1/queue/tickets", mode="commit_then_error", status=503)
    rt = business_runtime(idcard="sim://?card=ouyang")  # a walk-in number: always a new one
    visit = drive(rt, "queue_ticket", script={
        **BY_CARD, "walk_in.choice": ["option-ss"], "walk_in_ticket.error": ["action-retry"]})
    assert visit.ok, visit.names
    (_, texts), = visit.shown("walk_in_ticket.error")
    assert "政务服务平台暂时故障" in texts
    issued = _tickets(admin)
    assert len(issued) == before + 1  # issued once, although asked twice
    number, _ = _shown_ticket(visit)
    assert issued[-1]["number"] == number
    assert len(rt.devices["receipt"].jobs) == 1


def test_ticket_printer_out_of_paper(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime(receipt="sim://?paper=out")
    printer = rt.devices["receipt"]

    def refill(win: Any, name: str) -> None:
        if name.endswith("print.error"):
            printer.set_paper("ok")

    visit = drive(rt, "queue_ticket", script={**BY_CARD, "print.error": ["action-retry"]},
                  inspect=refill)
    assert visit.ok, visit.names
    (_, texts), = visit.shown("print.error")
    assert "缺纸" in texts
    assert len(printer.jobs) == 1


def test_an_expired_card_still_gets_a_walk_in_ticket(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    """Certificates refuse an expired card; the queue ticket takes it (accept_expired),
    since the counter is where its holder gets help."""
    rt = business_runtime(idcard="sim://?card=zhou")
    visit = drive(rt, "queue_ticket", script={**BY_CARD, "walk_in.choice": ["option-ss"]})
    assert visit.ok, visit.names
    _number, rows = _shown_ticket(visit)
    assert rows["取号方式"] == "现场取号" and len(rt.devices["receipt"].jobs) == 1
