"""Co-fill rules, the screen mirror's message and pacing, and the call's states (no Qt)."""

from __future__ import annotations

from typing import Any

from kiosk.assist import mirror
from kiosk.assist.cofill import CoFill, Result, judge, lock_of, parse
from kiosk.assist.engine import CallEvent
from kiosk.flows.screens import Action, Field, Screen, ScreenKind
from kiosk.ui.assist.callback import valid_mobile
from kiosk.ui.assist.state import CallState, Phase, advance, describe, wait_minutes

PERIOD = Screen(ScreenKind.FORM, "period", "请选择证明的时间段",
                fields=(Field("start", "开始月份", "month", "2024-06", "2019-01", "2025-05"),
                        Field("end", "结束月份", "month", "2025-05", "2019-01", "2025-05")),
                options=(Action("preset:last_12", "近12个月"),
                         Action("preset:last_24", "近24个月")),
                actions=(Action("back", "返回"), Action("confirm", "确认", primary=True)))
CONSENT = Screen(ScreenKind.CONSENT, "consent", "授权查询", options=(),
                 actions=(Action("agree", "同意", primary=True),))
PHONE = Screen(ScreenKind.KEYBOARD, "phone", "手机号码", keys="phone", max_len=11)


def propose(pid: str, seq: int, **kw: Any) -> dict[str, Any]:
    return {"type": "propose", "id": pid, "seq": seq, **kw}


def test_locked_steps_refuse_every_proposal() -> None:
    assert lock_of(CONSENT) == "consent"
    assert lock_of(PERIOD, "print_a4") == "print"
    assert lock_of(PERIOD, "identify") == "identity"
    assert lock_of(PERIOD, "verify_face") == "camera"
    assert lock_of(PERIOD, "pay_fee") == "payment"
    assert lock_of(PERIOD, "period") == ""
    p = parse(propose("p1", 3, action="choose", value="agree"))
    assert p is not None
    assert judge(CONSENT, "consent", 3, p).reason == "consent"


def test_unknown_options_fields_and_values_are_refused() -> None:
    def verdict(**kw: Any) -> tuple[Result, str]:
        p = parse(propose("p", 5, **kw))
        assert p is not None
        v = judge(PERIOD, "period", 5, p)
        return v.result, v.reason

    assert verdict(action="choose", value="preset:last_12") == (Result.ASK, "")
    assert verdict(action="choose", value="confirm") == (Result.REFUSED, "unknown_option")
    assert verdict(action="choose", value="print") == (Result.REFUSED, "print")
    assert verdict(action="fill", field="start", value="2024-01") == (Result.ASK, "")
    assert verdict(action="fill", field="start", value="2018-12") == (Result.REFUSED, "bad_value")
    assert verdict(action="fill", field="phone", value="1") == (Result.REFUSED, "unknown_field")
    p = parse(propose("k", 2, action="fill", field="phone", value="13800005678"))
    assert p is not None and judge(PHONE, "enter_text", 2, p).result == Result.ASK
    p = parse(propose("k", 2, action="fill", field="phone", value="1380000567x"))
    assert p is not None and judge(PHONE, "enter_text", 2, p).result == Result.REFUSED
    pinyin = Screen(ScreenKind.KEYBOARD, "name", "姓名", keys="pinyin")
    p = parse(propose("k", 2, action="fill", field="name", value="zhang"))
    assert p is not None and judge(pinyin, "enter_text", 2, p).reason == "bad_value"
    assert parse({"type": "propose", "id": "x", "seq": "7", "action": "choose",
                  "value": "a"}) is None


def test_stale_seq_and_the_messages_sent_back() -> None:
    sent: list[dict[str, Any]] = []
    cf = CoFill(sent.append)
    cf.screen_changed(PERIOD, "period", 7)
    assert cf.propose(propose("old", 6, action="choose", value="preset:last_12")) is None
    assert sent[-1] == {"type": "proposal", "id": "old", "result": "stale"}
    asked = cf.propose(propose("p3", 7, action="choose", value="preset:last_24"))
    assert asked is not None and sent[-1]["id"] == "old"  # nothing sent while it is asked
    cf.screen_changed(CONSENT, "consent", 8)  # the citizen moved on: the banner is withdrawn
    assert sent[-1] == {"type": "proposal", "id": "p3", "result": "stale"}
    assert cf.propose(propose("p4", 8, action="choose", value="agree")) is None
    assert sent[-1] == {"type": "proposal", "id": "p4", "result": "refused", "reason": "consent"}
    assert cf.confirm() is None  # nothing to confirm: a refusal never reaches the citizen
    cf.propose({"type": "propose", "id": "bad"})
    assert sent[-1] == {"type": "proposal", "id": "bad", "result": "refused",
                        "reason": "bad_request"}


