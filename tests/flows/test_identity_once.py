"""The citizen's identity is held once, typed, by the session; flow data, screens,
receipts and records read it through a view that masks; only a platform request (and
the printed certificate, when its template asks for `.full`) gets the real number."""

from __future__ import annotations

from typing import Any

from emulators.escpos_decoder import decode
from kiosk.flows.context import FlowContext
from kiosk.flows.interaction import ScriptedInteraction
from kiosk.flows.model import parse_flow
from kiosk.flows.screens import Response, Screen, ScreenKind
from kiosk.identity import IdentityView
from synthetic.citizens import BY_KEY

CHEN, HUANG = BY_KEY["chen"], BY_KEY["huang"]
HAPPY = {ScreenKind.CONSENT: Response("agree"), ScreenKind.PREVIEW: Response("print"),
         ScreenKind.RATING: Response("skip"), ScreenKind.RESULT: Response("done"),
         ScreenKind.CHOICE: Response("participation"), ScreenKind.FORM: Response("confirm"),
         ScreenKind.ERROR: Response("home")}


def _screen_text(s: Screen) -> str:
    return repr([s.title, s.text, s.hint, s.status, s.big, s.rows,
                 [a.label for a in (*s.options, *s.actions)]])


def run(rt: Any, flow: Any, answer: Any) -> tuple[Any, Any, list, list[Screen]]:
    session = rt.new_session()
    ui = ScriptedInteraction(session.cancel, answer)
    records: list[tuple[str, dict]] = []
    ctx = FlowContext(flow=flow, package=rt.package, session=session, ui=ui,
                      devices=rt.devices.devices, backend=rt.backend, terminal={"id": "T"},
                      recorder=lambda s, p: records.append((s, p)))
    return rt.engine.run(ctx), session, records, ui.screens


def test_the_certificate_flow_keeps_no_copy_of_the_identity(make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime()
    result, session, records, screens = run(rt, rt.package.flows["ss_certificate"],
                                            lambda s: HAPPY.get(s.kind))
    # The platform answered: it was asked about the real number, not a masked one.
    assert result.outcome == "completed", result
    assert session.identity.id_number == CHEN.id_number  # typed, once
    assert "identity" not in session.data  # no dict with the full number beside it
    for stream, payload in records:
        assert CHEN.id_number not in repr(payload) and CHEN.name not in repr(payload), stream
    assert ("print", "4419**********3627") in [(s, p.get("citizen")) for s, p in records]
    for s in screens:
        assert CHEN.id_number not in _screen_text(s) and CHEN.name not in _screen_text(s)
    receipt = decode(rt.devices["receipt"].jobs[0]).render_text()
    assert "4419**********3627" in receipt and CHEN.id_number not in receipt
    assert "陈**" in receipt and CHEN.name not in receipt
    session.wipe()
    assert session.identity is None and session.views() == {}


def test_a_template_on_the_default_view_cannot_reach_a_full_number(make_runtime) -> None:  # type: ignore[no-untyped-def]
    """Even a template that asks for `.full` gets the masked value outside the two readers."""
    from kiosk.documents.receipt import render_receipt
    from kiosk.documents.textfmt import render

    rt = make_runtime()
    session = rt.new_session()
    session.set_identity(rt.devices["idcard"].read_identity(2.0, session.cancel))
    ctx = FlowContext(flow=rt.package.flows["ss_certificate"], package=rt.package,
                      session=session, ui=ScriptedInteraction(session.cancel, lambda s: None),
                      devices={}, backend=None)
    asks = "{identity.id_number} {identity.full.id_number} {identity.name} " \
           "{identity.full.name} {identity.full.full.id_number} {identity}"
    shown = render(asks, ctx.template_data())
    assert CHEN.id_number not in shown and CHEN.name not in shown
    assert shown.startswith("4419**********3627 4419**********3627 陈** 陈**")
    slip = render_receipt({"lines": [{"type": "text", "text": asks}]}, ctx.template_data())
    assert CHEN.id_number not in slip.plain_text()
    view = ctx.template_data()["identity"]
    assert isinstance(view, IdentityView) and CHEN.id_number not in repr(dict(view))
    # the two readers that need it: a platform request, the printed certificate
    assert render("{identity.full.id_number} {identity.id_number}",
                  ctx.template_data(reveal=True)) == f"{CHEN.id_number} 4419**********3627"


COUPLE = {"id": "couple", "title": "flow.no_property.title", "steps": [
    {"id": "identify", "type": "identify"},
    {"id": "spouse", "type": "identify_companion", "store_as": "spouse",
     "same_person": "flow.no_property.spouse.same"},
    {"id": "query", "type": "query", "endpoint": "/api/v1/property/no-property",
     "store_as": "record", "request": {"id_number": "{identity.full.id_number}",
                                       "spouse_id_number": "{spouse.full.id_number}"}},
    {"id": "who", "type": "info", "text": "flow.no_property.spouse.title",
     "rows": [{"label": "flow.no_property.spouse.title", "value": "{spouse.name} "
                                                                   "{spouse.id_number}"}]}]}


def test_a_spouse_is_held_typed_and_read_masked(make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime()
    reader = rt.devices["idcard"]
    same = rt.package.translator("zh_CN")("flow.no_property.spouse.same")

    def answer(s: Screen) -> Response | None:
        if s.kind is ScreenKind.IDENTIFY and s.status == same:
            reader.place_card("huang")  # the spouse puts their own card on the reader
        if s.kind is ScreenKind.INFO:
            return Response("next")
        return Response("home") if s.kind is ScreenKind.ERROR else None

    result, session, _, screens = run(rt, parse_flow(COUPLE, "flows/couple.toml"), answer)
    assert result.outcome == "completed", result  # the platform got both real numbers
    assert session.data["record"]["scope"] == "couple"
    assert session.companions["spouse"].id_number == HUANG.id_number
    assert "spouse" not in session.data
    info = next(s for s in screens if s.kind is ScreenKind.INFO)
    assert info.rows[0][1] == "黄** 4419**********4153"
    session.wipe()
    assert session.companions == {} and session.views() == {}
