"""Camera fixtures: footage made from the shared face photos at test time, in tmp_path."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "face"))

from face_synth import frame_of


@pytest.fixture
def photo_frames() -> list[np.ndarray]:
    return [frame_of(n) for n in ("obama_1.jpg", "biden_2.jpg", "clapton_1.jpg")]


@pytest.fixture
def open_camera() -> Iterator[Callable[[str], object]]:
    from kiosk.devices.registry import create_device

    opened = []

    def make(uri: str) -> object:
        cam = create_device("camera", uri)
        cam.open()
        opened.append(cam)
        return cam

    yield make
    for cam in opened:
        cam.close()
