"""The citizen's screens of a help call in the real kiosk window, driven by the engine's
events (kiosk.assist.engine.CallEvent) through the controller's event entry; co-fill on
the certificate flow's period step; the idle countdown held during a call; the call
back recorded in the outbox and delivered to the reference platform."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QAbstractButton, QWidget

from kiosk.assist.engine import CallEvent
from kiosk.ui.assist.controller import AssistController
from kiosk.ui.assist.state import Phase
from kiosk.ui.layout_check import layout_problems
from kiosk.ui.main_window import MainWindow

SHOTS = os.environ.get("KIOSK_ASSIST_SHOTS", "")  # a folder: save each screen as PNG


class Line:
    """The far end of the controller's call seam: what the engine would carry. It
    records what the UI hands to the call; the test plays the engine's events."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.hung_up: list[str] = []
        self.started: dict[str, str] = {}
        self.remote_video = None

    def start(self, **kw: str) -> None:
        self.started = kw

    def hang_up(self, reason: str = "citizen") -> None:
        self.hung_up.append(reason)

    def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


@pytest.fixture
def kiosk(qtbot, make_runtime) -> Callable[..., tuple[MainWindow, AssistController, Line]]:  # type: ignore[no-untyped-def]
    def make(size: tuple[int, int] = (1920, 1080)) -> tuple[MainWindow, AssistController, Line]:
        rt = make_runtime()
        rt.config = rt.config.with_section("assist", centre_url="ws://127.0.0.1:9")
        win = MainWindow(rt, QSize(*size))
        qtbot.addWidget(win)
        win.resize(*size)
        win.show()
        assert win.assist is not None
        line = Line()
        win.assist.factory = lambda _win, _on_event: line
        return win, win.assist, line
    return make


def press(qtbot, root: QWidget, name: str) -> None:  # type: ignore[no-untyped-def]
    def shown() -> bool:
        b = root.findChild(QAbstractButton, name)
        return b is not None and b.isVisible()
    qtbot.waitUntil(shown, timeout=5000)
    b = root.findChild(QAbstractButton, name)
    assert b is not None
    b.click()


def shot(win: MainWindow, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        win.grab().save(str(Path(SHOTS) / f"{name}.png"))


def look(qtbot, win: MainWindow, name: str) -> None:  # type: ignore[no-untyped-def]
    qtbot.wait(30)  # layouts settle
    problems = layout_problems(win)
    shot(win, name)
    assert not problems, f"{name}: {problems}"


STATES = [
    ("consent", []),
    ("queued", [CallEvent("connecting"), CallEvent("queued", position=2, wait_s=150, agents=1)]),
    ("in_call", [CallEvent("answered", agent="王敏")]),
    ("held", [CallEvent("held")]),
    ("reconnecting", [CallEvent("reconnecting")]),
    ("ended", [CallEvent("ended", reason="dropped")]),
]


@pytest.mark.parametrize("size,elder,locale", [((1920, 1080), False, "zh_CN"),
                                               ((1080, 1920), True, "en"),
                                               ((1280, 1024), True, "zh_HK")])
def test_every_state_fits_the_panel(qtbot, kiosk, size, elder, locale) -> None:  # type: ignore[no-untyped-def]
    win, ctl, _line = kiosk(size)
    win.show_home()
    win.set_locale(locale)
    win.set_elder(elder)
    tag = f"{size[0]}x{size[1]}-{'elder' if elder else 'std'}-{locale}"
    press(qtbot, win, "assistHelp")
    for name, events in STATES:
        if name == "queued":
            press(qtbot, win, "action-assist-agree")
        for e in events:
            ctl.on_event(e)
        look(qtbot, win, f"{tag}-{name}")
    assert ctl.state.phase == Phase.ENDED
    press(qtbot, win, "action-assist-continue")
    assert not ctl.overlay.isVisible()
    # No answer: the offers, then the call-back keypad.
    press(qtbot, win, "assistHelp")
    press(qtbot, win, "action-assist-agree")
    ctl.on_event(CallEvent("ended", reason="no_answer"))
    look(qtbot, win, f"{tag}-offers")
    press(qtbot, win, "action-assist-callback")
    look(qtbot, win, f"{tag}-callback")


def wait_screen(qtbot, win: MainWindow, name: str) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: win.current_screen == name, timeout=20000)


def in_call(qtbot, win: MainWindow, ctl: AssistController) -> None:  # type: ignore[no-untyped-def]
    press(qtbot, win, "assistHelp")
    press(qtbot, win, "action-assist-agree")
    ctl.on_event(CallEvent("connecting"))
    ctl.on_event(CallEvent("answered", agent="王敏"))
    assert ctl.state.phase == Phase.IN_CALL and win.idle.held


