"""A whole face check over frames made from the shared photos (liveness + agreement)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from face_synth import frame_of, head_turn_sequence, jitter, tilt_photo

from kiosk.face.session import FaceCheck, FaceCheckResult, FaceCheckSettings, Outcome, Progress


def check_frames(reference, frames, engine, describer, dt: float = 0.2,
                 **settings) -> tuple[FaceCheckResult | None, list[Progress]]:
    fc = FaceCheck(reference, FaceCheckSettings(**settings), engine, describer)
    seen: list[Progress] = []
    for i, f in enumerate(frames):
        out = fc.step(f, i * dt)
        if isinstance(out, FaceCheckResult):
            return out, seen
        if not seen or seen[-1] != out:
            seen.append(out)
    return None, seen


@pytest.fixture(scope="module")
def obama_turning(engine) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    return head_turn_sequence(engine, "obama_1.jpg")


def test_live_head_turn_of_the_right_person_is_verified(engine, describer, describe,
                                                        obama_turning) -> None:
    result, seen = check_frames(describe("obama_2.jpg"), obama_turning, engine, describer)
    assert result is not None and result.outcome is Outcome.VERIFIED, (result, seen)
    assert result.distance < 0.6 and result.compared == 3  # after the turns only
    guides = [p.guide for p in seen]
    assert guides.index("left") < guides.index("right")
    prompts = [p.prompt for p in seen]
    assert prompts[0] == "face.prompt.look" and "face.prompt.turn_left" in prompts


def test_live_head_turn_of_someone_else_is_refused(engine, describer, describe) -> None:
    frames = head_turn_sequence(engine, "biden_2.jpg")
    result, _ = check_frames(describe("obama_2.jpg"), frames, engine, describer)
    assert result is not None and result.outcome is Outcome.MISMATCH
    assert result.distance > 0.6


def test_a_face_that_jumps_restarts_the_challenge(engine, describer, describe,
                                                  obama_turning) -> None:
    # After the turns, the face shows up somewhere else (another person steps in, a photo
    # is pushed in front): the challenge starts again instead of verifying that face.
    swapped = obama_turning[:-6] + [np.roll(f, 260, axis=1) for f in obama_turning[-6:]]
    result, seen = check_frames(describe("obama_2.jpg"), swapped, engine, describer)
    assert result is None
    assert seen[-1].prompt in ("face.prompt.look", "face.prompt.turn_left")


def test_repeated_still_fails(engine, describer, describe) -> None:  # type: ignore[no-untyped-def]
    still = frame_of("obama_1.jpg")
    result, _ = check_frames(describe("obama_2.jpg"), [still] * 30, engine, describer)
    assert result is not None and result.outcome is Outcome.LIVENESS_FAILED
    assert result.reason == "frozen"


def test_the_same_still_passes_only_without_liveness(engine, describer, describe) -> None:
    still = frame_of("obama_1.jpg")
    result, _ = check_frames(describe("obama_2.jpg"), [still] * 10, engine, describer,
                             liveness=False)
    assert result is not None and result.outcome is Outcome.VERIFIED


def test_photo_held_up_and_moved_times_out(engine, describer, describe) -> None:
    base = frame_of("obama_1.jpg")
    angles = [0, 0, 0, 10, 20, 30, 20, 10, 0, -10, -20, -30, -20, -10, 0]
    frames = [jitter(tilt_photo(base, a, (3 * a, 0)), i) for i, a in enumerate(angles * 5)]
    result, _ = check_frames(describe("obama_2.jpg"), frames, engine, describer, dt=0.4)
    assert result is not None and result.outcome is Outcome.LIVENESS_FAILED
    assert result.reason == "timeout"


def test_no_face_and_crowd_prompts(engine, describer, describe, faces_dir) -> None:
    wall = np.full((480, 640, 3), 120, np.uint8)
    result, seen = check_frames(describe("obama_2.jpg"), [jitter(wall, i) for i in range(5)],
                                engine, describer)
    assert result is None and seen[0].prompt == "face.prompt.no_face" and not seen[0].face


def test_run_over_a_frame_feed_and_cancel(engine, describer, describe, obama_turning) -> None:
    from kiosk.devices.camera.api import Frame

    class Feed:
        def __init__(self, frames) -> None:  # type: ignore[no-untyped-def]
            self.frames = frames

        def wait_frame(self, after_seq: int, timeout: float) -> Frame | None:
            if after_seq >= len(self.frames):
                return None  # the camera went away
            return Frame(after_seq + 1, 0.0, self.frames[after_seq])

    fc = FaceCheck(describe("obama_2.jpg"), FaceCheckSettings(), engine, describer)
    progress: list[Progress] = []
    result = fc.run(Feed(obama_turning), threading.Event(), progress.append,
                    clock=iter(np.arange(0, 100, 0.2)).__next__)
    assert result.outcome is Outcome.VERIFIED and progress
    with pytest.raises(RuntimeError):
        fc.step(obama_turning[0], 0.0)  # wiped: the reference is gone

    lost = FaceCheck(describe("obama_2.jpg"), FaceCheckSettings(camera_lost_s=0.1), engine,
                     describer).run(Feed(obama_turning[:3]), threading.Event())
    assert lost.outcome is Outcome.CAMERA_LOST
    stop = threading.Event()
    stop.set()
    cancelled = FaceCheck(describe("obama_2.jpg"), FaceCheckSettings(), engine,
                          describer).run(Feed(obama_turning), stop)
    assert cancelled.outcome is Outcome.CANCELLED and cancelled.key == "face.cancelled"
