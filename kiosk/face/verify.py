"""1:1 verification: distances, the threshold, agreement over frames, calibration.

The default threshold 0.60 was calibrated on the test photos
(`tests/data/faces/pairs.csv`, 20 same-person and 45 different-person pairs): with this
pipeline same-person distances reach at most 0.531 and different-person distances
start at 0.682, so 0.60 sits in the gap (the midpoint is 0.607; 0.60 is also dlib's
published operating point) and decides all 65 pairs correctly. `kiosk face calibrate`
re-measures this on a terminal's own photos.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.face.describer import Describer, InProcessDescriber
from kiosk.face.engine import STILL, DetectOptions, FaceEngine
from kiosk.face.image import load_image
from kiosk.face.types import FaceError

DEFAULT_THRESHOLD = 0.60


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))


@dataclass(frozen=True)
class Match:
    distance: float
    threshold: float

    @property
    def same(self) -> bool:
        return self.distance < self.threshold


def compare(a: np.ndarray, b: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> Match:
    return Match(distance(a, b), threshold)


ACCEPT = "accept"
REJECT = "reject"


class Agreement:
    """Several frames must agree before the answer is yes.

    Accept once `required` frames in a row matched; reject once `max_mismatches` frames
    did not match (they need not be consecutive: a stranger may get a lucky frame).
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, required: int = 3,
                 max_mismatches: int = 3) -> None:
        if required < 1 or max_mismatches < 1:
            raise ValueError("required and max_mismatches must be at least 1")
        self.threshold = threshold
        self.required = required
        self.max_mismatches = max_mismatches
        self.distances: list[float] = []
        self.streak = 0
        self.mismatches = 0

    def add(self, d: float) -> str | None:
        """Record one frame's distance; return ACCEPT, REJECT or None (keep going)."""
        self.distances.append(d)
        if d < self.threshold:
            self.streak += 1
            if self.streak >= self.required:
                return ACCEPT
        else:
            self.streak = 0
            self.mismatches += 1
            if self.mismatches >= self.max_mismatches:
                return REJECT
        return None

    @property
    def median(self) -> float:
        return float(np.median(self.distances)) if self.distances else float("nan")


def describe_image(image: Any, engine: FaceEngine, describer: Describer,
                   opts: DetectOptions = STILL, order: str = "rgb") -> np.ndarray:
    """The descriptor of the one face in a still picture (bytes, path or array)."""
    if isinstance(image, bytes | bytearray | str | Path):
        image = load_image(image)
    analysis, face = engine.find_face(image, opts, order)
    return describer.describe([engine.chip(analysis, face)])[0]


@dataclass(frozen=True)
class PairResult:
    a: str
    b: str
    same: bool  # ground truth
    distance: float

    def correct(self, threshold: float) -> bool:
        return (self.distance < threshold) == self.same


@dataclass(frozen=True)
class Calibration:
    pairs: tuple[PairResult, ...]
    threshold: float

    @property
    def false_accepts(self) -> int:
        return sum(1 for p in self.pairs if not p.same and p.distance < self.threshold)

    @property
    def false_rejects(self) -> int:
        return sum(1 for p in self.pairs if p.same and p.distance >= self.threshold)

    @property
    def same_max(self) -> float:
        return max((p.distance for p in self.pairs if p.same), default=float("nan"))

    @property
    def different_min(self) -> float:
        return min((p.distance for p in self.pairs if not p.same), default=float("nan"))

    @property
    def suggested(self) -> float:
        """The midpoint of the gap between classes (or of the overlap, if they overlap)."""
        return round((self.same_max + self.different_min) / 2, 3)

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "pairs": len(self.pairs),
                "same_pairs": sum(p.same for p in self.pairs),
                "different_pairs": sum(not p.same for p in self.pairs),
                "false_accepts": self.false_accepts, "false_rejects": self.false_rejects,
                "same_max": round(self.same_max, 4),
                "different_min": round(self.different_min, 4),
                "suggested_threshold": self.suggested}


def calibrate(pairs_csv: Path, threshold: float = DEFAULT_THRESHOLD,
              engine: FaceEngine | None = None, describer: Describer | None = None,
              progress: Callable[[str], None] | None = None) -> Calibration:
    """Distances of every pair in a `img_a,img_b,same` file (paths relative to it)."""
    engine = engine or FaceEngine()
    describer = describer or InProcessDescriber()
    folder = pairs_csv.parent
    with pairs_csv.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"img_a", "img_b", "same"} <= set(rows[0]):
        raise FaceError("face.bad_pairs", "need columns img_a,img_b,same")
    cache: dict[str, np.ndarray] = {}

    def desc(name: str) -> np.ndarray:
        if name not in cache:
            if progress:
                progress(name)
            cache[name] = describe_image(folder / name, engine, describer)
        return cache[name]

    results = tuple(PairResult(r["img_a"], r["img_b"], r["same"].strip() == "1",
                               distance(desc(r["img_a"]), desc(r["img_b"]))) for r in rows)
    return Calibration(results, threshold)
