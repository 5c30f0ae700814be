"""Handwritten signatures: strokes from mouse and touch through the real pad, the step that
refuses a scribble, and the vector paths in the printed PDF (rendered with pdftoppm)."""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton

from kiosk.documents.a4 import render_a4
from kiosk.documents.schema import TemplateSchemaError, validate_template
from kiosk.flows.interaction import Pending, ScriptedInteraction
from kiosk.flows.screens import Action, Response, Screen, ScreenKind
from kiosk.flows.steps.signature import Signature, parse_strokes
from kiosk.i18n import Translator
from kiosk.ui import theme
from kiosk.ui.flow_view import FlowView
from kiosk.ui.signature_pad import DEMO_SIGNATURE, SignaturePad, draw_polyline

needs_poppler = pytest.mark.skipif(shutil.which("pdftoppm") is None,
                                   reason="poppler-utils missing")


def _sig(*strokes: list[tuple[float, float]], aspect: float = 3.0) -> Signature | None:
    return parse_strokes({"strokes": [list(map(list, s)) for s in strokes], "aspect": aspect})


# -- the strokes as data -----------------------------------------------------------------
def test_strokes_are_kept_in_pad_units_without_timestamps() -> None:
    sig = parse_strokes({"strokes": [[[0.1, 0.2, 1733100000.5], [0.123456, 0.5, 1733100000.6],
                                      [1.7, -0.2, 1733100000.7]], [], "junk", [[None, 1]]],
                         "aspect": 3})
    assert sig is not None
    assert sig.strokes == (((0.1, 0.2), (0.1235, 0.5), (1.0, 0.0)),)  # clamped, rounded
    data = sig.as_data()
    assert data["strokes"] == [[[0.1, 0.2], [0.1235, 0.5], [1.0, 0.0]]]
    assert data["path"] == "M0.1 0.2 L0.1235 0.5 L1 0"
    assert "1733100000" not in repr(data)
    assert parse_strokes({"strokes": []}) is None and parse_strokes("M0 0") is None


def test_a_dot_a_line_or_a_tick_is_not_a_signature() -> None:
    dot = _sig([(0.5, 0.5)])
    line = _sig([(0.1, 0.5), (0.9, 0.5)])  # long, but flat
    tick = _sig([(0.4, 0.5), (0.45, 0.6), (0.55, 0.3)])
    name = _sig(*[list(s) for s in DEMO_SIGNATURE])
    assert dot is not None and dot.trivial()
    assert line is not None and line.trivial()
    assert tick is not None and tick.trivial()
    assert name is not None and not name.trivial()


# -- the pad: mouse, touch and the scripted citizen through the same code ---------------------
@pytest.fixture
def pad(qtbot):  # type: ignore[no-untyped-def]
    p = SignaturePad(theme.metrics_for(1920, 1080), "请在此处签名")
    qtbot.addWidget(p)
    p.resize(900, 300)
    p.show()
    qtbot.waitExposed(p)
    return p


ZIGZAG = [(0.1, 0.3), (0.3, 0.7), (0.5, 0.3), (0.7, 0.7), (0.9, 0.3)]


def _px(p: SignaturePad, x: float, y: float) -> QPoint:
    return QPoint(round(x * (p.width() - 1)), round(y * (p.height() - 1)))


def test_mouse_press_move_release_draws_a_stroke(qtbot, pad) -> None:  # type: ignore[no-untyped-def]
    qtbot.mousePress(pad, Qt.MouseButton.LeftButton, pos=_px(pad, *ZIGZAG[0]))
    for x, y in ZIGZAG[1:]:
        qtbot.mouseMove(pad, _px(pad, x, y))
    qtbot.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=_px(pad, *ZIGZAG[-1]))
    qtbot.mouseMove(pad, _px(pad, 0.5, 0.9))  # no button: not part of any stroke
    assert len(pad.strokes) == 1
    got = pad.strokes[0]
    assert len(got) == len(ZIGZAG)
    assert all(abs(a - c) < 0.01 and abs(b - d) < 0.01
               for (a, b), (c, d) in zip(got, ZIGZAG, strict=True))
    value = pad.value()
    assert value["aspect"] == pytest.approx(3.0, abs=0.01)


class _MouseCounter(QObject):
    """Counts the mouse presses the pad is sent (Qt synthesises them from a touch the
    widget did not take)."""

    def __init__(self) -> None:
        super().__init__()
        self.presses = 0

    def eventFilter(self, _obj: QObject, e: QEvent) -> bool:
        self.presses += e.type() == QEvent.Type.MouseButtonPress
        return False