def to_period(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    win.show_home()
    win.start_flow("ss_certificate")
    wait_screen(qtbot, win, "ss_certificate.consent.consent")
    press(qtbot, win.flow_view, "action-agree")
    wait_screen(qtbot, win, "ss_certificate.kind.choice")
    press(qtbot, win.flow_view, "option-participation")
    wait_screen(qtbot, win, "ss_certificate.period.form")


def screens_sent(line: Line) -> list[dict[str, Any]]:
    return [m for m in line.sent if m["type"] == "screen"]


def results(line: Line) -> list[dict[str, Any]]:
    return [m for m in line.sent if m["type"] == "proposal"]


def test_agent_proposals_apply_only_after_the_citizen_confirms(qtbot, kiosk) -> None:  # type: ignore[no-untyped-def]
    win, ctl, line = kiosk()
    win.start_flow("ss_certificate")
    wait_screen(qtbot, win, "ss_certificate.consent.consent")
    in_call(qtbot, win, ctl)
    press(qtbot, win, "action-assist-minimise")  # back to the flow, the call in the bar
    # The consent step stays with the citizen: refused, and the agent is told why.
    qtbot.waitUntil(lambda: bool(screens_sent(line)), timeout=5000)
    consent = screens_sent(line)[-1]
    assert consent["step"] == "consent" and consent["locked"] and consent["lock"] == "consent"
    ctl.on_event(CallEvent("proposal", message={"type": "propose", "id": "p1",
                                                "seq": consent["seq"], "action": "choose",
                                                "value": "agree"}))
    assert results(line)[-1] == {"type": "proposal", "id": "p1", "result": "refused",
                                 "reason": "consent"}
    assert ctl.banner is None and win.current_screen.endswith("consent.consent")
    press(qtbot, win.flow_view, "action-agree")
    wait_screen(qtbot, win, "ss_certificate.kind.choice")
    press(qtbot, win.flow_view, "option-participation")
    wait_screen(qtbot, win, "ss_certificate.period.form")
    qtbot.waitUntil(lambda: screens_sent(line)[-1]["step"] == "period", timeout=5000)
    period = screens_sent(line)[-1]
    assert period["locked"] is False and "image" in period
    assert {o["value"] for o in period["options"]} >= {"preset:last_12", "preset:last_24"}
    start = next(f for f in period["fields"] if f["name"] == "start")
    # A field: shown on the banner, not applied until 确认.
    ctl.on_event(CallEvent("proposal", message={"type": "propose", "id": "p2",
                                                "seq": period["seq"], "action": "fill",
                                                "field": "start", "value": "2024-01"}))
    assert ctl.banner is not None and "2024" in ctl.banner.text_label.text()
    from kiosk.ui.form_widgets import Stepper

    stepper = next(s for s in win.flow_view.findChildren(Stepper) if s.f.id == "start")
    before = stepper.value
    assert before != "2024-01" and start["value"] == stepper.shown.text()
    press(qtbot, ctl.banner, "action-assist-confirm")
    assert stepper.value == "2024-01" and results(line)[-1]["result"] == "confirmed"
    qtbot.waitUntil(lambda: next(f for f in screens_sent(line)[-1]["fields"]
                                 if f["name"] == "start")["value"] == stepper.shown.text(),
                    timeout=5000)
    # A choice: declined first (nothing happens), then confirmed (the preset is pressed).
    seq = screens_sent(line)[-1]["seq"]
    ctl.on_event(CallEvent("proposal", message={"type": "propose", "id": "p3", "seq": seq,
                                                "action": "choose", "value": "preset:last_24"}))
    assert ctl.banner is not None and "24" in ctl.banner.text_label.text()
    press(qtbot, ctl.banner, "action-assist-decline")
    assert results(line)[-1] == {"type": "proposal", "id": "p3", "result": "declined"}
    assert stepper.value == "2024-01"
    ctl.on_event(CallEvent("proposal", message={"type": "propose", "id": "old", "seq": seq - 1,
                                                "action": "choose", "value": "preset:last_24"}))
    assert results(line)[-1] == {"type": "proposal", "id": "old", "result": "stale"}
    ctl.on_event(CallEvent("proposal", message={"type": "propose", "id": "p4", "seq": seq,
                                                "action": "choose", "value": "preset:last_24"}))
    assert ctl.banner is not None
    look(qtbot, win, "proposal-banner")
    press(qtbot, ctl.banner, "action-assist-confirm")
    qtbot.waitUntil(lambda: next(s for s in win.flow_view.findChildren(Stepper)
                                 if s.f.id == "start").value != "2024-01", timeout=10000)
    assert results(line)[-1] == {"type": "proposal", "id": "p4", "result": "confirmed"}
    # The citizen hangs up: the flow is where it was, the countdown runs again.
    press(qtbot, win, "assist-bar-hangup")
    assert line.hung_up == ["citizen"]
    ctl.on_event(CallEvent("ended", reason="citizen"))
    assert ctl.state.phase == Phase.IDLE and not win.idle.held and ctl.bar is None
    assert win.current_screen == "ss_certificate.period.form"


def test_the_idle_countdown_waits_during_a_call(qtbot, kiosk) -> None:  # type: ignore[no-untyped-def]
    win, ctl, _line = kiosk()
    win.show_home()
    in_call(qtbot, win, ctl)
    expired: list[bool] = []
    win.idle.expired.connect(lambda: expired.append(True))
    win.idle._last -= 10_000  # as if nobody had touched the screen for hours
    win.idle._tick()
    assert not expired and win.idle.remaining() > win.idle.timeout_s - 5
    ctl.on_event(CallEvent("ended", reason="agent"))  # the call is over: counts again
    assert not win.idle.held
    win.idle._last -= 10_000
    win.idle._tick()
    assert expired == [True]
    qtbot.waitUntil(lambda: win.current_screen == "attract", timeout=5000)


def test_session_end_hangs_up_and_releases_the_camera(qtbot, kiosk) -> None:  # type: ignore[no-untyped-def]
    win, ctl, line = kiosk()
    to_period(qtbot, win)
    in_call(qtbot, win, ctl)
    own = ctl.own
    assert own is not None
    qtbot.waitUntil(lambda: own.subscribed, timeout=5000)  # the citizen's own preview
    win._end_session("completed")
    assert line.hung_up == ["session_end"] and not own.subscribed
    assert ctl.state.phase == Phase.IDLE and not ctl.overlay.isVisible()


def test_no_answer_offers_a_call_back_delivered_to_the_platform(  # type: ignore[no-untyped-def]
        qtbot, kiosk, backend, caplog) -> None:
    import logging

    import requests

    caplog.set_level(logging.DEBUG)
    win, ctl, _line = kiosk()
    to_period(qtbot, win)
    press(qtbot, win, "assistHelp")
    press(qtbot, win, "action-assist-agree")
    ctl.on_event(CallEvent("queued", position=1, wait_s=40, agents=1))
    ctl.on_event(CallEvent("ended", reason="no_answer"))
    assert ctl.state.phase == Phase.OFFERS and not win.idle.held
    press(qtbot, win, "action-assist-callback")
    for d in "1380000567":  # ten digits: not a mobile number yet
        ctl.overlay.keyboard.press(d)  # type: ignore[union-attr]
    press(qtbot, win, "action-assist-send")
    assert ctl.state.phase == Phase.CALLBACK and ctl.overlay.status is not None
    assert ctl.overlay.status.text() == win.t("assist.callback.invalid")
    keys = [b for b in ctl.overlay.findChildren(QAbstractButton, "key")
            if b.property("key") == "8"]
    keys[0].click()  # the eleventh digit, by touch
    press(qtbot, win, "action-assist-send")
    assert ctl.state.phase == Phase.CALLBACK_DONE
    look(qtbot, win, "callback-done")
    rt = win.runtime
    outbox = rt.offline.open()
    assert outbox is not None
    rt.offline.start(rt.backend)
    qtbot.waitUntil(lambda: outbox.depth() == 0, timeout=20000)
    r = requests.get(f"{backend.url}/_admin/outbox/applied",
                     params={"terminal": backend.terminal_id, "stream_prefix": "assist_callback"},
                     headers={"X-Admin-Token": backend.admin_token}, timeout=10)
    assert len(r.json()["order"]["assist_callback"]) >= 1
    assert "13800005678" not in caplog.text  # the number is never logged
    press(qtbot, win, "action-assist-continue")
    assert win.current_screen == "ss_certificate.period.form" and not ctl.overlay.isVisible()


def test_the_platform_rejects_a_call_back_without_a_mobile_number(client) -> None:  # type: ignore[no-untyped-def]
    from kiosk.ui.assist.callback import payload

    def result(p: dict[str, Any]) -> dict[str, Any]:
        key = os.urandom(8).hex()
        body = client.post_json("/api/v1/outbox/batch", {"items": [
            {"key": key, "stream": "assist_callback", "created": 0.0, "payload": p}]})
        return dict(body["results"][0])

    assert result(payload("13800005678", "DG-TEST-0001", "ss_certificate"))["status"] == "applied"
    bad = result(payload("12345", "DG-TEST-0001", "ss_certificate"))
    assert bad["status"] == "rejected" and bad["error"] == "invalid_assist_callback"


def test_help_is_offered_on_citizen_screens_only(qtbot, kiosk) -> None:  # type: ignore[no-untyped-def]
    import threading

    from kiosk.flows.interaction import Pending
    from kiosk.flows.screens import Action, Screen, ScreenKind

    win, ctl, _line = kiosk((1080, 1920))
    help_button = ctl.help_buttons[-1]
    assert not help_button.isVisible()  # the attract screen: nobody there yet
    # ... and the footer does not point at a button that is not there
    assert win.footer_help.text() == win.t("home.help")
    win.show_home()
    qtbot.waitUntil(help_button.isVisible, timeout=5000)
    assert win.footer_help.text() == win.t("assist.footer")  # 如需帮助，请点“求助”…
    look(qtbot, win, "home-with-help")
    win.set_locale("zh_HK")  # the chrome is made again: the footer still names the button
    qtbot.waitUntil(lambda: win.footer_help.text() == "如需幫助，請按「求助」或撥打 12345",
                    timeout=5000)
    win.set_locale("zh_CN")
    # An error screen offers an agent, and the offer opens the consent screen.
    t = win.t  # texts that remember their keys: drawn again in another language
    error = Screen(ScreenKind.ERROR, "query", t("error.title"), text=t("backend.unreachable"),
                   actions=(Action("home", t("common.home")),
                            Action("retry", t("common.retry"), primary=True)))
    win.stack.setCurrentWidget(win.flow_view)
    win.flow_view.show_screen(Pending(error, threading.Event()), win.portrait)
    look(qtbot, win, "error-with-offer")
    win.set_locale("en")
    win.set_elder(True)  # the offer fits an elder screen too (in the text column)
    win.set_screen_size(QSize(1920, 1080))
    win.resize(1920, 1080)
    look(qtbot, win, "error-with-offer-elder")
    press(qtbot, win.flow_view, "action-assist-call")
    assert ctl.state.phase == Phase.CONSENT
    press(qtbot, win, "action-assist-cancel")
    assert ctl.state.phase == Phase.IDLE and not ctl.overlay.isVisible()
    win.flow_view.clear()
    win.show_attract()
    win.open_maintenance()  # the technician's screens: no help button
    qtbot.waitUntil(lambda: not ctl.help_buttons[-1].isVisible(), timeout=5000)
    assert win.footer_help.text() == win.t("home.help")
    ctl.help_pressed()
    assert ctl.state.phase == Phase.IDLE


def test_no_answer_offers_a_queue_ticket_instead(qtbot, kiosk) -> None:  # type: ignore[no-untyped-def]
    win, ctl, _line = kiosk()
    to_period(qtbot, win)
    press(qtbot, win, "assistHelp")
    press(qtbot, win, "action-assist-agree")
    ctl.on_event(CallEvent("unavailable", reason="no_agent"))
    ctl.on_event(CallEvent("ended", reason="error"))
    assert ctl.state.phase == Phase.OFFERS and ctl.ticket_available()
    press(qtbot, win, "action-assist-ticket")
    # The kiosk's own ticket service: the certificate's session ends, a new one starts.
    qtbot.waitUntil(lambda: win.current_screen.startswith("queue_ticket."), timeout=20000)
    assert win.flow_id == "queue_ticket" and not ctl.overlay.isVisible()


def test_an_agent_fills_the_ticket_number_the_citizen_confirms(qtbot, kiosk) -> None:  # type: ignore[no-untyped-def]
    from kiosk.ui.form_widgets import CharPad

    win, ctl, line = kiosk()
    win.show_home()
    win.start_flow("evaluation")
    wait_screen(qtbot, win, "evaluation.ticket_no.keyboard")
    pad = win.flow_view.findChild(CharPad)
    assert pad is not None
    pad.press("B")  # the citizen began to type
    in_call(qtbot, win, ctl)
    press(qtbot, win, "action-assist-minimise")
    qtbot.waitUntil(lambda: bool(screens_sent(line)), timeout=5000)
    shown = screens_sent(line)[-1]
    assert shown["fields"] == [{"name": "ticket_no", "label": shown["title"], "value": "B"}]
    ctl.on_event(CallEvent("proposal", message={"type": "propose", "id": "t1",
                                                "seq": shown["seq"], "action": "fill",
                                                "field": "ticket_no", "value": "A0215"}))
    assert results(line)[-1]["reason"] == "bad_value"  # longer than the pad takes
    ctl.on_event(CallEvent("proposal", message={"type": "propose", "id": "t2",
                                                "seq": shown["seq"], "action": "fill",
                                                "field": "ticket_no", "value": "A021"}))
    assert ctl.banner is not None and "A021" in ctl.banner.text_label.text()
    assert pad.text == "B"
    press(qtbot, ctl.banner, "action-assist-confirm")
    assert pad.text == "A021" and results(line)[-1]["result"] == "confirmed"
    qtbot.waitUntil(lambda: screens_sent(line)[-1]["fields"][0]["value"] == "A021",
                    timeout=5000)