def test_confirm_and_decline() -> None:
    sent: list[dict[str, Any]] = []
    cf = CoFill(sent.append)
    cf.screen_changed(PERIOD, "period", 1)
    cf.propose(propose("a", 1, action="fill", field="end", value="2025-01"))
    p = cf.confirm()
    assert p is not None and p.value == "2025-01" and sent[-1]["result"] == "confirmed"
    cf.propose(propose("b", 1, action="choose", value="preset:last_12"))
    cf.decline()
    assert sent[-1] == {"type": "proposal", "id": "b", "result": "declined"}


def test_screen_message_masks_typed_digits_and_leaves_out_the_picture() -> None:
    shown = [mirror.FieldShown("phone", "手机号码", mirror.mask_typed("13812345678"))]
    msg = mirror.screen_message(4, "ss_certificate", PHONE, "zh_CN", "", shown,
                                image="data:image/jpeg;base64,xx")
    assert msg["fields"] == [{"name": "phone", "label": "手机号码", "value": "138****5678"}]
    assert msg["image"] and msg["locked"] is False and msg["seq"] == 4
    camera = mirror.screen_message(5, "f", PHONE, "zh_CN", "camera", image="data:x")
    assert "image" not in camera and camera["locked"] is True and camera["lock"] == "camera"
    period = mirror.screen_message(6, "ss_certificate", PERIOD, "zh_CN", "")
    assert period["options"][0] == {"value": "preset:last_12", "label": "近12个月"}


def test_jpeg_is_made_small_and_readable() -> None:
    import base64

    import cv2
    import numpy as np

    w, h = mirror.scaled_size(1920, 1080, 540)
    assert (w, h) == (540, 304)
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:, :, 0] = 200
    url = mirror.encode_jpeg(rgb.tobytes(), w, h, w * 3)
    data = base64.b64decode(url.split(",", 1)[1])
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and img.shape == (h, w, 3)
    assert img[10, 10, 2] > 150  # red stays red (BGR order)


def test_pacer_sends_at_once_debounces_typing_and_keeps_one_a_second() -> None:
    p = mirror.MirrorPacer()
    p.screen_changed(100.0)
    assert p.take(100.0)
    p.typed(100.1)
    assert not p.take(100.5)  # typed 0.4 s after the last message: at most one a second
    assert p.due_at() == 101.0
    p.typed(100.9)
    assert p.due_at() == 101.2  # still typing: 0.3 s after the last touch
    assert p.take(101.2) and p.due_at() is None


def test_call_states_from_events() -> None:
    s = CallState(phase=Phase.CALLING)
    s = advance(s, CallEvent("queued", position=3, wait_s=130, agents=2))
    v = describe(s)
    assert (s.phase, v.values) == (Phase.QUEUED, {"position": 3, "minutes": 3})
    s = advance(s, CallEvent("answered", agent="王敏"))
    assert describe(s).video and "hangup" in describe(s).buttons and s.agent == "王敏"
    assert advance(s, CallEvent("held")).phase == Phase.HELD
    assert advance(s, CallEvent("reconnecting")).phase == Phase.RECONNECTING
    # A new connection after a drop: its first media brings the call back (held stays held).
    rejoin = advance(advance(s, CallEvent("reconnecting")), CallEvent("queued", position=1))
    back = advance(rejoin, CallEvent("media"))
    assert back.phase == Phase.IN_CALL
    held = advance(advance(advance(s, CallEvent("held")), CallEvent("reconnecting")),
                   CallEvent("media"))
    assert held.phase == Phase.HELD
    dropped = advance(s, CallEvent("ended", reason="dropped"))
    assert describe(dropped).text == "assist.ended.dropped"
    assert advance(s, CallEvent("ended", reason="citizen")) == CallState()
    ringing = CallState(phase=Phase.QUEUED)
    assert advance(ringing, CallEvent("ended", reason="no_answer")).phase == Phase.OFFERS
    offers = advance(ringing, CallEvent("unavailable", reason="no_agent"))
    assert describe(offers).title == "assist.offers.no_agent.title"
    assert advance(offers, CallEvent("ended", reason="error")) == offers
    assert wait_minutes(0) == 1 and wait_minutes(61) == 2


def test_mainland_mobile_numbers() -> None:
    assert valid_mobile("13800005678")
    assert not valid_mobile("12800005678") and not valid_mobile("1380000567")
    assert not valid_mobile("23800005678") and not valid_mobile("138000056789")
