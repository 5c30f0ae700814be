"""The head-turn challenge on landmark sequences, then on frames made from real photos."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from kiosk.face.liveness import HeadTurnChallenge, LivenessSettings, Phase
from kiosk.face.types import FaceBox, FaceObservation, Landmarks5


def face_at(yaw: float, x0: float = 100.0, scale: float = 1.0, bias: float = 0.0
            ) -> FaceObservation:
    """A face whose nose sits `yaw + bias` eye distances right of the eyes' midpoint."""
    eyes = ((140.0, 100.0), (120.0, 100.0), (60.0, 100.0), (80.0, 100.0))
    nose = (100.0 + (yaw + bias) * 60.0, 140.0)
    pts = tuple(((x - 100) * scale + x0, y * scale) for x, y in (*eyes, nose))
    return FaceObservation(FaceBox(40, 40, 160, 160), Landmarks5(pts))


def run(challenge: HeadTurnChallenge, yaws: Sequence[float | None], dt: float = 0.1,
        **kw) -> list[Phase]:  # type: ignore[no-untyped-def]
    phases = []
    for i, y in enumerate(yaws):
        st = challenge.feed(None if y is None else face_at(y, **kw), i * dt, bytes([i % 251]))
        phases.append(st.phase)
    return phases


LIVE = [0.0, 0.01, -0.01, 0.0, 0.08, 0.15, 0.18, 0.17, 0.05, -0.08, -0.16, -0.19, -0.1,
        0.0, 0.01, 0.0]


def test_left_right_back_passes() -> None:
    c = HeadTurnChallenge()
    phases = run(c, LIVE)
    assert phases[-1] is Phase.PASSED
    # In order: baseline, then left, then right, then back to the middle.
    firsts = [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] is not p]
    assert firsts == [Phase.BASELINE, Phase.TURN_LEFT, Phase.TURN_RIGHT, Phase.CENTER,
                      Phase.PASSED]


def test_relative_to_the_sessions_own_baseline() -> None:
    # A face (or camera angle) with a natural offset of 0.15 still passes the same moves,
    # and the offset alone is not taken for a turn.
    assert run(HeadTurnChallenge(), LIVE, bias=0.15)[-1] is Phase.PASSED
    assert run(HeadTurnChallenge(), [0.0] * 20, bias=0.15)[-1] is Phase.TURN_LEFT


def test_a_head_already_turned_is_no_baseline() -> None:
    # Steady, but turned: waiting for the citizen to look straight at the camera.
    c = HeadTurnChallenge()
    assert run(c, [0.3] * 10)[-1] is Phase.BASELINE and c.baseline is None
    assert run(HeadTurnChallenge(), [0.3] * 5 + LIVE)[-1] is Phase.PASSED


def test_wrong_order_or_small_moves_do_not_pass() -> None:
    assert run(HeadTurnChallenge(), [-y for y in LIVE])[-1] is not Phase.PASSED
    assert run(HeadTurnChallenge(), [y / 2 for y in LIVE])[-1] is not Phase.PASSED


def test_one_noisy_frame_is_not_a_turn() -> None:
    spikes = [0.0] * 4 + [0.3, 0.0, -0.3, 0.0] * 3
    assert run(HeadTurnChallenge(), spikes)[-1] is Phase.TURN_LEFT


def test_mirrored_camera_swaps_directions() -> None:
    mirrored = HeadTurnChallenge(LivenessSettings(mirrored=True))
    assert run(mirrored, [-y for y in LIVE])[-1] is Phase.PASSED


def test_moving_the_whole_face_is_not_a_turn() -> None:
    c = HeadTurnChallenge()
    for i in range(40):  # a photo slid about and brought closer: positions and scale change
        st = c.feed(face_at(0.0, x0=100 + 30 * np.sin(i), scale=1 + 0.02 * i), i * 0.1,
                    bytes([i]))
    assert st.phase is Phase.TURN_LEFT


def test_repeated_still_fails_as_frozen() -> None:
    c = HeadTurnChallenge(LivenessSettings(frozen_frames=10))
    still = face_at(0.0)
    phases = [c.feed(still, i * 0.1, b"same picture").phase for i in range(12)]
    assert phases[-1] is Phase.FAILED and c.reason == "frozen"
    assert Phase.FAILED not in phases[:8]


def test_timeout() -> None:
    c = HeadTurnChallenge(LivenessSettings(timeout_s=2.0))
    phases = run(c, [0.0] * 30, dt=0.1)
    assert phases[-1] is Phase.FAILED and c.reason == "timeout"
    assert c.feed(face_at(0.2), 100.0).phase is Phase.FAILED  # stays failed


def test_no_face_frames_wait() -> None:
    c = HeadTurnChallenge()
    phases = run(c, [None, None, *LIVE[:4], None, *LIVE[4:]])
    assert phases[-1] is Phase.PASSED


def test_unstable_baseline_waits_for_a_steady_face() -> None:
    c = HeadTurnChallenge()
    assert run(c, [0.0, 0.2, -0.2, 0.1, -0.1])[-1] is Phase.BASELINE
    assert c.baseline is None


@pytest.mark.parametrize("degrees", [30.0])
def test_synthetic_head_turn_moves_the_yaw(engine, degrees: float) -> None:
    """The warp used by the camera tests really turns the measured head (both ways)."""
    from face_synth import frame_of, landmarks, turn

    base = frame_of("obama_1.jpg")
    pts = landmarks(engine, base)

    def yaw(img: np.ndarray) -> float:
        from face_synth import STILL

        _, face = engine.find_face(img, STILL, order="bgr")
        return face.landmarks.yaw_ratio

    y0 = yaw(base)
    assert yaw(turn(base, pts, degrees)) - y0 > 0.12
    assert yaw(turn(base, pts, -degrees)) - y0 < -0.12


def test_tilted_photo_does_not_turn(engine) -> None:  # type: ignore[no-untyped-def]
    """A flat print turned left then right keeps the nose in its plane: no pass."""
    from face_synth import STILL, frame_of, jitter, tilt_photo

    base = frame_of("obama_1.jpg")
    c = HeadTurnChallenge()
    angles = [0, 0, 0, 0, 15, 30, 35, 30, 15, 0, -15, -30, -35, -30, -15, 0, 0, 0]
    for i, a in enumerate(angles * 2):
        img = jitter(tilt_photo(base, a, shift=(a * 2, 0)), i)
        analysis = engine.analyze(img, STILL, order="bgr")
        face = analysis.faces[0] if analysis.faces else None
        st = c.feed(face, i * 0.1, img[::16, ::16].tobytes())
    assert st.phase is not Phase.PASSED
