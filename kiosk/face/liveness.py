"""Liveness by challenge and response: turn the head left, then right, then look back.

Only the 5-point landmarks are needed: the yaw measure (`Landmarks5.yaw_ratio`, the
nose's sideways offset from the eyes' midpoint in eye distances) is taken relative to
the session's own baseline, so a face that is naturally a little asymmetric, or a
camera mounted a little to the side, does not matter. A flat photo keeps the nose in
its plane: moved, scaled, rolled or tilted, its yaw hardly changes, so it never
completes the challenge. A replayed still (the very same picture again and again) is
refused early.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from enum import Enum

from kiosk.face.types import FaceObservation


class Phase(str, Enum):
    BASELINE = "baseline"  # look at the camera: measure this face's own straight-ahead yaw
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    CENTER = "center"  # look back at the camera
    PASSED = "passed"
    FAILED = "failed"


PROMPTS = {Phase.BASELINE: "face.prompt.look", Phase.TURN_LEFT: "face.prompt.turn_left",
           Phase.TURN_RIGHT: "face.prompt.turn_right", Phase.CENTER: "face.prompt.center",
           Phase.PASSED: "face.prompt.hold", Phase.FAILED: "face.liveness_failed"}
GUIDES = {Phase.TURN_LEFT: "left", Phase.TURN_RIGHT: "right"}


@dataclass(frozen=True)
class LivenessSettings:
    yaw_delta: float = 0.12  # a turn of roughly 20-25 degrees for an adult face
    baseline_frames: int = 3
    baseline_spread: float = 0.06  # the baseline frames must agree this closely
    # ...and face the camera roughly: frontal faces measure within about +-0.1, so a head
    # already turned is not mistaken for this person's straight-ahead pose.
    baseline_max: float = 0.22
    hold_frames: int = 2  # frames in a row beyond the delta (one noisy frame is not a turn)
    timeout_s: float = 20.0
    frozen_frames: int = 10  # this many identical pictures in a row: a replayed still
    mirrored: bool = False  # the camera itself mirrors the picture


@dataclass(frozen=True)
class LivenessStatus:
    phase: Phase
    yaw: float | None = None  # relative to the baseline, the citizen's left positive
    reason: str = ""  # why it failed: timeout, frozen

    @property
    def prompt(self) -> str:
        return PROMPTS[self.phase]

    @property
    def guide(self) -> str:
        return GUIDES.get(self.phase, "center")

    @property
    def frontal(self) -> bool:
        """Whether this frame faces the camera (good for a descriptor)."""
        return self.phase in (Phase.BASELINE, Phase.CENTER, Phase.PASSED)


class HeadTurnChallenge:
    def __init__(self, settings: LivenessSettings | None = None) -> None:
        self.s = settings or LivenessSettings()
        self.phase = Phase.BASELINE
        self.baseline: float | None = None
        self.reason = ""
        self._started: float | None = None
        self._window: list[float] = []
        self._held = 0
        self._last_sig: bytes | None = None
        self._same_sig = 0
        self.extremes = (0.0, 0.0)  # furthest left and right seen (for the log)

    def _fail(self, reason: str) -> LivenessStatus:
        self.phase, self.reason = Phase.FAILED, reason
        return LivenessStatus(Phase.FAILED, reason=reason)

    def feed(self, face: FaceObservation | None, now: float,
             signature: bytes | None = None) -> LivenessStatus:
        """One frame: the chosen face (None if none) and a signature of the picture."""
        if self.phase in (Phase.PASSED, Phase.FAILED):
            return LivenessStatus(self.phase, reason=self.reason)
        if self._started is None:
            self._started = now
        if signature is not None:
            self._same_sig = self._same_sig + 1 if signature == self._last_sig else 0
            self._last_sig = signature
            if self._same_sig + 1 >= self.s.frozen_frames:
                return self._fail("frozen")
        if now - self._started > self.s.timeout_s:
            return self._fail("timeout")
        if face is None:
            self._held = 0
            return LivenessStatus(self.phase)
        raw = face.landmarks.yaw_ratio * (-1.0 if self.s.mirrored else 1.0)
        if self.phase is Phase.BASELINE:
            if abs(raw) > self.s.baseline_max:
                self._window = []
                return LivenessStatus(self.phase, 0.0)
            self._window = [*self._window, raw][-self.s.baseline_frames:]
            if len(self._window) == self.s.baseline_frames and \
                    max(self._window) - min(self._window) <= self.s.baseline_spread:
                self.baseline = statistics.median(self._window)
                self.phase, self._held = Phase.TURN_LEFT, 0
            return LivenessStatus(self.phase, 0.0)
        assert self.baseline is not None
        rel = raw - self.baseline
        lo, hi = self.extremes
        self.extremes = (min(lo, rel), max(hi, rel))
        d = self.s.yaw_delta
        reached = {Phase.TURN_LEFT: rel >= d, Phase.TURN_RIGHT: rel <= -d,
                   Phase.CENTER: abs(rel) < d / 2}[self.phase]
        self._held = self._held + 1 if reached else 0
        status_phase: Phase = self.phase
        if self._held >= self.s.hold_frames:
            self.phase = {Phase.TURN_LEFT: Phase.TURN_RIGHT, Phase.TURN_RIGHT: Phase.CENTER,
                          Phase.CENTER: Phase.PASSED}[self.phase]
            self._held = 0
            status_phase = self.phase
        return LivenessStatus(status_phase, rel)
