"""Synthetic camera footage made from the test face photos, at test time, in memory.

`turn()` simulates a head turning about its vertical axis with a 2.5-D warp: the nose
(which stands out of the face) moves sideways more than the eyes, and the face is
foreshortened. `tilt_photo()` simulates a flat photo held up and turned (a homography):
every point lies in one plane, nose included.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from kiosk.face.engine import STILL, FaceEngine
from kiosk.face.image import load_image

# The photos live in the repository (tests/data/faces, licences in its README);
# $KIOSK_FACE_TESTDATA points at another folder of the same shape.
FACES = Path(os.environ.get("KIOSK_FACE_TESTDATA")
             or Path(__file__).resolve().parents[1] / "data" / "faces")
SIZE = (640, 480)


def frame_of(name: str) -> np.ndarray:
    """A 640x480 BGR camera frame with the photo letterboxed into it."""
    rgb = load_image(FACES / name)
    h, w = rgb.shape[:2]
    s = min(SIZE[0] / w, SIZE[1] / h)
    small = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    out = np.full((SIZE[1], SIZE[0], 3), 70, np.uint8)
    y, x = (SIZE[1] - small.shape[0]) // 2, (SIZE[0] - small.shape[1]) // 2
    out[y:y + small.shape[0], x:x + small.shape[1]] = small
    return np.ascontiguousarray(out[:, :, ::-1])


def landmarks(engine: FaceEngine, bgr: np.ndarray) -> np.ndarray:
    analysis, face = engine.find_face(bgr, STILL, order="bgr")
    return np.array(face.landmarks.points) / analysis.scale


def turn(bgr: np.ndarray, pts: np.ndarray, degrees: float) -> np.ndarray:
    """The face turned by about `degrees` (positive: to the person's own left)."""
    h, w = bgr.shape[:2]
    right_eye, left_eye = (pts[0] + pts[1]) / 2, (pts[2] + pts[3]) / 2
    iod = float(np.linalg.norm(right_eye - left_eye))
    nose = pts[4]
    c = (right_eye + left_eye) / 4 + nose / 2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    face = np.exp(-(((xx - c[0]) / (1.3 * iod)) ** 2 + ((yy - c[1]) / (1.8 * iod)) ** 2))
    ridge = np.exp(-(((xx - nose[0]) / (0.4 * iod)) ** 2
                     + ((yy - (nose[1] - 0.25 * iod)) / (0.55 * iod)) ** 2))
    t = np.radians(degrees)
    disp = 0.7 * iod * ridge * np.sin(t) + (xx - c[0]) * (np.cos(t) - 1) * face
    return cv2.remap(bgr, (xx - disp).astype(np.float32), yy, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def tilt_photo(bgr: np.ndarray, degrees: float, shift: tuple[float, float] = (0, 0),
               distance: float = 3.0) -> np.ndarray:
    """A flat print of the picture turned about its vertical axis (and moved)."""
    h, w = bgr.shape[:2]
    f = distance * w
    t = np.radians(degrees)
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    out = []
    for x, y in corners:
        px, pz = (x - w / 2) * np.cos(t), (x - w / 2) * np.sin(t) + f  # the corner in 3-D
        out.append([w / 2 + f * px / pz + shift[0], h / 2 + f * (y - h / 2) / pz + shift[1]])
    m = cv2.getPerspectiveTransform(corners, np.array(out, np.float32))
    return cv2.warpPerspective(bgr, m, (w, h), borderMode=cv2.BORDER_CONSTANT,
                               borderValue=(70, 70, 70))


def jitter(bgr: np.ndarray, k: int) -> np.ndarray:
    """A live camera never gives the very same picture twice: sensor noise and sway."""
    rng = np.random.default_rng(k)
    moved = np.roll(bgr, (k % 3) - 1, axis=1)
    noise = rng.integers(-3, 4, bgr.shape, dtype=np.int16)
    return np.clip(moved.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def head_turn_sequence(engine: FaceEngine, name: str, degrees: float = 30.0,
                       step: float = 10.0, hold: int = 2, repeat: int = 1) -> list[np.ndarray]:
    """Look, turn left, turn right, look back: the frames a live citizen would give."""
    base = frame_of(name)
    pts = landmarks(engine, base)
    ramp_up = list(np.arange(step, degrees + 0.1, step))
    angles = [0.0] * 5 + ramp_up + [degrees] * hold + ramp_up[::-1] + [0.0] + \
        [-a for a in ramp_up] + [-degrees] * hold + [-a for a in ramp_up[::-1]] + [0.0] * 6
    angles = [a for a in angles for _ in range(repeat)]  # a slower citizen
    return [jitter(turn(base, pts, a) if a else base, k) for k, a in enumerate(angles)]
