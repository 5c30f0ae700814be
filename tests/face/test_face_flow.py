"""QR identification and face verification as flow steps, against the reference backend.

The scanner and camera are the simulators (in-process peers); the platform is the real
reference backend over HTTP, serving reference photos from the shared test folder.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest
from face_synth import frame_of, head_turn_sequence

from kiosk.flows.context import FlowContext
from kiosk.flows.interaction import ScriptedInteraction
from kiosk.flows.model import parse_flow
from kiosk.flows.screens import Response, Screen, ScreenKind
from reference_backend.identity import demo_identity_qr

FLOW: dict[str, Any] = {
    "id": "face_test", "title": "face.title",
    "steps": [
        {"id": "identify", "type": "identify", "methods": ["qr"], "timeout_s": 20},
        {"id": "face", "type": "verify_face", "timeout_s": 90, "liveness_timeout_s": 80,
         "on": {"fallback": "card"}},
        {"id": "welcome", "type": "finish", "on": {"done": "__end__"}},
        {"id": "card", "type": "identify", "methods": ["id_card"], "timeout_s": 5},
        {"id": "bye", "type": "finish"},
    ],
}


def flow_def(**face_params: Any):  # type: ignore[no-untyped-def]
    steps = [dict(s) for s in FLOW["steps"]]
    steps[1].update(face_params)
    if face_params.pop("no_fallback", False):
        steps[1].pop("on")
    steps[1].pop("no_fallback", None)
    return parse_flow({**FLOW, "steps": steps}, "test.toml")


class Citizen:
    """Answers screens like a person: shows codes to the scanner, taps buttons."""

    def __init__(self, rt, codes: list[str], taps: dict[ScreenKind, str] | None = None) -> None:  # type: ignore[no-untyped-def]
        self.rt, self.codes = rt, list(codes)
        self.taps = {ScreenKind.RESULT: "done", ScreenKind.ERROR: "home", **(taps or {})}
        self.screens: list[Screen] = []
        self._stop = threading.Event()

    def answer(self, s: Screen) -> Response | None:
        self.screens.append(s)
        if s.kind == ScreenKind.IDENTIFY and s.step_id == "identify" and not s.status:
            threading.Thread(target=self._show_codes, daemon=True).start()
        tap = self.taps.get(s.kind)
        return Response(tap) if tap else None

    def _show_codes(self) -> None:
        for code in self.codes:
            n = len(self.screens)
            time.sleep(0.3)  # the method is listening by now
            self.rt.devices["scanner"].scan(code)
            end = time.monotonic() + 5
            while len(self.screens) == n and time.monotonic() < end:
                time.sleep(0.02)  # wait for the terminal's answer before the next code


def run_flow(rt, flow, citizen: Citizen, session=None):  # type: ignore[no-untyped-def]
    session = session or rt.new_session()
    ui = ScriptedInteraction(session.cancel, citizen.answer)
    records: list[tuple[str, dict]] = []
    ctx = FlowContext(flow=flow, package=rt.package, session=session, ui=ui,
                      devices=rt.devices.devices, backend=rt.backend,
                      terminal={"id": "T"}, recorder=lambda s, p: records.append((s, p)))
    return rt.engine.run(ctx), session, records


@pytest.fixture(scope="module")
def biden_turning(engine) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    return head_turn_sequence(engine, "biden_2.jpg", hold=4, repeat=2)


@pytest.fixture
def kiosk(make_runtime):  # type: ignore[no-untyped-def]
    return make_runtime(idcard="sim://?card=li", scanner="sim://?dedup_ms=0",
                        camera="sim://?fps=12")


def test_qr_then_live_face_verified(kiosk, biden_turning) -> None:  # type: ignore[no-untyped-def]
    kiosk.devices["camera"].play(biden_turning)
    citizen = Citizen(kiosk, [demo_identity_qr("li")])  # li's reference photo: biden_1.jpg
    result, session, records = run_flow(kiosk, flow_def(), citizen)
    assert result.outcome == "completed", (result, [s.status for s in citizen.screens])
    assert result.steps_run == ("identify", "face", "welcome")
    camera_screens = [s for s in citizen.screens if s.kind == ScreenKind.CAMERA]
    assert camera_screens and camera_screens[0].camera is kiosk.devices["camera"]
    assert {"left", "right"} <= {s.guide for s in camera_screens}
    said = [s.status for s in camera_screens]
    said = [x for i, x in enumerate(said) if i == 0 or said[i - 1] != x]
    assert said[:4] == ["请正视摄像头，将面部放入框内", "请缓慢向左转头", "请缓慢向右转头",
                        "请转回正面，看向摄像头"]
    assert session.data["face"]["verified"] is True
    assert 0 < session.data["face"]["distance"] < 0.6
    audits = [p for s, p in records if s == "audit"]
    assert audits and audits[-1]["outcome"] == "face.verified"
    # Only numbers are kept: no picture, no descriptor in the session or the records.
    assert not any(isinstance(v, np.ndarray | bytes) for v in session.data["face"].values())
    assert all("image" not in p and "descriptor" not in p for _, p in records)


def test_someone_else_falls_back_to_the_card(kiosk, engine) -> None:  # type: ignore[no-untyped-def]
    kiosk.devices["camera"].play(head_turn_sequence(engine, "obama_1.jpg", hold=4, repeat=2))
    citizen = Citizen(kiosk, [demo_identity_qr("li")])
    result, session, records = run_flow(kiosk, flow_def(), citizen)
    assert result.outcome == "completed"
    assert result.steps_run == ("identify", "face", "card", "bye")
    assert "face" not in session.data
    assert [p["outcome"] for s, p in records if s == "audit"] == ["face.mismatch"]


def test_a_photo_held_up_falls_back(kiosk) -> None:  # type: ignore[no-untyped-def]
    kiosk.devices["camera"].play([frame_of("biden_2.jpg")])  # the right face, but a still
    citizen = Citizen(kiosk, [demo_identity_qr("li")])
    result, _, records = run_flow(kiosk, flow_def(), citizen)
    assert result.steps_run == ("identify", "face", "card", "bye")
    assert [p["outcome"] for s, p in records if s == "audit"] == ["face.liveness_failed"]


def test_citizen_chooses_another_way(kiosk) -> None:  # type: ignore[no-untyped-def]
    kiosk.devices["camera"].play([frame_of("biden_2.jpg")])
    citizen = Citizen(kiosk, [demo_identity_qr("li")], taps={ScreenKind.CAMERA: "other"})
    result, _, records = run_flow(kiosk, flow_def(liveness_timeout_s=60), citizen)
    assert result.steps_run == ("identify", "face", "card", "bye")
    assert [p["outcome"] for s, p in records if s == "audit"] == ["face.other_method"]


def test_no_reference_photo_falls_back(kiosk) -> None:  # type: ignore[no-untyped-def]
    citizen = Citizen(kiosk, [demo_identity_qr("nobody")])  # the platform has no photo
    result, _, records = run_flow(kiosk, flow_def(), citizen)
    assert result.steps_run == ("identify", "face", "card", "bye")
    assert [p["outcome"] for s, p in records if s == "audit"] == ["face.no_reference"]


def test_missing_camera_falls_back(make_runtime) -> None:  # type: ignore[no-untyped-def]
    rt = make_runtime(idcard="sim://?card=li", scanner="sim://", camera="opencv://9")
    citizen = Citizen(rt, [demo_identity_qr("li")])
    result, _, records = run_flow(rt, flow_def(), citizen)
    assert result.steps_run == ("identify", "face", "card", "bye")
    assert [p["outcome"] for s, p in records if s == "audit"] == ["face.camera_unavailable"]
    assert not any(s.kind == ScreenKind.CAMERA for s in citizen.screens)


def test_without_fallback_a_failure_offers_retry(kiosk) -> None:  # type: ignore[no-untyped-def]
    citizen = Citizen(kiosk, [demo_identity_qr("nobody")])
    result, _, _ = run_flow(kiosk, flow_def(no_fallback=True), citizen)
    assert result.outcome == "failed" and result.error_key == "face.no_reference"
    err = next(s for s in citizen.screens if s.kind == ScreenKind.ERROR)
    assert err.text == "暂无可用于核验的照片，请改用其他方式办理"
    assert "retry" in [a.id for a in err.actions]


def test_verify_face_needs_an_identity(kiosk) -> None:  # type: ignore[no-untyped-def]
    flow = parse_flow({"id": "f", "title": "face.title",
                       "steps": [{"id": "face", "type": "verify_face"}]}, "t.toml")
    result, _, _ = run_flow(kiosk, flow, Citizen(kiosk, []))
    assert result.outcome == "failed" and result.error_key == "face.no_identity"


# -- QR identification ------------------------------------------------------------------------
def test_qr_messages_then_identified(kiosk, backend) -> None:  # type: ignore[no-untyped-def]
    import requests

    short = requests.post(f"{backend.url}/_admin/identity/qr", json={"citizen": "chen",
                                                                     "ttl_s": 0.5},
                          headers={"X-Admin-Token": backend.admin_token}, timeout=5).json()
    time.sleep(0.6)  # the phone's code ran out
    codes = ["https://example.org/not-ours", "GJZW:ID:ZZZZZZZZZZZZZZZZ", short["qr"],
             demo_identity_qr("wang", expired=True), demo_identity_qr("chen")]
    citizen = Citizen(kiosk, codes)
    flow = parse_flow({"id": "q", "title": "face.title", "steps": [
        {"id": "identify", "type": "identify", "methods": ["qr"], "timeout_s": 20},
        {"id": "bye", "type": "finish"}]}, "q.toml")
    result, session, _ = run_flow(kiosk, flow, citizen)
    assert result.outcome == "completed", [s.status for s in citizen.screens]
    statuses = [s.status for s in citizen.screens if s.kind == ScreenKind.IDENTIFY and s.status]
    wanted = ["无法识别该二维码，请出示政务App中的身份码或预约码",
              "未查询到该二维码的信息，请刷新身份码后重新扫码",
              "二维码已过期，请在App中刷新后重新扫码"]
    assert [w for w in wanted if w in statuses] == wanted
    assert session.identity.masked_name == "陈**"
    assert session.identity.source.value == "qr" and "identity" not in session.data


def test_appointment_qr_identifies_and_keeps_the_appointment(kiosk) -> None:  # type: ignore[no-untyped-def]
    from synthetic.services import appointment_qr

    citizen = Citizen(kiosk, [appointment_qr("li"), appointment_qr("chen")])  # li's is over
    flow = parse_flow({"id": "q", "title": "face.title", "steps": [
        {"id": "identify", "type": "identify", "methods": ["qr"], "timeout_s": 20},
        {"id": "bye", "type": "finish"}]}, "q.toml")
    result, session, _ = run_flow(kiosk, flow, citizen)
    assert result.outcome == "completed"
    assert "二维码已过期，请在App中刷新后重新扫码" in [s.status for s in citizen.screens]
    assert session.data["appointment"]["category"] == "ss"
    assert session.identity.masked_name == "陈**"


def test_qr_method_needs_scanner_and_platform(make_runtime) -> None:  # type: ignore[no-untyped-def]
    from kiosk.flows.steps.identify import IDENTIFY_METHODS

    rt = make_runtime(scanner="sim://")
    session = rt.new_session()
    ctx = FlowContext(flow=flow_def(), package=rt.package, session=session,
                      ui=ScriptedInteraction(session.cancel, lambda s: None),
                      devices=rt.devices.devices, backend=rt.backend)
    assert IDENTIFY_METHODS["qr"](ctx, {}).available()
    rt.devices["scanner"].unplug()
    assert not IDENTIFY_METHODS["qr"](ctx, {}).available()
    ctx.backend = None
    rt.devices["scanner"].replug()
    assert not IDENTIFY_METHODS["qr"](ctx, {}).available()


@pytest.mark.parametrize("params,problem", [
    ({"reference": "passport"}, "reference"), ({"threshold": 3}, "threshold"),
    ({"timeout_s": 0}, "timeout_s"), ({"colour": "red"}, "colour")])
def test_verify_face_definition_errors(params, problem) -> None:  # type: ignore[no-untyped-def]
    from flowpacks import BUILTIN_DIR
    from kiosk.flows.model import DefinitionError, StepDef
    from kiosk.flows.package import load_package
    from kiosk.flows.steps import STEP_TYPES

    pkg = load_package(BUILTIN_DIR)
    with pytest.raises(DefinitionError) as err:
        STEP_TYPES["verify_face"].validate(StepDef("face", "verify_face", params), pkg,
                                           "f.toml", "steps[1]")
    assert problem in err.value.path
