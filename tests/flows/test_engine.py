"""The flow engine runs the packaged certificate flow headless against the real backend."""

from __future__ import annotations

import threading

import pytest

from kiosk.flows.interaction import ScriptedInteraction
from kiosk.flows.screens import Response, Screen, ScreenKind

HAPPY = {ScreenKind.CONSENT: Response("agree"), ScreenKind.PREVIEW: Response("print"),
         ScreenKind.RATING: Response("submit", {"stars": 5, "tags": ["evaluate.tag.fast"]}),
         ScreenKind.RESULT: Response("done"), ScreenKind.ERROR: Response("home"),
         ScreenKind.CHOICE: Response("participation"), ScreenKind.FORM: Response("confirm")}


def run(rt, answers=HAPPY):  # type: ignore[no-untyped-def]
    session = rt.new_session()
    ui = ScriptedInteraction(session.cancel, lambda s: answers.get(s.kind))
    return rt.run_flow("ss_certificate", session, ui), ui, session


def test_certificate_flow_completes_and_prints(make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime()
    result, ui, _ = run(rt)
    assert result.outcome == "completed", result
    assert result.steps_run == ("identify", "consent", "options", "kind", "period", "query",
                                "which", "preview", "print", "receipt", "rate", "done")
    a4 = rt.devices["a4"]
    receipt = rt.devices["receipt"]
    assert len(a4.jobs) == 1 and a4.jobs[0][1].startswith(b"%PDF-")
    assert len(receipt.jobs) == 1
    kinds = [s.kind for s in ui.screens]
    assert kinds[0] == ScreenKind.IDENTIFY and ScreenKind.PREVIEW in kinds
    # step N of M is shown on counted steps only
    assert ui.screens[0].position == (1, 7)


def test_an_alternative_branch_shows_the_position_it_stands_in_for(make_runtime) -> None:  # type: ignore[no-untyped-def]
    """The payment-detail preview replaces the certificate preview: same "step N of M"."""
    positions: dict[str, list[tuple[int, int]]] = {}
    for kind in ("participation", "payment_detail"):
        rt = make_runtime()
        result, ui, _ = run(rt, {**HAPPY, ScreenKind.CHOICE: Response(kind)})
        assert result.outcome == "completed", result
        positions[kind] = [s.position for s in ui.screens if s.kind == ScreenKind.PREVIEW]
    assert positions["participation"] == positions["payment_detail"] == [(6, 7)]


@pytest.mark.parametrize("idcard,sscard,closing", [
    ("sim://?card=chen", "sim://", "请取走您的证明和凭条，并带好您的身份证"),
    ("sim://", "sim://?card=li", "请取走您的证明和凭条，并从读卡口取出您的社保卡"),
])
def test_the_closing_screen_names_the_card_the_citizen_used(make_runtime, idcard, sscard,  # type: ignore[no-untyped-def]
                                                             closing) -> None:
    rt = make_runtime(idcard=idcard, sscard=sscard)
    result, ui, _ = run(rt)
    assert result.outcome == "completed", result
    assert [s.text for s in ui.screens if s.kind == ScreenKind.RESULT][-1] == closing


def test_declining_consent_cancels_without_querying(make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime()
    result, _ui, _ = run(rt, {**HAPPY, ScreenKind.CONSENT: Response("disagree")})
    assert result.outcome == "cancelled"
    assert "query" not in result.steps_run and rt.devices["a4"].jobs == []


def test_no_record_shows_a_clear_error_and_prints_nothing(make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime(idcard="sim://?card=nobody")
    result, ui, _ = run(rt)
    assert result.outcome == "failed" and result.error_key == "backend.no_record"
    err = next(s for s in ui.screens if s.kind == ScreenKind.ERROR)
    assert err.text == "未查询到您的相关记录"
    assert "12345" in err.hint  # says what to do next
    assert rt.devices["a4"].jobs == [] and rt.devices["receipt"].jobs == []


def test_an_expired_card_is_refused_before_anything_is_queried(make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime(idcard="sim://?card=zhou")  # valid until 2024-08-16
    result, ui, session = run(rt)
    assert result.outcome == "failed" and result.error_key == "identify.card_expired"
    err = next(s for s in ui.screens if s.kind == ScreenKind.ERROR)
    assert err.text.startswith("证件已过期") and "retry" in [a.id for a in err.actions]
    assert "query" not in result.steps_run and session.identity is None
    assert rt.devices["a4"].jobs == [] and rt.devices["receipt"].jobs == []


def test_paper_out_then_retry_prints_exactly_once(make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime(a4="sim://?media=empty")
    a4 = rt.devices["a4"]
    seen_errors: list[Screen] = []

    def answer(s: Screen) -> Response | None:
        if s.kind == ScreenKind.ERROR:
            seen_errors.append(s)
            a4.set_media("ok")  # a technician refills the tray
            return Response("retry")
        return HAPPY.get(s.kind)

    session = rt.new_session()
    result = rt.run_flow("ss_certificate", session, ScriptedInteraction(session.cancel, answer))
    assert result.outcome == "completed"
    assert [s.text for s in seen_errors] == ["打印机缺纸，证明未打印"]
    assert len(a4.jobs) == 1


def test_session_cancel_ends_a_waiting_flow(make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime(idcard="sim://")  # no card on the reader: identify waits
    session = rt.new_session()
    ui = ScriptedInteraction(session.cancel, lambda s: None)
    out: dict[str, object] = {}
    th = threading.Thread(target=lambda: out.update(r=rt.run_flow("ss_certificate", session, ui)))
    th.start()
    threading.Timer(0.3, session.wipe, args=("idle",)).start()
    th.join(10)
    assert not th.is_alive()
    assert out["r"].outcome == "cancelled"  # type: ignore[attr-defined]
    assert session.identity is None and session.data == {}


def test_wipe_clears_identity_and_documents(make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime()
    _result, _, session = run(rt)
    assert session.identity is not None and "record" in session.data
    session.wipe()
    assert session.identity is None and session.data == {}


@pytest.mark.parametrize("locale,title", [("zh_HK", "身份驗證"), ("en", "Identification")])
def test_screens_follow_the_session_language(make_runtime, locale, title) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime()
    session = rt.new_session(locale)
    ui = ScriptedInteraction(session.cancel, lambda s: HAPPY.get(s.kind))
    rt.run_flow("ss_certificate", session, ui)
    assert ui.screens[0].title == title
