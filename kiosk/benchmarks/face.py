"""Face verification bench: per-frame cost at 640x480, model load, memory, preview rate.

Keys: `face_detect_frame_s` (detection + 5 landmarks), `face_verify_frame_s` (detection,
landmarks, alignment and the 128-d descriptor), `face_model_load_s` and
`face_model_rss_mb` (all three models, in a fresh process), `face_helper_rss_mb` (the
descriptor helper process), `preview_fps` (frames painted by the Qt preview while a
verification loop runs on the same camera), `preview_max_stall_ms` (the longest gap
of a 10 ms Qt timer meanwhile) and `preview_max_stall_ms_baseline` (the same timer on the
idle event loop of the same process just before, for as long). Frames are made from the
test photos (`$KIOSK_FACE_TESTDATA`, else `tests/data/faces` in the checkout); without
them (an installed package has no tests/) the frame keys are NaN.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

NAN = float("nan")
PHOTO = "obama_1.jpg"

LOAD_PROBE = r"""
import resource, time
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20
import dlib, numpy
from kiosk.face.models import load_models, load_recognizer
before = rss()
t0 = time.perf_counter()
load_models()
load_recognizer()
print(f"LOAD {time.perf_counter() - t0:.4f} {rss() - before:.1f}")
"""


def faces_dir() -> Path | None:
    env = os.environ.get("KIOSK_FACE_TESTDATA")
    folder = Path(env) if env else Path(__file__).resolve().parents[2] / "tests" / "data" / \
        "faces"
    return folder if (folder / PHOTO).is_file() else None


def camera_frame(folder: Path) -> Any:
    """A 640x480 BGR frame with a test photo letterboxed into it."""
    import cv2
    import numpy as np

    from kiosk.face.image import load_image

    rgb = load_image(folder / PHOTO)
    h, w = rgb.shape[:2]
    s = min(640 / w, 480 / h)
    small = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    out = np.full((480, 640, 3), 70, np.uint8)
    y, x = (480 - small.shape[0]) // 2, (640 - small.shape[1]) // 2
    out[y:y + small.shape[0], x:x + small.shape[1]] = small
    return np.ascontiguousarray(out[:, :, ::-1])


def model_load(repeat: int) -> tuple[float, float]:
    times, rss = [], []
    for _ in range(max(1, min(repeat, 3))):
        out = subprocess.run([sys.executable, "-c", LOAD_PROBE], check=False,
                             capture_output=True, text=True, timeout=120)
        for line in out.stdout.splitlines():
            if line.startswith("LOAD"):
                times.append(float(line.split()[1]))
                rss.append(float(line.split()[2]))
    if not times:
        return NAN, NAN
    return round(statistics.median(times), 3), round(max(rss), 1)


def per_frame(frame: Any, repeat: int) -> tuple[float, float]:
    from kiosk.face.describer import InProcessDescriber
    from kiosk.face.engine import LIVE, FaceEngine

    engine, describer = FaceEngine(), InProcessDescriber()

    def once(describe: bool) -> float:
        t = time.perf_counter()
        analysis = engine.analyze(frame, LIVE, order="bgr")
        face = engine.select(analysis, LIVE)
        if describe:
            describer.describe([engine.chip(analysis, face)])
        return time.perf_counter() - t

    once(True)  # load models, warm caches
    n = max(repeat, 10)
    detect = statistics.median(once(False) for _ in range(n))
    verify = statistics.median(once(True) for _ in range(n))
    return round(detect, 4), round(verify, 4)


def helper_rss_mb() -> float:
    from kiosk.face.describer import ProcessDescriber

    d = ProcessDescriber()
    try:
        d.start()
        with open(f"/proc/{d.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    finally:
        d.close()
    return NAN


PREVIEW_PROBE = r"""
import os, sys, tempfile, threading, time
from pathlib import Path
os.environ["QT_QPA_PLATFORM"] = "offscreen"
import cv2
import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from kiosk.benchmarks.face import camera_frame
from kiosk.devices.registry import create_device
from kiosk.face.describer import ProcessDescriber
from kiosk.face.engine import LIVE, FaceEngine
from kiosk.face.types import FaceError
from kiosk.ui.camera_view import CameraView

