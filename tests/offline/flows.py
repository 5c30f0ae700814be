"""Run packaged flows headless with a generic scripted citizen."""

from __future__ import annotations

from typing import Any

from kiosk.flows.context import FlowResult
from kiosk.flows.interaction import ScriptedInteraction
from kiosk.flows.screens import Response, Screen, ScreenKind


def answer(screen: Screen) -> Response | None:
    if screen.kind is ScreenKind.RATING:
        return Response("submit", {"stars": 4, "tags": []})
    if screen.kind is ScreenKind.ERROR:
        return Response("home")
    if screen.kind in (ScreenKind.PROGRESS, ScreenKind.IDENTIFY):
        return None
    primary = [a for a in screen.actions if a.primary]
    if primary:
        return Response(primary[0].id)
    return Response(screen.options[0].id) if screen.options else None  # choices: the first


def run_flow(rt: Any, flow_id: str) -> tuple[FlowResult, ScriptedInteraction, Any]:
    session = rt.new_session()
    ui = ScriptedInteraction(session.cancel, answer)
    result = rt.run_flow(flow_id, session, ui)
    return result, ui, session
