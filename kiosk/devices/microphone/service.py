"""`MicrophoneDevice`: the microphone service over any PCM source (simulator or ALSA)."""

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
from kiosk.devices.microphone.api import SAMPLE_RATE, AudioCallback, AudioChunk
from kiosk.devices.microphone.capture import AudioCaptureWorker, PcmReader


class MicrophoneDevice(Device):
    kind = "microphone"
    uri_params = frozenset({"lost_after"})

    def __init__(self, uri: DeviceUri, source: PcmReader) -> None:
        super().__init__(uri)
        try:
            lost_after = max(1, uri.int_param("lost_after", 10))
        except ValueError as exc:
            raise DeviceError("device.unsupported_uri", f"microphone: {exc}",
                              retryable=False) from None
        self.worker = AudioCaptureWorker(source, lost_after=lost_after)
        self._opened = False

    def open(self) -> None:
        self._opened = True

    def close(self) -> None:
        self._opened = False
        self.worker.stop()

    def status(self) -> DeviceStatus:
        w = self.worker
        if not self._opened:
            return DeviceStatus(DeviceState.OFFLINE)
        if w.lost:
            return DeviceStatus(DeviceState.NO_DEVICE, frozenset(), w.message)
        details = frozenset({"capturing"}) if w.capturing else frozenset()
        return DeviceStatus(DeviceState.ONLINE, details)

    def capabilities(self) -> dict[str, Any]:
        return {**super().capabilities(), "source": self.worker.source.name,
                "sample_rate": SAMPLE_RATE, "channels": 1}

    def self_test(self) -> SelfTestReport:
        import threading

        got = threading.Event()

        def first(_c: AudioChunk) -> None:
            got.set()

        unsubscribe = self.subscribe(first)
        try:
            ok = got.wait(2.0)
        finally:
            unsubscribe()
        return SelfTestReport(self.kind, self.uri.raw, ok,
                              (Check("sound", ok, "" if ok else self.worker.message),))

    def subscribe(self, cb: AudioCallback) -> Callable[[], None]:
        if not self._opened:
            raise DeviceError("device.microphone.offline", "microphone not open",
                              retryable=False)
        return self.worker.subscribe(cb)

    def subscriber_count(self) -> int:
        return self.worker.subscriber_count()
