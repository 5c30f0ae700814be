"""In-process document camera simulator (`sim://?size=1600x1200&fps=10&scenes=...`).

It shows photographs of a printed page on a desk (synthetic.doccam: perspective, skew,
shadow, clutter), one scene after another: each `still()` is the next scene, so a
retake sees a different photo. `scenes=straight,hard` picks them (default: every scene
in synthetic.doccam.SCENES), `images=DIR` plays real photos from a folder instead.
Photos are made when someone first watches (the probe at open sees an empty desk),
so a terminal that never captures pays nothing. Scriptable: `play(images)` (numpy BGR
pictures), `lose()`, `regain()`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.devices.base import DeviceError, DeviceUri
from kiosk.devices.camera.api import Frame, FrameCallback
from kiosk.devices.doccam.service import PICTURES, DocCamDevice


class SimDocSource:
    def __init__(self, width: int, height: int, fps: float, scenes: tuple[str, ...],
                 folder: str) -> None:
        self.name = "sim"
        self.pace_fps: float | None = fps
        self.width, self.height = width, height
        self.scenes, self.folder = scenes, folder
        self.present = True
        self._lock = threading.Lock()
        self._images: list[Any | None] | None = None
        self._pos = 0
        self._held = 0
        self.armed = False  # until someone watches: an empty desk (the probe at open)
        self.hold = max(1, round(fps))  # a scene stays about a second in the live view

    def open(self) -> bool:
        return self.present

    def release(self) -> None:
        pass

    def play(self, images: list[Any]) -> None:
        with self._lock:
            self._images, self._pos, self._held = list(images), 0, 0
            self.armed = True

    def next_scene(self) -> None:
        with self._lock:
            self._held = self.hold  # the next read moves on

    def _picture(self, i: int) -> Any | None:
        """Scene `i`, made the first time it is shown (~0.5 s each at 1600x1200)."""
        assert self._images is not None
        if self._images[i] is None:
            from synthetic.doccam import SCENES, make_photo

            name = self.scenes[i]
            self._images[i] = make_photo(i + 1, (self.width, self.height), SCENES[name])[0]
        return self._images[i]

    def _load(self) -> list[Any | None]:
        import cv2

        if not self.folder:
            return [None] * len(self.scenes)
        return [img for p in sorted(Path(self.folder).iterdir())
                if p.suffix.lower() in PICTURES
                and (img := cv2.imread(str(p), cv2.IMREAD_COLOR)) is not None]

    def read(self) -> Any | None:
        if not self.present:
            return None
        if not self.armed:
            import numpy as np

            return np.full((self.height, self.width, 3), 90, np.uint8)
        with self._lock:
            if self._images is None:
                self._images = self._load()
            if not self._images:
                return None
            if self._held >= self.hold:
                self._pos, self._held = (self._pos + 1) % len(self._images), 0
            self._held += 1
            img = self._picture(self._pos)
            return None if img is None else img.copy()


class SimDocCam(DocCamDevice):
    uri_params = DocCamDevice.uri_params | {"size", "fps", "scenes", "images"}

    def __init__(self, uri: DeviceUri) -> None:
        from synthetic.doccam import SCENES

        try:
            w, _, h = uri.param("size", "1600x1200").lower().partition("x")
            width, height = int(w), int(h)
            fps = float(uri.param("fps", "10"))
            if width < 64 or height < 64 or fps <= 0:
                raise ValueError("size and fps must be positive (size at least 64x64)")
            names = tuple(n for n in uri.param("scenes", ",".join(SCENES)).split(",") if n)
            unknown = [n for n in names if n not in SCENES]
            if unknown or not names:
                raise ValueError(f"unknown scene {unknown[0] if unknown else '(none)'!r} "
                                 f"(known: {', '.join(SCENES)})")
        except ValueError as exc:
            raise DeviceError("device.unsupported_uri", f"doccam sim: {exc}",
                              retryable=False) from None
        self.sim = SimDocSource(width, height, fps, names, uri.param("images"))
        super().__init__(uri, self.sim)

    def subscribe(self, cb: FrameCallback) -> Callable[[], None]:
        self.sim.armed = True
        return super().subscribe(cb)

    def still(self, timeout: float = 5.0) -> Frame | None:
        frame = super().still(timeout)
        self.sim.next_scene()  # the next take shows the next photo (a retake differs)
        return frame

    def play(self, images: list[Any]) -> None:
        self.sim.play(images)

    def lose(self) -> None:
        self.sim.present = False

    def regain(self) -> None:
        self.sim.present = True
