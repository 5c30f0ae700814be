"""Find faces and their 5 landmarks; cut aligned face chips for the descriptor model."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kiosk.face.image import fit, to_rgb
from kiosk.face.models import FaceModels, load_models
from kiosk.face.types import FaceBox, FaceError, FaceObservation, Landmarks5, MultiFacePolicy

CHIP_SIZE = 150  # what the ResNet model expects
CHIP_PADDING = 0.25


@dataclass(frozen=True)
class DetectOptions:
    upsample: int = 0  # 0 finds faces from about 80 px; 1 from about 40 px (4x slower)
    max_side: int = 1024  # pictures are scaled down to this before detection
    min_face_px: int = 60  # smaller faces (in the original picture) are too far away
    policy: MultiFacePolicy = MultiFacePolicy.LARGEST
    # With LARGEST, a second face at least this fraction of the largest one's area makes
    # the picture ambiguous (two people side by side): refuse rather than guess.
    ambiguous_ratio: float = 0.6
    retry_upsampled: bool = False  # no face found: look again with upsample + 1


STILL = DetectOptions(upsample=0, retry_upsampled=True, min_face_px=40,
                      policy=MultiFacePolicy.LARGEST)
LIVE = DetectOptions(upsample=0, max_side=640)


@dataclass(frozen=True)
class Analysis:
    """Faces found in a picture; `image` is the (scaled) RGB picture they refer to."""

    image: np.ndarray = field(repr=False, compare=False)
    scale: float
    faces: tuple[FaceObservation, ...]


class FaceEngine:
    """Detection and landmarks (both release the GIL inside dlib)."""

    def __init__(self, models: FaceModels | None = None) -> None:
        self._models = models

    @property
    def models(self) -> FaceModels:
        if self._models is None:
            self._models = load_models()
        return self._models

    def analyze(self, image: Any, opts: DetectOptions = LIVE, order: str = "rgb") -> Analysis:
        """All faces in a picture (largest first), with landmarks."""
        rgb = to_rgb(image, order)
        small, scale = fit(rgb, opts.max_side)
        m = self.models
        rects = list(m.detector(small, opts.upsample))
        if not rects and opts.retry_upsampled:
            rects = list(m.detector(small, opts.upsample + 1))
        faces = []
        for r in rects:
            shape = m.shape5(small, r)
            pts = tuple((float(shape.part(i).x), float(shape.part(i).y)) for i in range(5))
            faces.append(FaceObservation(FaceBox(r.left(), r.top(), r.right(), r.bottom()),
                                         Landmarks5(pts), shape))
        faces.sort(key=lambda f: f.box.area, reverse=True)
        return Analysis(small, scale, tuple(faces))

    @staticmethod
    def select(analysis: Analysis, opts: DetectOptions) -> FaceObservation:
        """The one face to use, or FaceError no_face / multiple_faces / face_too_small."""
        faces = analysis.faces
        if not faces:
            raise FaceError("face.no_face", "no face found")
        if len(faces) > 1:
            if opts.policy is MultiFacePolicy.REFUSE:
                raise FaceError("face.multiple_faces", f"{len(faces)} faces")
            if faces[1].box.area >= opts.ambiguous_ratio * faces[0].box.area:
                raise FaceError("face.multiple_faces",
                                f"{len(faces)} faces of similar size")
        face = faces[0]
        if face.box.width / analysis.scale < opts.min_face_px:
            raise FaceError("face.face_too_small",
                            f"face {face.box.width / analysis.scale:.0f} px wide")
        return face

    def find_face(self, image: Any, opts: DetectOptions = STILL,
                  order: str = "rgb") -> tuple[Analysis, FaceObservation]:
        analysis = self.analyze(image, opts, order)
        return analysis, self.select(analysis, opts)

    @staticmethod
    def chip(analysis: Analysis, face: FaceObservation) -> np.ndarray:
        """The face rotated, scaled and cropped the way the descriptor model was trained."""
        import dlib

        return np.ascontiguousarray(dlib.get_face_chip(analysis.image, face.shape,
                                                       size=CHIP_SIZE, padding=CHIP_PADDING))


_shared: FaceEngine | None = None
_shared_lock = threading.Lock()


def shared_engine() -> FaceEngine:
    """The kiosk's face engine; its models load on first use, not at start-up."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FaceEngine()
        return _shared
