"""Face fixtures: the test photos (tests/data/faces), a face engine, descriptors (made once)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from face_synth import FACES

# Test configuration only: the reference backend maps synthetic citizens to the public test
# photos in tests/data/faces (never to a citizen's). Set before any backend child starts.
os.environ.setdefault("REFBACKEND_FACE_PHOTOS", str(FACES))


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    assert (FACES / "pairs.csv").is_file(), f"face test photos missing at {FACES}"
    return FACES


@pytest.fixture(scope="session")
def engine():  # type: ignore[no-untyped-def]
    from kiosk.face.engine import FaceEngine

    return FaceEngine()


@pytest.fixture(scope="session")
def describer():  # type: ignore[no-untyped-def]
    from kiosk.face.describer import InProcessDescriber

    return InProcessDescriber()


@pytest.fixture(scope="session")
def describe(engine, describer, faces_dir):  # type: ignore[no-untyped-def]
    """Descriptor of a test photo by file name (cached for the session)."""
    from kiosk.face.verify import describe_image

    cache: dict[str, np.ndarray] = {}

    def get(name: str) -> np.ndarray:
        if name not in cache:
            cache[name] = describe_image(faces_dir / name, engine, describer)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def calibration(engine, describer, faces_dir):  # type: ignore[no-untyped-def]
    from kiosk.face.verify import DEFAULT_THRESHOLD, calibrate

    return calibrate(faces_dir / "pairs.csv", DEFAULT_THRESHOLD, engine, describer)


@pytest.fixture(scope="module")
def process_describer() -> Iterator[object]:
    from kiosk.face.describer import ProcessDescriber

    d = ProcessDescriber()
    yield d
    d.close()
