"""The screen mirror an agent sees during a call (the `screen` message, docs/assist.md).

What the citizen sees, as data: the flow, the step, its kind and title, the options and
fields with their values *as shown* (masked where the screen masks; typed digits masked
here too), whether the step stays with the citizen (`lock`), and a small JPEG of the
window — left out while the camera, an identity document or a signature is on screen.
`MirrorPacer` decides when to send: at once on a new screen, 0.3 s after the citizen
stops typing, never more than once a second. No Qt here: the UI grabs the window and
hands the pixels to `encode_jpeg` on a worker thread.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.flows.screens import Screen

# Steps whose picture is not sent (the agent still gets the texts).
NO_IMAGE_LOCKS = frozenset({"camera", "identity", "signature"})
DEBOUNCE_S = 0.3
MIN_INTERVAL_S = 1.0
JPEG_QUALITY = 70
_DIGITS = re.compile(r"\d{7,}")


def mask_typed(text: str) -> str:
    """Typed text as the agent may see it: long digit runs (a phone or card number)
    keep their first three and last four digits, like the screens' masks."""
    def mask(m: re.Match[str]) -> str:
        s = m.group(0)
        return s[:3] + "*" * (len(s) - 7) + s[-4:]
    return _DIGITS.sub(mask, text)


@dataclass(frozen=True)
class FieldShown:
    name: str
    label: str
    value: str  # as shown on screen (masked)


def screen_message(seq: int, flow: str, screen: Screen, lang: str, lock: str,
                   fields: Sequence[FieldShown] = (), image: str = "") -> dict[str, Any]:
    """The `screen` message for the screen on display (`screen` already in `lang`)."""
    msg: dict[str, Any] = {
        "type": "screen", "seq": seq, "flow": flow, "step": screen.step_id,
        "kind": screen.kind.value, "title": str(screen.title), "lang": lang,
        "locked": bool(lock), "lock": lock,
        "options": [{"value": o.id, "label": str(o.label)} for o in screen.options],
        "fields": [{"name": f.name, "label": f.label, "value": f.value} for f in fields],
    }
    if image and lock not in NO_IMAGE_LOCKS:
        msg["image"] = image
    return msg


def home_message(seq: int, title: str, lang: str, image: str = "") -> dict[str, Any]:
    """The home screen (no flow yet): a title and the picture of the catalog."""
    msg: dict[str, Any] = {"type": "screen", "seq": seq, "flow": "", "step": "home",
                           "kind": "home", "title": title, "lang": lang, "locked": False,
                           "lock": "", "options": [], "fields": []}
    if image:
        msg["image"] = image
    return msg


def scaled_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """The picture's size at most `max_width` wide, keeping its proportions."""
    if width <= max_width or width <= 0:
        return width, height
    return max_width, max(1, round(height * max_width / width))


def encode_jpeg(pixels: bytes, width: int, height: int, stride: int) -> str:
    """RGB888 rows (`stride` bytes each) as a data: URL of a JPEG; call on a worker."""
    import cv2
    import numpy as np

    rows = np.frombuffer(pixels, dtype=np.uint8, count=stride * height).reshape(height, stride)
    rgb = rows[:, :width * 3].reshape(height, width, 3)
    ok, data = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")


class MirrorPacer:
    """When to send the next `screen`: times are passed in (time.monotonic()), so the
    rules are tested without waiting. `due_at()` is when the UI should call `take`."""

    def __init__(self, debounce_s: float = DEBOUNCE_S, min_interval_s: float = MIN_INTERVAL_S
                 ) -> None:
        self.debounce_s, self.min_interval_s = debounce_s, min_interval_s
        self._last_sent = float("-inf")
        self._wanted_at: float | None = None

    def screen_changed(self, now: float) -> None:
        self._wanted_at = now if self._wanted_at is None else min(self._wanted_at, now)

    def typed(self, now: float) -> None:
        """The citizen touched the screen: send once they stop (debounced)."""
        self._wanted_at = now + self.debounce_s

    def due_at(self) -> float | None:
        if self._wanted_at is None:
            return None
        return max(self._wanted_at, self._last_sent + self.min_interval_s)

    def take(self, now: float) -> bool:
        """True when a message should go now (and it is counted as sent)."""
        due = self.due_at()
        if due is None or now < due:
            return False
        self._last_sent, self._wanted_at = now, None
        return True
