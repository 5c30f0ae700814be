"""One face check at the terminal: live frames in, a verified / not verified answer out.

Each frame goes through detection and landmarks (for the liveness challenge and the
face guide); frames facing the camera also get a descriptor, compared with the
reference. The answer is yes only when the challenge passed, `frames_required` frames
in a row matched, and a frame taken after the head turns (facing the camera again)
still matched: the person who turned the head is the person who was verified.
Nothing is kept after `wipe()`: no frame is stored at all, only distances.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

import numpy as np

from kiosk.face.describer import Describer
from kiosk.face.engine import LIVE, DetectOptions, FaceEngine
from kiosk.face.liveness import HeadTurnChallenge, LivenessSettings, LivenessStatus, Phase
from kiosk.face.types import FaceError
from kiosk.face.verify import ACCEPT, DEFAULT_THRESHOLD, REJECT, Agreement, distance

log = logging.getLogger(__name__)


class Outcome(str, Enum):
    VERIFIED = "verified"
    MISMATCH = "mismatch"
    LIVENESS_FAILED = "liveness_failed"
    TIMEOUT = "timeout"
    CAMERA_LOST = "camera_lost"
    CANCELLED = "cancelled"


KEYS = {Outcome.VERIFIED: "face.verified", Outcome.MISMATCH: "face.mismatch",
        Outcome.LIVENESS_FAILED: "face.liveness_failed", Outcome.TIMEOUT: "face.timeout",
        Outcome.CAMERA_LOST: "face.camera_lost", Outcome.CANCELLED: "face.cancelled"}


@dataclass(frozen=True)
class FaceCheckSettings:
    threshold: float = DEFAULT_THRESHOLD
    frames_required: int = 3
    max_mismatches: int = 3
    liveness: bool = True
    challenge: LivenessSettings = field(default_factory=LivenessSettings)
    timeout_s: float = 30.0
    camera_lost_s: float = 3.0  # no new frame for this long: the camera is gone
    detect: DetectOptions = LIVE


@dataclass(frozen=True)
class Progress:
    prompt: str  # translation key
    guide: str  # "center", "left" or "right": what the overlay shows
    phase: Phase
    face: bool  # a usable face is in view


@dataclass(frozen=True)
class FaceCheckResult:
    outcome: Outcome
    distance: float = float("nan")  # median over the compared frames
    frames: int = 0
    compared: int = 0
    reason: str = ""

    @property
    def key(self) -> str:
        return KEYS[self.outcome]

    @property
    def verified(self) -> bool:
        return self.outcome is Outcome.VERIFIED


class FrameFeed(Protocol):
    def wait_frame(self, after_seq: int, timeout: float) -> Any: ...


def signature(image: np.ndarray) -> bytes:
    """A cheap fingerprint of a picture: equal only for (nearly) the very same picture."""
    return np.ascontiguousarray(image[::16, ::16]).tobytes()


class FaceCheck:
    def __init__(self, reference: np.ndarray, settings: FaceCheckSettings,
                 engine: FaceEngine, describer: Describer) -> None:
        self.s = settings
        self.engine = engine
        self.describer = describer
        self._reference: np.ndarray | None = np.array(reference, dtype=np.float64)
        self.challenge = HeadTurnChallenge(settings.challenge)
        self.agreement = Agreement(settings.threshold, settings.frames_required,
                                   settings.max_mismatches)
        self.frames = 0
        self._accepted = False
        self._post_turn_match = False
        self._started: float | None = None

    def step(self, image: np.ndarray, now: float, order: str = "bgr"
             ) -> Progress | FaceCheckResult:
        """Process one frame; return what to tell the citizen, or the final answer."""
        if self._reference is None:
            raise RuntimeError("face check already wiped")
        if self._started is None:
            self._started = now
        self.frames += 1
        analysis = self.engine.analyze(image, self.s.detect, order)
        face, problem = None, ""
        try:
            face = self.engine.select(analysis, self.s.detect)
        except FaceError as err:
            problem = err.key
        if self.s.liveness:
            live = self.challenge.feed(face, now, signature(image))
        else:
            live = LivenessStatus(Phase.PASSED)
        if live.phase is Phase.FAILED:
            return self._result(Outcome.LIVENESS_FAILED, live.reason)
        if face is not None and live.frontal and not (self._accepted and
                                                      live.phase is Phase.BASELINE):
            chip = self.engine.chip(analysis, face)
            d = distance(self.describer.describe([chip])[0], self._reference)
            chip.fill(0)
            decided = self.agreement.add(d)
            if decided == REJECT:
                return self._result(Outcome.MISMATCH)
            if decided == ACCEPT:
                self._accepted = True
            if self._accepted and d < self.s.threshold and live.phase is Phase.PASSED:
                self._post_turn_match = True
        if self._accepted and live.phase is Phase.PASSED and self._post_turn_match:
            return self._result(Outcome.VERIFIED)
        if now - self._started > self.s.timeout_s:
            return self._result(Outcome.TIMEOUT)
        prompt = problem if problem and problem != "face.no_face" else \
            ("face.prompt.no_face" if face is None else live.prompt)
        return Progress(prompt, live.guide, live.phase, face is not None)

    def _result(self, outcome: Outcome, reason: str = "") -> FaceCheckResult:
        a = self.agreement
        result = FaceCheckResult(outcome, a.median, self.frames, len(a.distances), reason)
        lo, hi = self.challenge.extremes
        log.info("face check: %s%s after %d frames (%d compared, median distance %.3f, "
                 "yaw range %+.2f..%+.2f)", outcome.value, f" ({reason})" if reason else "",
                 self.frames, len(a.distances), a.median, lo, hi)
        return result

    def run(self, feed: FrameFeed, stop: threading.Event,
            on_progress: Callable[[Progress], None] = lambda p: None,
            clock: Callable[[], float] = time.monotonic) -> FaceCheckResult:
        """Process the newest frame, again and again, until there is an answer."""
        seq = 0
        shown: Progress | None = None
        try:
            while True:
                if stop.is_set():
                    return self._result(Outcome.CANCELLED)
                frame = feed.wait_frame(seq, self.s.camera_lost_s)
                if frame is None:
                    return self._result(Outcome.CAMERA_LOST)
                seq = frame.seq
                out = self.step(frame.image, clock())
                if isinstance(out, FaceCheckResult):
                    return out
                if out != shown:
                    shown = out
                    on_progress(out)
        finally:
            self.wipe()

    def wipe(self) -> None:
        """Forget the reference descriptor (the session is over for this face)."""
        if self._reference is not None:
            self._reference.fill(0)
            self._reference = None
