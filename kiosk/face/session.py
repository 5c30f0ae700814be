"""One face check at the terminal: live frames in, a verified / not verified answer out.

Each frame goes through detection and landmarks only (about 30 ms), so the liveness
challenge keeps up with the head. Once it has passed and the citizen faces the camera
again, frames also get a descriptor (about 0.1 s more), compared with the reference;
the answer is yes when `frames_required` of them in a row matched. The face is tracked
throughout: if it leaves the picture for a while or jumps (someone else, a photo pushed
in), the challenge starts again, so the face that turned is the face that is verified.
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
    # Tracking between frames: a face missing for more frames than this, or moving further
    # than this many face widths from one processed frame to the next, is not the same face.
    track_missing: int = 8
    track_jump: float = 0.6
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
        self._started: float | None = None
        self._last_box: Any = None
        self._missing = 0

    def _continuous(self, face: Any) -> bool:
        """Whether this face continues the one tracked so far.

        Counted in processed frames, not seconds: a slow machine must not break the track.
        """
        if face is None:
            self._missing += 1
            return True  # judged when a face shows up again
        box, last, missing = face.box, self._last_box, self._missing
        self._last_box, self._missing = box, 0
        if last is None:
            return True
        (x0, y0), (x1, y1) = last.center, box.center
        jump = ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 / max(1, last.width)
        size = box.width / max(1, last.width)
        return missing <= self.s.track_missing and jump <= self.s.track_jump and \
            0.67 <= size <= 1.5

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
            if not self._continuous(face):
                log.info("face check: the face left or changed; the challenge starts again")
                self.challenge = HeadTurnChallenge(self.s.challenge)
            live = self.challenge.feed(face, now, signature(image))
        else:
            live = LivenessStatus(Phase.PASSED)
        if live.phase is Phase.FAILED:
            return self._result(Outcome.LIVENESS_FAILED, live.reason)
        if face is not None and live.phase is Phase.PASSED:
            chip = self.engine.chip(analysis, face)
            d = distance(self.describer.describe([chip])[0], self._reference)
            chip.fill(0)
            decided = self.agreement.add(d)
            if decided == REJECT:
                return self._result(Outcome.MISMATCH)
            if decided == ACCEPT:
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