def test_touch_draws_the_same_stroke_and_no_mouse_copy(qtbot, pad) -> None:  # type: ignore[no-untyped-def]
    mice = _MouseCounter()
    pad.installEventFilter(mice)
    device = QTest.createTouchDevice()
    QTest.touchEvent(pad, device).press(0, _px(pad, *ZIGZAG[0])).commit()
    for x, y in ZIGZAG[1:]:
        QTest.touchEvent(pad, device).move(0, _px(pad, x, y)).commit()
    QTest.touchEvent(pad, device).release(0, _px(pad, *ZIGZAG[-1])).commit()
    QApplication.processEvents()
    # The pad took the touch itself: Qt made no mouse events of it, so no second stroke.
    assert mice.presses == 0
    assert len(pad.strokes) == 1, pad.strokes
    # (a touch point lands within a few pixels of where it was put)
    assert all(abs(a - c) < 0.02 and abs(b - d) < 0.02
               for (a, b), (c, d) in zip(pad.strokes[0], ZIGZAG, strict=True))


def test_the_flow_view_pad_clears_keeps_strokes_on_redraw_and_answers_them(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = FlowView(theme.metrics_for(1920, 1080), lambda: Translator("zh_CN"))
    qtbot.addWidget(view)
    view.resize(1920, 1000)
    view.show()
    screen = Screen(ScreenKind.SIGNATURE, "sign", "代办人签名", text="请签名",
                    actions=(Action("back", "返回"), Action("clear", "清除重签"),
                             Action("confirm", "确认签名", primary=True)))
    pending = Pending(screen, threading.Event())
    view.show_screen(pending, portrait=False)
    answers: list[Response] = []
    view.answered.connect(lambda _p, r: answers.append(r))

    (pad,) = view.findChildren(SignaturePad)
    assert pad.width() >= 1000 and pad.height() >= 200  # a large place to sign
    draw_polyline(pad, [(0.2, 0.5), (0.8, 0.6)])
    clear = view.findChild(QPushButton, "action-clear")
    assert clear is not None
    QTest.mouseClick(clear, Qt.MouseButton.LeftButton)
    assert pad.strokes == [] and answers == []  # cleared here; the flow heard nothing

    for stroke in DEMO_SIGNATURE:
        draw_polyline(pad, stroke)
    drawn = [list(s) for s in pad.strokes]
    view.redraw(portrait=False)  # a language or elder-mode switch
    (pad2,) = view.findChildren(SignaturePad)
    assert pad2 is not pad and pad2.strokes == drawn

    confirm = view.findChild(QPushButton, "action-confirm")
    assert confirm is not None
    QTest.mouseClick(confirm, Qt.MouseButton.LeftButton)
    (answer,) = answers
    assert answer.action == "confirm"
    sig = parse_strokes(answer.value)
    assert sig is not None and not sig.trivial() and len(sig.strokes) == len(DEMO_SIGNATURE)


# -- the step: refuses a scribble, keeps a signature ------------------------------------------
def test_the_step_refuses_a_scribble_then_keeps_the_signature(make_runtime, caplog) -> None:  # type: ignore[no-untyped-def]
    """The agent path of 无房证明 by authorisation code, headless: the signature screen
    answered with a tick, then with a name. The strokes are a form answer: never logged."""
    caplog.set_level(logging.DEBUG)
    good = {"strokes": [[[x, y, 1.0 + i] for i, (x, y) in enumerate(s)]
                        for s in DEMO_SIGNATURE], "aspect": 3.2}
    signs: list[Screen] = []

    def answer(s: Screen) -> Response | None:
        if s.kind == ScreenKind.SIGNATURE:
            signs.append(s)
            return Response("confirm", {"strokes": [[[0.4, 0.5], [0.45, 0.6]]], "aspect": 3}
                            if len(signs) == 1 else good)
        if s.kind == ScreenKind.CHOICE:
            return Response({"scope": "agent", "principal_how": "code"}.get(s.step_id,
                                                                             "participation"))
        if s.kind == ScreenKind.KEYBOARD:
            return Response("confirm", "20261218")
        return {ScreenKind.CONSENT: Response("agree"), ScreenKind.INFO: Response("confirm"),
                ScreenKind.PREVIEW: Response("cancel")}.get(s.kind)

    rt = make_runtime()
    session = rt.new_session()
    ui = ScriptedInteraction(session.cancel, answer)
    result = rt.run_flow("no_property", session, ui)
    kept = session.data["agent_signature"]
    assert "agent_sign" in result.steps_run and "preview_agent" in result.steps_run
    assert len(signs) == 2
    assert signs[0].status == ""
    assert signs[1].status == "未能识别为完整签名，请在框内签写您的全名后再确认"
    assert kept["stroke_count"] == len(DEMO_SIGNATURE)
    assert all(len(p) == 2 for s in kept["strokes"] for p in s)  # timestamps stripped
    assert kept["aspect"] == 3.2
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "signature taken" in logged  # the step did log, counts only
    assert kept["path"] not in logged and "M0.12 0.3" not in logged
    assert "'strokes'" not in logged and "[[" not in logged  # no answer dumped


# -- the PDF: vector paths where the template asks ---------------------------------------------
TEMPLATE: dict[str, Any] = {
    "kind": "a4", "page": {"margins_mm": [20, 20, 20, 20], "footer": ""},
    "blocks": [{"type": "signature", "field": "sig", "label": "签名：", "width_mm": 90,
                "height_mm": 30}]}


def _render_png(pdf: bytes, tmp_path: Path, dpi: int) -> Any:
    from PIL import Image

    (tmp_path / "s.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-singlefile", str(tmp_path / "s.pdf"),
                    str(tmp_path / "s")], check=True)
    return Image.open(tmp_path / "s.png").convert("RGB")


