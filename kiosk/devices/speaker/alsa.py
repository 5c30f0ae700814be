"""`alsa://<device>` speaker through PyAV's ALSA output (`alsa://default`).

A writer thread takes queued PCM and muxes it as pcm_s16le into the ALSA device, so
`play` never blocks the call's event loop; at most ~0.5 s is queued (older sound is
dropped: a late voice is worse than a gap).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from kiosk.devices.base import DeviceUri
from kiosk.devices.speaker.service import SpeakerDevice

log = logging.getLogger(__name__)
MAX_QUEUED = 25  # 20 ms chunks
RETRY_S = 5.0  # after the card failed, sound is dropped this long before it is tried again


class AlsaSpeaker(SpeakerDevice):
    def __init__(self, uri: DeviceUri) -> None:
        super().__init__(uri)
        rest = uri.raw.split("://", 1)[1] if "://" in uri.raw else ""
        self.device = rest.split("?", 1)[0] or "default"
        self._queue: queue.Queue[tuple[bytes, int] | None] = queue.Queue(MAX_QUEUED)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._failed_at = -RETRY_S

    def _output(self, pcm: bytes, sample_rate: int) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                if time.monotonic() - self._failed_at < RETRY_S:
                    return  # the card failed a moment ago: no thread (and log line) per chunk
                self._queue = queue.Queue(MAX_QUEUED)
                self._thread = threading.Thread(target=self._run, args=(self._queue,),
                                                daemon=True, name=f"speaker-{self.device}")
                self._thread.start()
            q = self._queue
        while True:
            try:
                q.put_nowait((pcm, sample_rate))
                return
            except queue.Full:
                try:
                    q.get_nowait()
                except queue.Empty:
                    pass

    def _halt(self) -> None:
        with self._lock:
            thread, q, self._thread = self._thread, self._queue, None
        if thread is None:
            return
        while True:
            try:
                q.get_nowait()
            except queue.Empty:
                break
        q.put(None)
        thread.join(timeout=2.0)

    def _run(self, q: queue.Queue[tuple[bytes, int] | None]) -> None:
        import av

        container: Any = None
        stream: Any = None
        pts = 0
        try:
            while True:
                item = q.get()
                if item is None:
                    return
                pcm, rate = item
                if container is None:
                    container = av.open(self.device, "w", format="alsa")
                    stream = container.add_stream("pcm_s16le", rate=rate, layout="mono")
                frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
                frame.planes[0].update(pcm)
                frame.sample_rate, frame.pts = rate, pts
                pts += frame.samples
                for packet in stream.encode(frame):
                    container.mux(packet)
        except Exception as exc:  # noqa: BLE001 - av raises many kinds; the card is gone
            self._failed_at = time.monotonic()
            log.warning("speaker %s: %s", self.device, exc)
        finally:
            if container is not None:
                try:
                    container.close()
                except Exception:  # noqa: BLE001, S110 - closing a lost device
                    pass