seconds = float(sys.argv[2])
frame = camera_frame(Path(sys.argv[1]))
app = QApplication([])
tmp = tempfile.mkdtemp()
clip = str(Path(tmp) / "clip.avi")
out = cv2.VideoWriter(clip, cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
rng = np.random.default_rng(0)
for _ in range(60):  # sensor noise: every frame differs a little
    noise = rng.integers(-3, 4, frame.shape, dtype=np.int16)
    out.write(np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8))
out.release()
cam = create_device("camera", f"opencv://{clip}?fps=30")
cam.open()
engine, describer = FaceEngine(), ProcessDescriber()
describer.start()
stop = threading.Event()

def verify_loop():
    unsubscribe = cam.subscribe(lambda f: None)
    seq = 0
    try:
        while not stop.is_set():
            f = cam.wait_frame(seq, 1.0)
            if f is None:
                continue
            seq = f.seq
            try:
                analysis = engine.analyze(f.image, LIVE, order="bgr")
                face = engine.select(analysis, LIVE)
                describer.describe([engine.chip(analysis, face)])
            except FaceError:
                pass
    finally:
        unsubscribe()

engine.models  # as the kiosk's face step does, under its progress screen
gaps, last = [], [time.monotonic()]

def tick():
    now = time.monotonic()
    gaps.append(now - last[0])
    last[0] = now

timer = QTimer()
timer.timeout.connect(tick)
timer.start(10)
# The baseline first: the same timer on the idle loop of this process, as long.
QTimer.singleShot(int(seconds * 1000), app.quit)
app.exec()
idle = max(gaps[5:] or [-0.001])
view = CameraView(cam)
view.resize(960, 720)
view.show()
worker = threading.Thread(target=verify_loop, daemon=True)
worker.start()
gaps.clear()
last[0] = time.monotonic()
QTimer.singleShot(int(seconds * 1000), app.quit)
app.exec()
timer.stop()
fps = view.fps
view.hide()
stop.set()
worker.join(5)
describer.close()
cam.close()
for p in Path(tmp).iterdir():
    p.unlink()
os.rmdir(tmp)
print(f"PREVIEW {fps:.2f} {max(gaps[5:]) * 1000:.1f} {idle * 1000:.1f}")
"""


def preview(folder: Path, seconds: float = 4.0) -> tuple[float, float, float]:
    """Paint rate of the Qt preview fed by OpenCV (a 30 fps clip) while verification runs
    on the same camera (a separate process: the bench itself stays Qt-free); its longest
    timer gap; and the baseline, the same timer alone on the idle loop just before."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", PREVIEW_PROBE, str(folder), str(seconds)],
                         check=False, capture_output=True, text=True, env=env, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("PREVIEW"):
            _, fps, stall, idle = line.split()
            return round(float(fps), 1), round(float(stall), 1), round(float(idle), 1)
    return NAN, NAN, NAN


def measure(repeat: int) -> dict[str, float]:
    load_s, load_rss = model_load(repeat)
    out: dict[str, float] = {"face_model_load_s": load_s, "face_model_rss_mb": load_rss,
                             "face_helper_rss_mb": helper_rss_mb()}
    folder = faces_dir()
    if folder is None:
        out.update(face_detect_frame_s=NAN, face_verify_frame_s=NAN, preview_fps=NAN,
                   preview_max_stall_ms=NAN, preview_max_stall_ms_baseline=NAN)
        return out
    frame = camera_frame(folder)
    detect, verify = per_frame(frame, repeat)
    fps, stall, idle = preview(folder)
    out.update(face_detect_frame_s=detect, face_verify_frame_s=verify, preview_fps=fps,
               preview_max_stall_ms=stall, preview_max_stall_ms_baseline=idle)
    return out
