"""The certificate flow's identify step with both real readers at once: the SAM reader on a
pty and the social-security card reader through pcscd + vpcd, against the reference
backend. The citizen arrives after the identify screen is up, as in the hall."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from emulators.sam_emulator import FIND, SamEmulator
from kiosk.flows.interaction import ScriptedInteraction
from kiosk.flows.screens import Response, Screen, ScreenKind
from kiosk.i18n import Translator
from synthetic.citizens import BY_KEY

# The whole certificate flow (as tests/flows/test_engine.py drives it) ...
HAPPY = {ScreenKind.CONSENT: Response("agree"), ScreenKind.PREVIEW: Response("print"),
         ScreenKind.RATING: Response("submit", {"stars": 5, "tags": []}),
         ScreenKind.RESULT: Response("done"), ScreenKind.ERROR: Response("home"),
         ScreenKind.CHOICE: Response("participation"), ScreenKind.FORM: Response("confirm")}
# ... or just up to the step after identify: declining consent ends the flow there.
UNTIL_CONSENT = {ScreenKind.CONSENT: Response("disagree"), ScreenKind.ERROR: Response("home")}
FAST = "reply_ms=300&read_reply_ms=600&gap_ms=100&poll_ms=20"
t = Translator("zh_CN")


@pytest.fixture
def sam():  # type: ignore[no-untyped-def]
    emu = SamEmulator().start()
    yield emu
    emu.stop()


def run_flow(rt, on_identify: Callable[[], None], answers=UNTIL_CONSENT,  # type: ignore[no-untyped-def]
             ui_holder: list[ScriptedInteraction] | None = None):
    """Run ss_certificate; `on_identify` runs (on its own thread) once the identify screen
    is first shown, i.e. when the citizen walks up. Returns the result, the UI and the
    identity the flow held when the next step's screen came up."""
    session = rt.new_session()
    started = threading.Event()
    seen: dict[str, str] = {}

    def answer(screen: Screen) -> Response | None:
        if screen.kind is ScreenKind.IDENTIFY and not started.is_set():
            started.set()
            threading.Thread(target=on_identify, daemon=True).start()
        if screen.kind is ScreenKind.CONSENT and not seen and session.identity is not None:
            seen.update(id_number=session.identity.id_number,
                        source=session.identity.source.value)
        return answers.get(screen.kind)

    ui = ScriptedInteraction(session.cancel, answer)
    if ui_holder is not None:
        ui_holder.append(ui)
    result = rt.run_flow("ss_certificate", session, ui)
    assert result.steps_run[:2] == ("identify", "consent"), result
    return result, ui, seen


def statuses(ui: ScriptedInteraction) -> list[str]:
    return [s.status for s in ui.screens if s.kind is ScreenKind.IDENTIFY]


def wait_for(cond: Callable[[], bool]) -> None:
    while not cond():
        time.sleep(0.005)


def test_identify_with_the_resident_id_card(make_runtime, sam, pcscd, vcard) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime(idcard=f"sam+serial://{sam.port}?{FAST}", sscard=pcscd.uri)

    def citizen() -> None:
        wait_for(lambda: sam.received.count(FIND) >= 3)  # the reader is polling
        sam.place("chen")

    result, ui, ident = run_flow(rt, citizen, HAPPY)
    assert result.outcome == "completed", result
    assert ident["id_number"] == BY_KEY["chen"].id_number and ident["source"] == "id_card"
    shown = statuses(ui)
    assert shown[0] == ""  # first the prompt alone: 请将身份证放在感应区
    assert t("identify.prompt.id_card") == "请将身份证放在感应区"
    assert t("identify.prompt.id_card") in ui.screens[0].text
    assert t("idcard.status.reading") == "正在读卡，请勿移动证件"
    assert t("idcard.status.reading") in shown
    progress = [s for s in ui.screens if s.kind is ScreenKind.PROGRESS]
    assert progress[0].title == "读卡成功" and progress[0].text == "陈**"
    assert shown.index(t("idcard.status.present")) < shown.index(t("idcard.status.reading"))
    assert len(rt.devices["a4"].jobs) == 1


def test_identify_with_the_social_security_card(make_runtime, sam, pcscd, vcard) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime(idcard=f"sam+serial://{sam.port}?{FAST}", sscard=pcscd.uri)
    _result, ui, ident = run_flow(rt, lambda: vcard.send("insert li"))
    assert ident["id_number"] == BY_KEY["li"].id_number and ident["source"] == "ss_card"
    shown = statuses(ui)
    assert t("sscard.status.reading") in shown and "正在读取社保卡" in t("sscard.status.reading")
    progress = [s for s in ui.screens if s.kind is ScreenKind.PROGRESS]
    assert progress[0].title == "读卡成功" and progress[0].text == "李**"


def test_a_forgotten_card_is_not_the_next_citizens(make_runtime, sam, pcscd, vcard) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime(idcard=f"sam+serial://{sam.port}?{FAST}", sscard=pcscd.uri)
    run_flow(rt, lambda: vcard.send("insert li"))  # 李建国 leaves his card in the slot

    def next_citizen() -> None:
        wait_for(lambda: t("sscard.status.take_out") in statuses(ui_holder[0]))
        sam.place("wang")  # 王秀英 uses her ID card

    ui_holder: list[ScriptedInteraction] = []
    _result, _ui, ident = run_flow(rt, next_citizen, ui_holder=ui_holder)
    assert ident["id_number"] == BY_KEY["wang"].id_number and ident["source"] == "id_card"
    assert t("sscard.status.take_out") == "读卡口中的卡片已读取过，请取出后重新插入"


def test_wrong_card_in_the_slot_then_the_id_card(make_runtime, sam, pcscd, vcard) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime(idcard=f"sam+serial://{sam.port}?{FAST}", sscard=pcscd.uri)
    vcard.send("not_ss on")

    def citizen() -> None:
        vcard.send("insert wang")  # a bank card, say
        # ... reads the message, then uses the ID card instead
        wait_for(lambda: t("sscard.not_ss_card") in statuses(ui_holder[0]))
        sam.place("wang")

    ui_holder: list[ScriptedInteraction] = []
    _result, ui, ident = run_flow(rt, citizen, ui_holder=ui_holder)
    assert ident["id_number"] == BY_KEY["wang"].id_number and ident["source"] == "id_card"
    shown = statuses(ui)
    assert t("sscard.not_ss_card") == "这不是社会保障卡，请取出后插入社保卡"
    assert shown.index(t("sscard.not_ss_card")) < shown.index(t("idcard.status.reading"))
    progress = [s for s in ui.screens if s.kind is ScreenKind.PROGRESS]
    assert progress[0].text == "王**"


def test_card_moved_during_the_read_then_placed_again(make_runtime, sam, pcscd, vcard) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime(idcard=f"sam+serial://{sam.port}?{FAST}", sscard=pcscd.uri)
    sam.pull_mid_read()

    def citizen() -> None:
        sam.place("ouyang")
        wait_for(lambda: sam.card is None)  # lifted while reading
        wait_for(lambda: sam.received.count(FIND) >= 8)
        sam.place("ouyang")

    _result, ui, ident = run_flow(rt, citizen)
    assert ident["id_number"] == BY_KEY["ouyang"].id_number
    shown = statuses(ui)
    assert t("idcard.card_moved") == "证件被移开，请重新放置" and t("idcard.card_moved") in shown
    assert shown[-1] == t("idcard.status.read")
    assert BY_KEY["ouyang"].name[0] + "***" == next(s for s in ui.screens
                                               if s.kind is ScreenKind.PROGRESS).text
