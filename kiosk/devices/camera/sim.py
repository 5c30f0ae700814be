"""In-process camera simulator (`sim://?size=640x480&fps=25`).

Without pictures it shows a moving test pattern (no face). `images=DIR` plays the
pictures in a folder (sorted, looping), e.g. for a demo with the face test photos.
Scriptable: `play(images, loop=True)` (numpy BGR pictures), `lose()`, `regain()`.
numpy and OpenCV are imported on first use, so the kiosk's start-up does not pay for them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from kiosk.devices.base import DeviceError, DeviceUri
from kiosk.devices.camera.service import CaptureDevice


class SimSource:
    def __init__(self, width: int, height: int, fps: float) -> None:
        self.name = "sim"
        self.pace_fps: float | None = fps
        self.width, self.height = width, height
        self._lock = threading.Lock()
        self._images: list[Any] = []
        self._loop = True
        self._pos = 0
        self._tick = 0
        self.present = True

    def open(self) -> bool:
        return self.present

    def release(self) -> None:
        pass

    def play(self, images: list[Any], loop: bool = True) -> None:
        import numpy as np

        with self._lock:
            self._images = [np.ascontiguousarray(i) for i in images]
            self._loop, self._pos = loop, 0

    def read(self) -> Any | None:
        if not self.present:
            return None
        with self._lock:
            if self._images:
                if self._pos >= len(self._images):
                    if not self._loop:
                        return self._images[-1].copy()  # a still: the last picture stays
                    self._pos = 0
                img = self._images[self._pos].copy()
                self._pos += 1
                return img
        self._tick += 1
        return self._pattern(self._tick)

    def _pattern(self, t: int) -> Any:
        import cv2
        import numpy as np

        h, w = self.height, self.width
        img = np.empty((h, w, 3), np.uint8)
        img[:] = np.linspace(40, 200, w, dtype=np.uint8)[None, :, None]
        x = int((t * 7) % w)
        cv2.circle(img, (x, h // 2), max(8, h // 10), (30, 160, 240), -1)
        return img


def _load_folder(folder: str, width: int, height: int) -> list[Any]:
    import cv2

    out = []
    for p in sorted(Path(folder).iterdir()):
        if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"):
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is not None:
                out.append(_fit(img, width, height))
    return out


def _fit(img: Any, width: int, height: int) -> Any:
    """Letterbox a picture into the camera's frame size."""
    import cv2
    import numpy as np

    h, w = img.shape[:2]
    s = min(width / w, height / h)
    small = cv2.resize(img, (max(1, int(w * s)), max(1, int(h * s))))
    out = np.full((height, width, 3), 64, np.uint8)
    y, x = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
    out[y:y + small.shape[0], x:x + small.shape[1]] = small
    return out


class SimCamera(CaptureDevice):
    uri_params = CaptureDevice.uri_params | {"size", "fps", "images"}

    def __init__(self, uri: DeviceUri) -> None:
        try:
            w, _, h = uri.param("size", "640x480").lower().partition("x")
            width, height = int(w), int(h)
            fps = float(uri.param("fps", "25"))
            if width < 16 or height < 16 or fps <= 0:
                raise ValueError("size and fps must be positive")
        except ValueError as exc:
            raise DeviceError("device.unsupported_uri", f"camera sim: {exc}",
                              retryable=False) from None
        self.sim = SimSource(width, height, fps)
        super().__init__(uri, self.sim)
        folder = uri.param("images")
        if folder:
            self.sim.play(_load_folder(folder, width, height))

    def play(self, images: list[Any], loop: bool = True) -> None:
        self.sim.play([_fit(i, self.sim.width, self.sim.height) for i in images], loop)

    def lose(self) -> None:
        self.sim.present = False

    def regain(self) -> None:
        self.sim.present = True
