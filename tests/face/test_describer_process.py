"""Descriptors from the helper process equal the in-process ones; the helper recovers."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from kiosk.face.engine import CHIP_SIZE, STILL
from kiosk.face.image import load_image


@pytest.fixture(scope="module")
def chips(engine, faces_dir) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    out = []
    for name in ("obama_1.jpg", "clapton_2.jpg"):
        analysis, face = engine.find_face(load_image(faces_dir / name), STILL)
        out.append(engine.chip(analysis, face))
    return out


def test_same_numbers_as_in_process(process_describer, describer, chips) -> None:
    a = process_describer.describe(chips)
    b = describer.describe(chips)
    assert len(a) == 2 and a[0].shape == (128,)
    assert max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=False)) < 1e-6
    assert process_describer.describe([]) == []


def test_restarts_after_the_helper_dies(process_describer, chips) -> None:
    first = process_describer.describe(chips[:1])[0]
    os.kill(process_describer.pid, signal.SIGKILL)
    again = process_describer.describe(chips[:1])[0]
    assert np.allclose(first, again)


def test_rejects_wrong_chips(process_describer) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        process_describer.describe([np.zeros((CHIP_SIZE, CHIP_SIZE), np.uint8)])
    with pytest.raises(ValueError):
        process_describer.describe([np.zeros((100, 100, 3), np.uint8)])
