"""Write camera footage (image sequences, video files) into a test's tmp_path."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_sequence(folder: Path, frames: list[np.ndarray]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        assert cv2.imwrite(str(folder / f"{i:03d}.png"), f)
    return str(folder / "%03d.png")


def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> str:
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (w, h))
    assert out.isOpened()
    for f in frames:
        out.write(f)
    out.release()
    return str(path)
