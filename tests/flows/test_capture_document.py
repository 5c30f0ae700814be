"""`capture_document` in a real runtime: the citizen takes, retakes and adds pages under
the simulated document camera; the pages go as one PDF through the outbox stream
`materials` (across a dropped link: tests/offline/test_materials_upload.py)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kiosk.flows.interaction import ScriptedInteraction
from kiosk.flows.model import DefinitionError, parse_flow
from kiosk.flows.screens import Response, Screen, ScreenKind

FLOW = {"id": "materials_demo", "title": "doccam.title", "requires_online": False,
        "steps": [{"id": "pages", "type": "capture_document", "material": "application_form",
                   "max_pages": 3},
                  {"id": "end", "type": "finish"}]}
DOCCAM = "sim://?size=800x600&fps=20&scenes=straight,shadow,clutter"


def _with_flow(rt: Any) -> Any:
    flow = parse_flow(FLOW, "test")
    rt.package = dataclasses.replace(rt.package, flows={**rt.package.flows, flow.id: flow})
    return rt


def _citizen(script: list[str]) -> Callable[[Screen], Response | None]:
    """Answers the step's screens from `script` (take, retake, add, done, back)."""
    todo = list(script)

    def answer(screen: Screen) -> Response | None:
        if screen.kind is ScreenKind.PROGRESS:
            return None
        if screen.kind in (ScreenKind.CAMERA, ScreenKind.PREVIEW) and todo:
            return Response(todo.pop(0))
        primary = [a for a in screen.actions if a.primary]
        return Response(primary[0].id) if primary else Response("home")

    return answer


def _run(rt: Any, script: list[str]) -> tuple[Any, ScriptedInteraction]:
    session = rt.new_session()
    ui = ScriptedInteraction(session.cancel, _citizen(script))
    return rt.run_flow("materials_demo", session, ui), ui


def _materials(rt: Any) -> list[Any]:
    return list(rt.offline.open().head("materials", 100))


def test_take_retake_add_done_sends_one_pdf(make_runtime) -> None:  # type: ignore[no-untyped-def]
    from pypdf import PdfReader

    rt = _with_flow(make_runtime(doccam=DOCCAM))
    result, ui = _run(rt, ["take", "retake", "take", "add", "take", "done"])
    assert result.outcome == "completed", result
    cams = [s for s in ui.screens if s.kind is ScreenKind.CAMERA]
    assert len(cams) == 3 and all(s.guide == "page" and s.camera is not None for s in cams)
    reviews = [s for s in ui.screens if s.kind is ScreenKind.PREVIEW]
    assert [len(PdfReader(io.BytesIO(s.document or b"")).pages) for s in reviews] == [1, 1, 1]
    assert {a.id for a in reviews[0].actions} == {"retake", "add", "done"}
    assert reviews[0].document != reviews[1].document  # the retake is another photo
    items = _materials(rt)
    assert len(items) == 1
    p = items[0].payload
    pdf = base64.b64decode(p["pdf_b64"])
    assert hashlib.sha256(pdf).hexdigest() == p["sha256"]
    assert p["pages"] == 2 and p["page_found"] == [True, True]
    assert p["material"] == "application_form"
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 2


def test_back_from_the_first_live_view_cancels_and_sends_nothing(make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = _with_flow(make_runtime(doccam=DOCCAM))
    result, _ = _run(rt, ["back"])
    assert result.outcome == "cancelled"
    assert _materials(rt) == []


def test_max_pages_leaves_no_add_button(make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = _with_flow(make_runtime(doccam=DOCCAM))
    result, ui = _run(rt, ["take", "add", "take", "add", "take", "done"])
    assert result.outcome == "completed"
    reviews = [s for s in ui.screens if s.kind is ScreenKind.PREVIEW]
    assert [("add" in {a.id for a in s.actions}) for s in reviews] == [True, True, False]
    assert _materials(rt)[0].payload["pages"] == 3


def test_no_document_camera_is_a_clear_error(make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = _with_flow(make_runtime())
    result, ui = _run(rt, [])
    assert result.outcome == "failed" and result.error_key == "doccam.unavailable"
    errors = [s for s in ui.screens if s.kind is ScreenKind.ERROR]
    t = rt.package.translator("zh_CN")
    assert errors and errors[0].text == t("doccam.unavailable") != "doccam.unavailable"


def test_flow_definition_is_checked() -> None:
    from kiosk.flows.model import FlowPackage
    from kiosk.flows.steps.capture_document import CaptureDocumentStep

    pkg = FlowPackage(Path("."), "p", "1", "0", {}, {})
    bad = parse_flow({**FLOW, "steps": [{"id": "x", "type": "capture_document",
                                         "material": "m", "min_pages": 4, "max_pages": 2}]},
                     "f")
    with pytest.raises(DefinitionError):
        CaptureDocumentStep.validate(bad.steps[0], pkg, "f", "steps[0]")
    missing = parse_flow({**FLOW, "steps": [{"id": "x", "type": "capture_document"}]}, "f")
    with pytest.raises(DefinitionError):
        CaptureDocumentStep.validate(missing.steps[0], pkg, "f", "steps[0]")


def test_the_materials_package_flow_runs_end_to_end(make_runtime) -> None:  # type: ignore[no-untyped-def]
    from flowpacks import BUILTIN_DIR
    from kiosk.flows.package import compose, load_package

    materials = load_package(Path(BUILTIN_DIR).parent / "materials")
    rt = make_runtime(doccam=DOCCAM)
    rt.package = compose([rt.package, materials])
    session = rt.new_session()
    ui = ScriptedInteraction(session.cancel, _citizen(["take", "add", "take", "done"]))
    result = rt.run_flow("materials_submit", session, ui)
    assert result.outcome == "completed", result
    assert result.steps_run == ("identify", "pages", "done")
    [item] = _materials(rt)
    assert item.payload["material"] == "application_materials"
    assert item.payload["pages"] == 2 and item.payload["flow"] == "materials_submit"
    t = rt.package.translator("zh_CN")
    assert ui.screens[-1].title == t("flow.materials_submit.done.title") != \
        "flow.materials_submit.done.title"
