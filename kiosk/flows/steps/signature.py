"""`signature`: the citizen signs by hand on the touch screen.

The screen (`ScreenKind.SIGNATURE`) answers `confirm` with the pad's strokes:
`{"strokes": [[[x, y], ...] or [[x, y, t], ...], ...], "aspect": width / height}`, points
in 0..1 of the pad. The step keeps them device-independent, rounded, without timestamps
(how fast someone signs is not needed by anyone), and refuses a dot, a tick or a short
scribble. What it stores under `store_as` is what a template's `signature` block draws
and what a request sends (`{agent_signature.path}`: SVG path data in 0..1 units).

Privacy: the strokes are a form answer. They live in the session's data (wiped with it),
go into the printed PDF and the platform request, and never into a log or a record.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from kiosk.flows.context import FlowContext, StepError, StepResult
from kiosk.flows.interaction import ask
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps._forms import back_outcome, say
from kiosk.flows.steps.base import StepType

log = logging.getLogger(__name__)

# What counts as a signature, in pad heights (the pad's short side), so a wide pad and a
# narrow one judge alike: a name written across a third of a 3:1 pad is ~2 heights of ink.
MIN_INK = 1.2  # total stroke length
MIN_WIDTH = 0.5  # bounding box width
MIN_HEIGHT = 0.12  # bounding box height (a straight line is not a signature)
MAX_POINTS = 4000  # beyond this the strokes are thinned: a signature needs no more
MAX_STROKES = 200
MAX_MISSES = 5  # refused signatures in a row before the citizen is sent to staff

Point = tuple[float, float]


@dataclass(frozen=True)
class Signature:
    """Strokes as polylines in 0..1 of the pad, and the pad's aspect (width / height)."""

    strokes: tuple[tuple[Point, ...], ...]
    aspect: float

    @property
    def points(self) -> int:
        return sum(len(s) for s in self.strokes)

    def _scaled(self) -> list[list[Point]]:
        """Points in pad heights (x stretched by the aspect), for lengths and boxes."""
        return [[(x * self.aspect, y) for x, y in s] for s in self.strokes]

    def ink(self) -> float:
        return sum(math.dist(a, b) for s in self._scaled() for a, b in pairwise(s))

    def extent(self) -> tuple[float, float]:
        pts = [p for s in self._scaled() for p in s]
        if not pts:
            return 0.0, 0.0
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        return max(xs) - min(xs), max(ys) - min(ys)

    def trivial(self) -> bool:
        """A dot, a tick, a straight line or a short scribble: not a signature."""
        w, h = self.extent()
        return self.ink() < MIN_INK or w < MIN_WIDTH or h < MIN_HEIGHT

    def svg_path(self) -> str:
        """SVG path data in 0..1 units ("M x y L x y ... M ..."): the strokes as text."""
        parts = []
        for s in self.strokes:
            parts.append("M" + " L".join(f"{x:.4g} {y:.4g}" for x, y in s))
        return " ".join(parts)

    def as_data(self) -> dict[str, Any]:
        """What the flow keeps: templates draw `strokes`, requests send `path`."""
        return {"strokes": [[list(p) for p in s] for s in self.strokes],
                "aspect": round(self.aspect, 4), "path": self.svg_path(),
                "stroke_count": len(self.strokes), "points": self.points}


def _point(raw: Any) -> Point | None:
    if not isinstance(raw, (list, tuple)) or len(raw) < 2:
        return None
    try:
        x, y = float(raw[0]), float(raw[1])  # a third element (a timestamp) is dropped
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(x) and math.isfinite(y)):
        return None
    return round(min(max(x, 0.0), 1.0), 4), round(min(max(y, 0.0), 1.0), 4)


def _polyline(raw: Sequence[Any]) -> tuple[Point, ...]:
    out: list[Point] = []
    for item in raw:
        p = _point(item)
        if p is not None and (not out or p != out[-1]):
            out.append(p)
    return tuple(out)


def _thinned(strokes: list[tuple[Point, ...]]) -> list[tuple[Point, ...]]:
    total = sum(len(s) for s in strokes)
    if total <= MAX_POINTS:
        return strokes
    step = math.ceil(total / MAX_POINTS)
    return [s[::step] + ((s[-1],) if (len(s) - 1) % step else ()) for s in strokes]


def parse_strokes(value: Any) -> Signature | None:
    """The screen's answer as a Signature; None when it is not one (empty, malformed)."""
    if not isinstance(value, dict) or not isinstance(value.get("strokes"), list):
        return None
    try:
        aspect = float(value.get("aspect", 1.0))
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(aspect) and 0.1 <= aspect <= 20):
        return None
    strokes = [_polyline(s) for s in value["strokes"][:MAX_STROKES]
               if isinstance(s, (list, tuple))]
    strokes = [s for s in strokes if s]
    if not strokes:
        return None
    return Signature(tuple(_thinned(strokes)), aspect)


class SignatureStep(StepType):
    """The citizen signs on the touch screen; the strokes are kept under `store_as`."""

    name = "signature"
    required = ("store_as",)
    optional = ("title", "text", "hint", "too_short", "back")
    string_params = ("title", "text", "hint", "too_short")

    def run(self, ctx: FlowContext) -> StepResult:
        t = ctx.t
        status, misses = "", 0
        while True:
            screen = ctx.screen(
                ScreenKind.SIGNATURE, say(ctx, self.param("title", "signature.title")),
                text=say(ctx, self.param("text", "signature.text")),
                hint=say(ctx, self.param("hint", "")), status=status,
                voice=status or t("signature.voice"),
                actions=(Action("back", t("common.back")), Action("clear", t("signature.clear")),
                         Action("confirm", t("signature.confirm"), primary=True)))
            resp = ask(ctx.ui, screen)
            if resp.action in ("back", "cancel"):
                return StepResult(back_outcome(self.step))
            if resp.action != "confirm":
                continue
            sig = parse_strokes(resp.value)
            if sig is None or sig.trivial():
                misses += 1
                # Counts only: the strokes themselves are a form answer, never logged.
                log.info("signature refused for %s.%s (%d points, try %d)", ctx.flow.id,
                         self.step.id, sig.points if sig else 0, misses)
                if misses >= MAX_MISSES:
                    raise StepError("signature.too_many_tries", retry=False)
                status = t(self.param("too_short", "signature.too_short"))
                continue
            ctx.data[self.param("store_as")] = sig.as_data()
            log.info("signature taken for %s.%s: %d strokes, %d points", ctx.flow.id,
                     self.step.id, len(sig.strokes), sig.points)
            return StepResult("next")
