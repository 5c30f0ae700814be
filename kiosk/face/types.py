"""Face data types: boxes, 5-point landmarks, observations, errors."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class FaceError(Exception):
    """A face problem the citizen or technician can act on (`key` is a translation key)."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(f"{key}: {detail}" if detail else key)
        self.key, self.detail = key, detail


class MultiFacePolicy(str, Enum):
    LARGEST = "largest"  # take the largest face unless another is nearly as large
    REFUSE = "refuse"  # more than one face: refuse


@dataclass(frozen=True)
class FaceBox:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    @property
    def center(self) -> tuple[float, float]:
        return (self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0

    def scaled(self, factor: float) -> FaceBox:
        return FaceBox(*(round(v * factor) for v in (self.left, self.top, self.right,
                                                     self.bottom)))


@dataclass(frozen=True)
class Landmarks5:
    """dlib's 5 points: 0/1 outer/inner corner of the eye on the image's right,
    2/3 outer/inner corner of the eye on the image's left, 4 the base of the nose."""

    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if len(self.points) != 5:
            raise ValueError("need 5 landmarks")

    @property
    def eyes(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """(eye on the image's left, eye on the image's right), centres."""
        p = self.points
        left = ((p[2][0] + p[3][0]) / 2, (p[2][1] + p[3][1]) / 2)
        right = ((p[0][0] + p[1][0]) / 2, (p[0][1] + p[1][1]) / 2)
        return left, right

    @property
    def eye_distance(self) -> float:
        (lx, ly), (rx, ry) = self.eyes
        return math.hypot(rx - lx, ry - ly)

    @property
    def yaw_ratio(self) -> float:
        """Sideways offset of the nose from the eyes' midpoint, in eye distances.

        Measured along the eye axis, so it ignores where the face is, its size and its
        roll. About 0 when looking straight at the camera; grows positive when the nose
        moves towards the image's right (the person turns to *their* left, for a camera
        that does not mirror), negative the other way. A flat photo, however it is
        moved or tilted, keeps it nearly constant: the nose lies in the photo's plane.
        """
        (lx, ly), (rx, ry) = self.eyes
        d = math.hypot(rx - lx, ry - ly)
        if d < 1e-6:
            return 0.0
        ux, uy = (rx - lx) / d, (ry - ly) / d
        mx, my = (lx + rx) / 2, (ly + ry) / 2
        nx, ny = self.points[4]
        return ((nx - mx) * ux + (ny - my) * uy) / d

    def scaled(self, factor: float) -> Landmarks5:
        return Landmarks5(tuple((x * factor, y * factor) for x, y in self.points))


@dataclass(frozen=True)
class FaceObservation:
    box: FaceBox
    landmarks: Landmarks5
    # dlib's full_object_detection for the chip extractor (same coordinates as `box`).
    shape: Any = field(default=None, repr=False, compare=False)
