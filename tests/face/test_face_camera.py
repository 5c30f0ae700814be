"""Face checks through the real capture stack: OpenCV reading clips made from the photos."""

from __future__ import annotations

import threading

import pytest
from face_synth import frame_of, head_turn_sequence

from kiosk.devices.registry import create_device
from kiosk.face.liveness import LivenessSettings
from kiosk.face.session import FaceCheck, FaceCheckSettings, Outcome


@pytest.fixture
def camera_from():  # type: ignore[no-untyped-def]
    opened = []

    def make(uri: str):  # type: ignore[no-untyped-def]
        cam = create_device("camera", uri)
        cam.open()
        opened.append(cam)
        return cam

    yield make
    for cam in opened:
        cam.close()


def run_check(camera, reference, engine, describer, **kw):  # type: ignore[no-untyped-def]
    unsubscribe = camera.subscribe(lambda f: None)
    try:
        return FaceCheck(reference, FaceCheckSettings(**kw), engine, describer).run(
            camera, threading.Event())
    finally:
        unsubscribe()


def test_head_turn_video_is_verified(tmp_path, engine, process_describer, describe,
                                     camera_from) -> None:  # type: ignore[no-untyped-def]
    import cv2

    frames = head_turn_sequence(engine, "obama_1.jpg", hold=4, repeat=2)
    path = tmp_path / "turn.avi"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 8, (640, 480))
    for f in frames:
        out.write(f)
    out.release()
    cam = camera_from(f"opencv://{path}?fps=8")
    result = run_check(cam, describe("obama_2.jpg"), engine, process_describer, timeout_s=90,
                       challenge=LivenessSettings(timeout_s=80))
    assert result.outcome is Outcome.VERIFIED, result


def test_still_image_sequence_fails_liveness(tmp_path, engine, process_describer, describe,
                                             camera_from) -> None:  # type: ignore[no-untyped-def]
    import cv2

    folder = tmp_path / "still"
    folder.mkdir()
    still = frame_of("obama_1.jpg")
    for i in range(3):
        cv2.imwrite(str(folder / f"{i:03d}.png"), still)
    cam = camera_from(f"opencv://{folder}/%03d.png?fps=25")
    result = run_check(cam, describe("obama_2.jpg"), engine, process_describer)
    assert result.outcome is Outcome.LIVENESS_FAILED and result.reason == "frozen"
