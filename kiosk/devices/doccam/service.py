"""Document camera services: `sim://`, `opencv://N`, `opencv:///path/%03d.png`, `seq:///DIR`.

The capture side is the camera's (`kiosk.devices.camera.capture`): one worker thread,
running only while someone watches, a lost source reported and reopened. A document
camera adds `still()`: the next frame after the call, at the source's resolution.

`seq:///DIR` plays the pictures in a folder (sorted by name) as stills: the live view
shows one until a still is taken, the next `still()` is the next picture (`loop=1`
starts again at the end), so a test or a technician can
put photos of real pages in front of the pipeline. URI parameters of every scheme:
`lost_after`, `retry_ms`, `idle_release_ms` (as the camera's); `opencv`: `width`,
`height`, `fps`, `loop`, `backend`; `seq`: `fps` (default 10), `loop` (1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kiosk.devices.base import DeviceError, DeviceUri
from kiosk.devices.camera.api import Frame
from kiosk.devices.camera.service import CaptureDevice, source_from_uri

PICTURES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


class DocCamDevice(CaptureDevice):
    """A document camera over any frame source."""

    kind = "doccam"

    def still(self, timeout: float = 5.0) -> Frame | None:
        latest = self.worker.latest()
        after = latest.seq if latest is not None else 0
        unsubscribe = self.subscribe(lambda _f: None)  # keeps capture running meanwhile
        try:
            return self.worker.wait_frame(after, timeout)
        finally:
            unsubscribe()


class OpenCvDocCam(DocCamDevice):
    uri_params = DocCamDevice.uri_params | {"width", "height", "fps", "loop", "backend"}

    def __init__(self, uri: DeviceUri) -> None:
        try:
            source = source_from_uri(uri)
        except DeviceError as err:
            raise DeviceError(err.key, err.detail.replace("camera:", "doccam:"),
                              retryable=False) from None
        super().__init__(uri, source)


class FolderSource:
    """The pictures of a folder in name order (transport for `seq://`): the live view
    shows the current picture until a still is taken, then the next one."""

    def __init__(self, folder: Path, fps: float, loop: bool) -> None:
        self.folder, self.loop = folder, loop
        self.name = f"seq:{folder.name}"
        self.pace_fps: float | None = fps
        self._files: list[Path] = []
        self._pos = 0
        self._current: tuple[int, Any] | None = None

    def open(self) -> bool:
        try:
            self._files = sorted(p for p in self.folder.iterdir()
                                 if p.suffix.lower() in PICTURES)
        except OSError:
            return False
        return bool(self._files)

    def advance(self) -> None:
        if self._files:
            nxt = self._pos + 1
            self._pos = nxt % len(self._files) if self.loop else min(nxt, len(self._files) - 1)

    def read(self) -> Any | None:
        import cv2

        if not self._files:
            return None
        pos = min(self._pos, len(self._files) - 1)
        if self._current is None or self._current[0] != pos:
            image = cv2.imread(str(self._files[pos]), cv2.IMREAD_COLOR)
            if image is None:
                return None
            self._current = (pos, image)
        return self._current[1].copy()

    def release(self) -> None:
        self._current = None  # the position survives an idle release, the picture not


class SeqDocCam(DocCamDevice):
    uri_params = DocCamDevice.uri_params | {"fps", "loop"}

    def __init__(self, uri: DeviceUri) -> None:
        folder = uri.path
        if uri.host or not folder or folder == "/":
            raise DeviceError("device.unsupported_uri",
                              "doccam: use seq:///path/to/folder (three slashes: a path)",
                              retryable=False)
        try:
            fps = float(uri.param("fps", "10"))
            if fps <= 0:
                raise ValueError("fps must be positive")
        except ValueError as exc:
            raise DeviceError("device.unsupported_uri", f"doccam seq: {exc}",
                              retryable=False) from None
        self.folder = FolderSource(Path(folder), fps, uri.param("loop", "1") != "0")
        super().__init__(uri, self.folder)

    def still(self, timeout: float = 5.0) -> Frame | None:
        frame = super().still(timeout)
        if frame is not None:
            self.folder.advance()  # the next take is the next picture
        return frame
