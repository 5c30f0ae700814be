"""Descriptions of what a step wants on screen; the UI draws any of them generically."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class ScreenKind(str, Enum):
    IDENTIFY = "identify"
    CONSENT = "consent"
    CHOICE = "choice"
    PROGRESS = "progress"
    PREVIEW = "preview"
    RATING = "rating"
    RESULT = "result"
    ERROR = "error"
    FORM = "form"  # steppers (e.g. a month range) with presets; value = {field id: value}
    KEYBOARD = "keyboard"  # on-screen keys; value = the typed text
    INFO = "info"  # information to read: rows of label/value, a big number, choices
    CAMERA = "camera"  # live camera preview with a face guide (`camera`, `guide`)
    SIGNATURE = "signature"  # a pad to sign on; value = {"strokes": [[[x, y], ...]], "aspect"}


@dataclass(frozen=True)
class Action:
    id: str
    label: str
    primary: bool = False


@dataclass(frozen=True)
class Field:
    """A touch stepper on a FORM screen: `kind` "month" (YYYY-MM) or "year" (YYYY)."""

    id: str
    label: str
    kind: str
    value: str
    min: str
    max: str


@dataclass(frozen=True)
class Screen:
    kind: ScreenKind
    step_id: str
    title: str
    text: str = ""
    hint: str = ""
    actions: tuple[Action, ...] = ()
    options: tuple[Action, ...] = ()  # choices, rating tags
    image_png: bytes | None = field(default=None, repr=False)
    # PREVIEW: the document as shown on screen (a PDF, personal data masked); the screen
    # renders its pages at the size it needs, to page through and zoom into.
    document: bytes | None = field(default=None, repr=False)
    illustration: str = ""  # e.g. "idcard", "printer", "check"
    position: tuple[int, int] = (0, 0)  # step n of m; (0, 0) = not shown
    # Whether the idle timer runs: not while the machine itself is working.
    idle: bool = True
    status: str = ""  # live status line under the text (e.g. 正在读卡)
    fields: tuple[Field, ...] = ()  # FORM steppers
    rows: tuple[tuple[str, str], ...] = ()  # label/value lines (INFO, RESULT)
    big: str = ""  # one large emphasised text (a queue number)
    keys: str = ""  # KEYBOARD: the characters offered
    entry: str = ""  # KEYBOARD: text already typed
    max_len: int = 0  # KEYBOARD: longest text accepted (0 = no limit)
    vocabulary: tuple[str, ...] = ()  # KEYBOARD (pinyin): words to offer first
    # The spoken prompt; empty means the title. Must never contain personal data
    # (kiosk.voice refuses digits and masks anyway).
    voice: str = ""
    # CAMERA: the frame source to preview (subscribe(cb) -> unsubscribe) and the face guide
    # to draw: "center", "left" or "right" (turn the head that way).
    camera: Any = field(default=None, repr=False, compare=False)
    guide: str = ""


@dataclass(frozen=True)
class Response:
    action: str
    value: Any = None
