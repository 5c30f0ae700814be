"""Media of a remote-help call: the terminal's camera and microphone as aiortc tracks,
the agent's video as a FrameSource and the agent's voice to the speaker.

Everything here stays in memory: frames and sound pass through and are dropped.
Conversions run on the call's event-loop thread (never the Qt UI thread); encoding and
decoding run in aiortc's own worker threads.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from kiosk.devices.camera.api import Camera, Frame, FrameCallback
from kiosk.devices.microphone.api import FRAME_SAMPLES, SAMPLE_RATE, AudioChunk, Microphone
from kiosk.devices.speaker.api import Speaker

log = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000
MAX_AUDIO_BACKLOG = SAMPLE_RATE * 2 // 5  # bytes of 200 ms: older sound is dropped


class CameraFeed:
    """The call's subscription to the camera: keeps only the newest frame."""

    def __init__(self, camera: Camera | None) -> None:
        self.camera = camera
        self.latest: Frame | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        if self.camera is not None and self._unsubscribe is None:
            self._unsubscribe = self.camera.subscribe(self._on_frame)

    def _on_frame(self, frame: Frame) -> None:
        self.latest = frame  # the capture thread only stores a reference: never slow

    def release(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        self.latest = None
        if unsubscribe is not None:
            unsubscribe()

    @property
    def subscribed(self) -> bool:
        return self._unsubscribe is not None


class MicFeed:
    """The call's subscription to the microphone: a short buffer of PCM."""

    def __init__(self, microphone: Microphone | None) -> None:
        self.microphone = microphone
        self._buf = bytearray()
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        if self.microphone is not None and self._unsubscribe is None:
            self._unsubscribe = self.microphone.subscribe(self._on_chunk)

    def _on_chunk(self, chunk: AudioChunk) -> None:
        with self._lock:
            self._buf += chunk.pcm
            if len(self._buf) > MAX_AUDIO_BACKLOG:
                del self._buf[: len(self._buf) - MAX_AUDIO_BACKLOG]

    def take(self, nbytes: int) -> bytes:
        """`nbytes` of PCM, padded with silence when the microphone is behind."""
        with self._lock:
            out = bytes(self._buf[:nbytes])
            del self._buf[:nbytes]
        return out + bytes(nbytes - len(out))

    def release(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        with self._lock:
            self._buf.clear()
        if unsubscribe is not None:
            unsubscribe()

    @property
    def subscribed(self) -> bool:
        return self._unsubscribe is not None


class _Paced:
    """Real-time pacing for a track's recv(): frame n is due at start + n * period."""

    def __init__(self, period: float) -> None:
        self.period = period
        self.n = 0
        self._start: float | None = None

    async def next(self) -> int:
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self.n * self.period
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > 1.0:  # the loop stalled: start the clock again, do not burst
            self._start = now - self.n * self.period
        n, self.n = self.n, self.n + 1
        return n


class CameraTrack(MediaStreamTrack):
    """The citizen's video: the newest camera frame at `fps`, resized to width x height;
    black while the call is on hold or the camera gives nothing."""

    kind = "video"

    def __init__(self, feed: CameraFeed, width: int, height: int, fps: int,
                 paused: Callable[[], bool]) -> None:
        super().__init__()
        self.feed, self.width, self.height = feed, width, height
        self.paused = paused
        self._pace = _Paced(1.0 / fps)
        self._step = VIDEO_CLOCK // fps
        self._black: Any = None
        self.frames = 0

    async def recv(self) -> Any:
        from av import VideoFrame

        if self.readyState != "live":
            raise MediaStreamError
        n = await self._pace.next()
        image = self._image()
        frame = VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = n * self._step, fractions.Fraction(1, VIDEO_CLOCK)
        self.frames += 1
        return frame

    def _image(self) -> Any:
        import cv2
        import numpy as np

        latest = None if self.paused() else self.feed.latest
        if latest is None:
            if self._black is None:
                self._black = np.zeros((self.height, self.width, 3), np.uint8)
            return self._black
        image = latest.image
        if image.shape[1] != self.width or image.shape[0] != self.height:
            image = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)
        return image


class MicTrack(MediaStreamTrack):
    """The citizen's voice: 20 ms frames from the microphone; silence on hold."""

    kind = "audio"

    def __init__(self, feed: MicFeed, paused: Callable[[], bool]) -> None:
        super().__init__()
        self.feed, self.paused = feed, paused
        self._pace = _Paced(FRAME_SAMPLES / SAMPLE_RATE)

    async def recv(self) -> Any:
        from av import AudioFrame

        if self.readyState != "live":
            raise MediaStreamError
        n = await self._pace.next()
        pcm = self.feed.take(FRAME_SAMPLES * 2)
        if self.paused():
            pcm = bytes(len(pcm))
        frame = AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(pcm)
        frame.sample_rate = SAMPLE_RATE
        frame.pts, frame.time_base = n * FRAME_SAMPLES, fractions.Fraction(1, SAMPLE_RATE)
        return frame


class RemoteVideo:
    """The agent's video as a FrameSource (kiosk.devices.camera.api): newest frame only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[FrameCallback] = []
        self._latest: Frame | None = None
        self._seq = 0

    def subscribe(self, cb: FrameCallback) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(cb)

        def unsubscribe() -> None:
            with self._lock:
                if cb in self._subscribers:
                    self._subscribers.remove(cb)

        return unsubscribe

    def latest(self) -> Frame | None:
        return self._latest

    def push(self, image: Any) -> Frame:
        image.setflags(write=False)  # shared by every subscriber
        with self._lock:
            self._seq += 1
            frame = Frame(self._seq, time.monotonic(), image)
            self._latest = frame
            subscribers = list(self._subscribers)
        for cb in subscribers:
            try:
                cb(frame)
            except Exception:  # one consumer's bug must not stop the call
                log.exception("assist: remote video subscriber failed")
        return frame

    def clear(self) -> None:
        with self._lock:
            self._latest = None  # no picture of the agent outlives the call


async def play_video(track: MediaStreamTrack, out: RemoteVideo,
                     on_frame: Callable[[], None]) -> None:
    """Decode the agent's video into `out` until the track ends."""
    while True:
        try:
            frame: Any = await track.recv()
        except MediaStreamError:
            return
        out.push(frame.to_ndarray(format="bgr24"))
        on_frame()


async def play_audio(track: MediaStreamTrack, speaker: Speaker | None,
                     on_frame: Callable[[], None]) -> None:
    """Send the agent's voice (resampled to 48 kHz mono s16) to the speaker."""
    import av

    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    while True:
        try:
            audio: Any = await track.recv()
        except MediaStreamError:
            return
        on_frame()
        if speaker is None:
            continue
        for out in resampler.resample(audio):
            pcm = bytes(out.planes[0])[: out.samples * 2]
            try:
                speaker.play(pcm, SAMPLE_RATE)
            except Exception:  # a lost speaker must not end the call
                log.warning("assist: speaker refused sound", exc_info=True)
                speaker = None
                break


def cap_bitrate(kbps: int) -> None:
    """Cap the video encoders' bitrate at `kbps`.

    aiortc 1.16 has no RTCRtpSender.setParameters (maxBitrate); its encoders clamp the
    receiver's bandwidth estimate (REMB) to their module's MAX_BITRATE, read at each
    update. The terminal makes one call at a time, so a process-wide cap is the call's.
    """
    from aiortc.codecs import h264, vpx

    bps = kbps * 1000
    for mod in (vpx, h264):
        mod.MAX_BITRATE = bps  # type: ignore[attr-defined]
        mod.MIN_BITRATE = min(mod.MIN_BITRATE, bps)  # type: ignore[attr-defined]
        mod.DEFAULT_BITRATE = min(mod.DEFAULT_BITRATE, bps)  # type: ignore[attr-defined]


def limit_remote_bitrate(sdp: str, kbps: int) -> str:
    """Ask the agent's browser to send at most `kbps` of video (b=AS in our offer)."""
    out, in_video = [], False
    for line in sdp.splitlines():
        out.append(line)
        if line.startswith("m="):
            in_video = line.startswith("m=video")
        elif in_video and line.startswith("c="):
            out.append(f"b=AS:{kbps}")
    return "\r\n".join(out) + "\r\n"
