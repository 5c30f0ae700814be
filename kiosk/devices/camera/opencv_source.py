"""OpenCV `VideoCapture` as a frame source: a device index, a video file or `%03d` images."""

from __future__ import annotations

import logging
import os
from typing import Any

import cv2

log = logging.getLogger(__name__)

try:  # OpenCV prints a warning per failed read of a missing device or file: we log our own
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
except AttributeError:  # pragma: no cover - very old OpenCV builds
    pass

BACKENDS = {"any": cv2.CAP_ANY, "v4l2": cv2.CAP_V4L2, "images": cv2.CAP_IMAGES,
            "ffmpeg": cv2.CAP_FFMPEG, "gstreamer": cv2.CAP_GSTREAMER}


class OpenCvSource:
    """`index` for a device (/dev/videoN), else `path` (a file or an image pattern).

    Files play at `fps` (their own rate, else 25) and start again at the end when
    `loop` is set, so a recorded clip behaves like a live camera.
    """

    def __init__(self, *, index: int | None = None, path: str = "", width: int = 0,
                 height: int = 0, fps: float = 0.0, loop: bool = True,
                 backend: str = "any") -> None:
        if (index is None) == (not path):
            raise ValueError("need exactly one of a device index or a path")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
        self.index, self.path = index, path
        self.width, self.height, self.fps, self.loop = width, height, fps, loop
        self.backend = backend
        self.name = f"video{index}" if index is not None else os.path.basename(path)
        self.pace_fps: float | None = None
        self._cap: Any = None

    @property
    def is_file(self) -> bool:
        return self.index is None

    def open(self) -> bool:
        self.release()
        api = BACKENDS[self.backend]
        if self.is_file and self.backend == "any" and "%" in self.path:
            api = cv2.CAP_IMAGES
        try:
            cap = cv2.VideoCapture(self.index if self.index is not None else self.path, api)
        except cv2.error as exc:
            log.info("camera %s: %s", self.name, exc)
            return False
        if not cap.isOpened():
            cap.release()
            return False
        if not self.is_file:
            if self.width and self.height:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            if self.fps:
                cap.set(cv2.CAP_PROP_FPS, self.fps)
        else:
            native = cap.get(cv2.CAP_PROP_FPS) or 0.0
            self.pace_fps = self.fps or (native if 1.0 <= native <= 120.0 else 25.0)
        self._cap = cap
        return True

    def read(self) -> Any | None:
        cap = self._cap
        if cap is None:
            return None
        try:
            ok, image = cap.read()
            if not ok and self.is_file and self.loop:
                # End of the clip: start again (reopen: image sequences cannot seek).
                if not self.open():
                    return None
                ok, image = self._cap.read()
        except cv2.error as exc:
            log.info("camera %s: read failed: %s", self.name, exc)
            return None
        if not ok or image is None:
            return None
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        return image

    def release(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()