@needs_poppler
def test_the_signature_is_drawn_as_vector_paths_where_the_strokes_are(tmp_path) -> None:  # type: ignore[no-untyped-def]
    validate_template(TEMPLATE, "t.toml")
    # A horizontal stroke across the middle and a vertical one on the right: a pad 3:1, in
    # a 90 x 30 mm box, fills it exactly.
    sig = _sig([(0.1, 0.5), (0.5, 0.5), (0.9, 0.5)], [(0.8, 0.1), (0.8, 0.9)])
    assert sig is not None
    pdf = render_a4(TEMPLATE, {"sig": sig.as_data()}, lambda name: tmp_path / name).pdf
    assert b"/Subtype /Image" not in pdf  # paths, not a picture of them
    dpi = 72  # 1 px = 1 pt
    img = _render_png(pdf, tmp_path, dpi)
    mm = 72 / 25.4
    # SimpleDocTemplate's frame: margins plus 6 pt padding; the box sits at the right
    # (8 mm in) and the top of the frame.
    frame_left, frame_top = 20 * mm + 6, 20 * mm + 6
    frame_w = img.width - 2 * (20 * mm + 6)
    box_x, box_y, box_w, box_h = frame_left + frame_w - 90 * mm - 8 * mm, frame_top, \
        90 * mm, 30 * mm

    def ink(fx: float, fy: float) -> bool:
        """Dark pixels within 2 px of a point given in 0..1 of the box."""
        cx, cy = round(box_x + fx * box_w), round(box_y + fy * box_h)
        return any(sum(img.getpixel((x, y))) < 300
                   for x in range(cx - 2, cx + 3) for y in range(cy - 2, cy + 3))

    for fx in (0.15, 0.3, 0.45, 0.6, 0.85):
        assert ink(fx, 0.5), f"no ink on the horizontal stroke at {fx}"
    for fy in (0.2, 0.35, 0.7, 0.85):
        assert ink(0.8, fy), f"no ink on the vertical stroke at {fy}"
    for fx, fy in ((0.3, 0.2), (0.3, 0.8), (0.6, 0.25), (0.95, 0.5), (0.05, 0.5)):
        assert not ink(fx, fy), f"ink where no stroke is: {fx}, {fy}"


def test_a_signature_block_is_checked_when_the_package_loads() -> None:
    with pytest.raises(TemplateSchemaError, match=r"blocks\[0\]\.field: is required"):
        validate_template({"kind": "a4", "blocks": [{"type": "signature"}]}, "t.toml")
    with pytest.raises(TemplateSchemaError, match=r"height_mm: must be a number"):
        validate_template({"kind": "a4", "blocks": [{"type": "signature", "field": "s",
                                                     "height_mm": 500}]}, "t.toml")


def test_a_request_with_the_principals_masked_number_is_refused_at_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A principal named by an authorisation code is a person like a companion: a request
    that would send `{principal.id_number}` (masked) to the platform does not load."""
    from flowpacks import BUILTIN_DIR
    from kiosk.flows.model import DefinitionError
    from kiosk.flows.package import load_package

    pkg = tmp_path / "pkg"
    shutil.copytree(BUILTIN_DIR, pkg)
    flow = pkg / "flows" / "no_property.toml"
    text = flow.read_text(encoding="utf-8")
    # The card path names its principal too; take it out, so only the code step does.
    start = text.index('[[steps]]\nid = "principal_card"')
    end = text.index('[[steps]]\nid = "principal_code"')
    text = text[:start] + text[end:].replace('on = { card = "principal_card", ', 'on = { ')
    text = text.replace('on = { card = "principal_card", code', 'on = { code')
    text = text.replace('request = { id_number = "{principal.full.id_number}" }',
                        'request = { id_number = "{principal.id_number}" }')
    text = text.replace('{ id = "card", label = "flow.no_property.agent.how.card" },\n', '')
    flow.write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"\{principal.id_number\} is masked"):
        load_package(pkg)
