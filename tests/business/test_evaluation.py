"""好差评 as its own tile: a ticket number on the on-screen pad, stars and tags; always
accepted (outbox), delivered to the platform when the link is up."""

from __future__ import annotations

import time
from typing import Any

from kiosk.backend.client import BackendClient

from .conftest import Admin


def _queued(rt: Any) -> list[dict[str, Any]]:
    return [i.payload for i in rt.offline.open().head("evaluation", 100)]


def test_rating_a_ticket_is_recorded_and_delivered(business_runtime, drive, admin: Admin) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    visit = drive(rt, "evaluation", script={"ticket_no.keyboard": ["type:B027", "action-confirm"],
                                            "rating": ["star:4", "tag:0", "tag:1",
                                                       "action-submit"]})
    assert visit.ok, visit.names
    (done, _), = visit.shown("done.result")
    assert done.title == "感谢您的评价"
    (item,) = _queued(rt)
    assert item["ticket"] == "B027" and item["stars"] == 4 and item["service"] == "window_service"
    assert item["tags"] == ["evaluate.tag.friendly", "evaluate.tag.efficient"]
    session = item["session"]
    rt.start_offline()  # the replay worker delivers it
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        got = [e for e in admin.platform()["evaluations"] if e.get("session") == session]
        if got:
            break
        time.sleep(0.1)
    assert got and got[0]["ticket"] == "B027" and got[0]["stars"] == 4


def test_invalid_number_is_explained_then_accepted(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    visit = drive(rt, "evaluation", script={"ticket_no.keyboard": [
        ["type:A02", "action-confirm"], ["key:CLEAR", "type:A021", "action-confirm"]]})
    assert visit.ok
    statuses = [s.status for s, _ in visit.shown("ticket_no.keyboard") if s is not None]
    assert "号码为一个字母加三位数字，例如 A021，请重新输入" in statuses
    assert _queued(rt)[0]["ticket"] == "A021"


def test_accepted_while_the_platform_is_unreachable(business_runtime, drive, backend) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    rt.backend = BackendClient("http://127.0.0.1:9", backend.terminal_id, backend.secret,
                               connect_timeout=0.5, read_timeout=0.5)
    visit = drive(rt, "evaluation")
    assert visit.ok, visit.names
    assert [p["ticket"] for p in _queued(rt)] == ["A021"]


def test_stuck_entry_sends_the_citizen_to_staff(business_runtime, drive) -> None:  # type: ignore[no-untyped-def]
    rt = business_runtime()
    visit = drive(rt, "evaluation", script={"ticket_no.keyboard": ["type:9", "action-confirm"]})
    assert not visit.ok
    (_, texts), = visit.shown(".error")
    assert "请联系大厅工作人员协助办理" in texts
    assert _queued(rt) == []
