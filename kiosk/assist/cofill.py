"""Co-fill: what an agent may propose on the screen the citizen sees (docs/assist.md).

An agent's `propose` (over the call's data channel) is judged against the screen on
display: refused on steps that stay with the citizen (consent, signature, print,
identity documents and cards, the camera, payment), for an option or field the screen
does not have, or an action the screen does not take; `stale` when it was made for an
older screen (`seq`). A proposal that passes is only *shown*: the citizen's 确认 applies
it through the same interaction port as their own touch (kiosk/ui/assist), so nothing an
agent sends can answer a step by itself. No Qt here: the rules are tested on their own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from kiosk.flows.screens import Field, Screen, ScreenKind

# Step types whose screens stay with the citizen, and why (the `lock` of a screen message).
LOCKED_STEP_TYPES: Mapping[str, str] = {
    "consent": "consent",
    "signature": "signature",
    "print_a4": "print",
    "print_receipt": "print",
    "identify": "identity",
    "identify_companion": "identity",
    "authorisation_code": "identity",
    "verify_face": "camera",
    "capture_document": "camera",
}
LOCKED_KINDS: Mapping[ScreenKind, str] = {
    ScreenKind.CONSENT: "consent",
    ScreenKind.SIGNATURE: "signature",
    ScreenKind.IDENTIFY: "identity",
    ScreenKind.CAMERA: "camera",
}
# Option ids an agent never picks, whatever the screen: printing is the citizen's act.
FORBIDDEN_OPTIONS: Mapping[str, str] = {"print": "print", "pay": "payment"}
# The one field of a KEYBOARD screen (its typed text) is named after the step.
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
YEAR = re.compile(r"^\d{4}$")
MAX_TEXT = 64


class Result(str, Enum):
    """What became of a proposal (the `result` of a `proposal` message)."""

    ASK = "ask"  # shown to the citizen, waiting for 确认 / 不用了 (not sent)
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    REFUSED = "refused"
    STALE = "stale"


@dataclass(frozen=True)
class Proposal:
    id: str
    seq: int
    action: str  # "choose" | "fill"
    value: str
    field: str = ""


@dataclass(frozen=True)
class Verdict:
    result: Result
    reason: str = ""  # why refused: a lock, "unknown_option", "unknown_field", …
    label: str = ""  # ASK: the option's label, or the field's label (what the banner names)
    shown: str = ""  # ASK: the value as the citizen will see it (a fill)


def lock_of(screen: Screen, step_type: str = "") -> str:
    """Why the step stays with the citizen ("" = the agent may propose)."""
    if step_type in LOCKED_STEP_TYPES:
        return LOCKED_STEP_TYPES[step_type]
    if "pay" in step_type:  # a payment step of any name
        return "payment"
    return LOCKED_KINDS.get(screen.kind, "")


def parse(message: Mapping[str, Any]) -> Proposal | None:
    """A `propose` message as a Proposal; None when it is not well formed."""
    pid, seq, action = message.get("id"), message.get("seq"), message.get("action")
    value, field = message.get("value"), message.get("field", "")
    if not isinstance(pid, str) or not pid or len(pid) > 64:
        return None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        return None
    if action not in ("choose", "fill") or not isinstance(value, str) or len(value) > MAX_TEXT:
        return None
    if not isinstance(field, str):
        return None
    return Proposal(pid, seq, action, value, field)


def _field_ok(f: Field, value: str) -> bool:
    if f.kind == "month":
        return bool(MONTH.match(value)) and f.min <= value <= f.max
    if f.kind == "year":
        return bool(YEAR.match(value)) and int(f.min) <= int(value) <= int(f.max)
    return False


def _text_ok(screen: Screen, value: str) -> bool:
    if screen.max_len and len(value) > screen.max_len:
        return False
    if screen.keys in ("digits", "phone"):
        return value.isdigit()
    if screen.keys in ("id_number",):
        return False  # an identity number is the citizen's to type
    if screen.keys == "pinyin":
        return False  # keys compose pinyin: only the citizen picks the characters
    if screen.keys == "letters":
        return value.isascii() and value.isalpha() and value.isupper()
    return all(c in screen.keys for c in value)  # a pad of these characters


def judge(screen: Screen, step_type: str, seq: int, p: Proposal) -> Verdict:
    """Whether `p` may be shown to the citizen on `screen` (the screen message `seq`)."""
    if p.seq < seq:
        return Verdict(Result.STALE)
    if p.seq > seq:
        return Verdict(Result.REFUSED, "unknown_screen")
    lock = lock_of(screen, step_type)
    if lock:
        return Verdict(Result.REFUSED, lock)
    if p.action == "choose":
        if not screen.options:
            return Verdict(Result.REFUSED, "no_choice")
        if p.value in FORBIDDEN_OPTIONS:
            return Verdict(Result.REFUSED, FORBIDDEN_OPTIONS[p.value])
        option = next((o for o in screen.options if o.id == p.value), None)
        if option is None:
            return Verdict(Result.REFUSED, "unknown_option")
        return Verdict(Result.ASK, label=str(option.label), shown=str(option.label))
    if screen.kind == ScreenKind.FORM:
        f = next((f for f in screen.fields if f.id == p.field), None)
        if f is None:
            return Verdict(Result.REFUSED, "unknown_field")
        if not _field_ok(f, p.value):
            return Verdict(Result.REFUSED, "bad_value")
        return Verdict(Result.ASK, label=str(f.label))
    if screen.kind == ScreenKind.KEYBOARD:
        if p.field != screen.step_id:
            return Verdict(Result.REFUSED, "unknown_field")
        if not _text_ok(screen, p.value):
            return Verdict(Result.REFUSED, "bad_value")
        return Verdict(Result.ASK, label=str(screen.title), shown=p.value)
    return Verdict(Result.REFUSED, "no_field")


def result_message(proposal_id: str, result: Result, reason: str = "") -> dict[str, Any]:
    """The `proposal` message the agent gets back."""
    msg: dict[str, Any] = {"type": "proposal", "id": proposal_id, "result": result.value}
    if reason:
        msg["reason"] = reason
    return msg


@dataclass(frozen=True)
class Asked:
    """A proposal on display, waiting for the citizen."""

    proposal: Proposal
    verdict: Verdict
    seq: int


class CoFill:
    """The proposals of one call: judged as they come, at most one shown at a time.

    `send` carries result messages to the agent (the call's data channel); the UI asks
    `current` what to show and reports the citizen's answer with `confirm` / `decline`.
    A new screen (`screen_changed`) makes a shown proposal stale: it was for the old one.
    """

    def __init__(self, send: Callable[[dict[str, Any]], None]) -> None:
        self._send = send
        self.screen: Screen | None = None
        self.step_type = ""
        self.seq = 0
        self.current: Asked | None = None

    def screen_changed(self, screen: Screen | None, step_type: str, seq: int) -> None:
        self.screen, self.step_type, self.seq = screen, step_type, seq
        self._withdraw(Result.STALE)

    def propose(self, message: Mapping[str, Any]) -> Asked | None:
        """Judge an agent's `propose`; the Asked to show, or None (answered already)."""
        p = parse(message)
        if p is None:
            pid = message.get("id")
            self._send(result_message(pid if isinstance(pid, str) else "", Result.REFUSED,
                                      "bad_request"))
            return None
        if self.screen is None:
            self._send(result_message(p.id, Result.REFUSED, "no_screen"))
            return None
        verdict = judge(self.screen, self.step_type, self.seq, p)
        if verdict.result != Result.ASK:
            self._send(result_message(p.id, verdict.result, verdict.reason))
            return None
        self._withdraw(Result.STALE)  # a newer proposal replaces the one shown
        self.current = Asked(p, verdict, self.seq)
        return self.current

    def confirm(self) -> Proposal | None:
        """The citizen's 确认: the proposal to apply now (through the interaction port)."""
        asked, self.current = self.current, None
        if asked is None:
            return None
        self._send(result_message(asked.proposal.id, Result.CONFIRMED))
        return asked.proposal

    def decline(self) -> None:
        self._withdraw(Result.DECLINED)

    def end(self) -> None:
        """The call ended: nothing stays on screen (the agent is gone; nothing is sent)."""
        self.current = None

    def _withdraw(self, result: Result) -> None:
        asked, self.current = self.current, None
        if asked is not None:
            self._send(result_message(asked.proposal.id, result))
