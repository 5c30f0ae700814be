"""dlib's face detector comes from a saved copy (made once, by a child process) instead of
being rebuilt from dlib's embedded copy with the GIL held, which froze the UI for 0.35-0.55 s
when a process's first face check began. Each check runs in a fresh process (the models
are loaded once per process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
import dlib, numpy as np
from PIL import Image
from kiosk.face.models import detector_cache_path, load_models
m = load_models()
img = np.asarray(Image.open(sys.argv[1]).convert("RGB"))
def boxes(d):
    return [[r.left(), r.top(), r.right(), r.bottom()] for r in d(img, 0)]
print(json.dumps({"from": m.detector_from, "path": str(detector_cache_path(dlib.__version__)),
                  "found": boxes(m.detector), "dlib": boxes(dlib.get_frontal_face_detector())}))
"""


def load_in_child(cache: Path, photo: Path) -> dict:  # type: ignore[type-arg]
    env = dict(os.environ, KIOSK_FACE_CACHE=str(cache))
    out = subprocess.run([sys.executable, "-c", PROBE, str(photo)], capture_output=True,
                         text=True, env=env, check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_detector_is_saved_once_and_then_loaded(tmp_path: Path, faces_dir: Path) -> None:
    photo = faces_dir / "obama_1.jpg"
    first = load_in_child(tmp_path / "cache", photo)
    path = Path(first["path"])
    assert first["from"] == "cache" and path.is_file() and path.parent == tmp_path / "cache"
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    assert first["found"] == first["dlib"] and len(first["found"]) == 1
    made = path.stat().st_mtime_ns
    second = load_in_child(tmp_path / "cache", photo)
    assert second["from"] == "cache" and second["found"] == second["dlib"]
    assert path.stat().st_mtime_ns == made  # read, not made again
    assert not list(path.parent.glob("*.tmp"))


def test_a_damaged_cache_file_is_made_again(tmp_path: Path, faces_dir: Path) -> None:
    photo = faces_dir / "obama_1.jpg"
    path = Path(load_in_child(tmp_path, photo)["path"])
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 3])  # a power cut in the middle of a copy
    again = load_in_child(tmp_path, photo)
    assert again["from"] == "cache" and again["found"] == again["dlib"]
    assert path.read_bytes() == good


def test_an_unwritable_cache_falls_back_to_dlibs_own(tmp_path: Path, faces_dir: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    got = load_in_child(blocker / "cache", faces_dir / "obama_1.jpg")
    assert got["from"] == "dlib" and got["found"] == got["dlib"] and len(got["found"]) == 1
