"""`OpenCvCamera`: `opencv://0`, `opencv:///path/clip.mp4`, `opencv:///path/frames/%03d.png`.

URI parameters: `width`, `height`, `fps` (asked of a device; for files the playback
rate), `loop` (files: start again at the end, default 1), `backend` (any, v4l2,
images, ffmpeg, gstreamer), `lost_after` (failed reads before the camera counts as
lost, 5), `retry_ms` (reopen interval, 1000), `idle_release_ms` (let the device go
when nobody watches, 5000).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.devices.base import (
    Check,
    Device,
    DeviceError,
    DeviceState,
    DeviceStatus,
    DeviceUri,
    SelfTestReport,
)
from kiosk.devices.camera.api import Frame, FrameCallback
from kiosk.devices.camera.capture import CaptureState, CaptureWorker, FrameReader

STATES = {CaptureState.STOPPED: DeviceState.OFFLINE, CaptureState.IDLE: DeviceState.ONLINE,
          CaptureState.ONLINE: DeviceState.ONLINE, CaptureState.LOST: DeviceState.NO_DEVICE}


class CaptureDevice(Device):
    """A camera service over any frame source (shared by OpenCV and the simulator)."""

    kind = "camera"
    uri_params = frozenset({"lost_after", "retry_ms", "idle_release_ms"})

    def __init__(self, uri: DeviceUri, source: FrameReader) -> None:
        super().__init__(uri)
        try:
            self.worker = CaptureWorker(
                source, lost_after=max(1, uri.int_param("lost_after", 5)),
                retry_s=uri.int_param("retry_ms", 1000) / 1000.0,
                idle_release_s=uri.int_param("idle_release_ms", 5000) / 1000.0)
        except ValueError as exc:
            raise DeviceError("device.unsupported_uri", f"camera: {exc}",
                              retryable=False) from None
        self._opened = False

    def open(self) -> None:
        if self._opened:
            return
        self._opened = True
        self.worker.probe()
        self.worker.start()

    def close(self) -> None:
        self._opened = False
        self.worker.stop()

    def status(self) -> DeviceStatus:
        w = self.worker
        details = frozenset({"capturing"}) if w.state is CaptureState.ONLINE else frozenset()
        return DeviceStatus(STATES[w.state], details, w.message)

    def capabilities(self) -> dict[str, Any]:
        return {**super().capabilities(), "source": self.worker.source.name}

    def self_test(self) -> SelfTestReport:
        got = None
        unsubscribe = self.subscribe(lambda _f: None)
        try:
            got = self.wait_frame(0, 5.0)
        finally:
            unsubscribe()
        checks = [Check("frame", got is not None,
                        f"{got.size[0]}x{got.size[1]}" if got else self.worker.message)]
        return SelfTestReport(self.kind, self.uri.raw, got is not None, tuple(checks))

    # -- FrameSource -------------------------------------------------------------------------
    def subscribe(self, cb: FrameCallback) -> Callable[[], None]:
        if not self._opened:
            raise DeviceError("device.camera.offline", "camera not open", retryable=False)
        return self.worker.subscribe(cb)

    def latest(self) -> Frame | None:
        return self.worker.latest()

    def wait_frame(self, after_seq: int, timeout: float) -> Frame | None:
        return self.worker.wait_frame(after_seq, timeout)


def source_from_uri(uri: DeviceUri) -> FrameReader:
    from kiosk.devices.camera.opencv_source import OpenCvSource

    path = uri.path  # not unquoted: `%03d` is an image-sequence pattern, not an escape
    host = uri.raw.split("://", 1)[1].split("?", 1)[0].split("/", 1)[0] if "://" in uri.raw \
        else ""
    try:
        common: dict[str, Any] = {
            "width": uri.int_param("width", 0), "height": uri.int_param("height", 0),
            "fps": float(uri.param("fps", "0") or 0), "loop": uri.param("loop", "1") != "0",
            "backend": uri.param("backend", "any")}
        if host and host.isdigit() and not path.strip("/"):
            return OpenCvSource(index=int(host), **common)
        if path and not host:
            return OpenCvSource(path=path, **common)
    except ValueError as exc:
        raise DeviceError("device.unsupported_uri", f"camera: {exc}", retryable=False) from None
    raise DeviceError("device.unsupported_uri",
                      "camera: use opencv://INDEX or opencv:///path/to/video-or-%03d.png",
                      retryable=False)


class OpenCvCamera(CaptureDevice):
    uri_params = CaptureDevice.uri_params | {"width", "height", "fps", "loop", "backend"}

    def __init__(self, uri: DeviceUri) -> None:
        super().__init__(uri, source_from_uri(uri))
