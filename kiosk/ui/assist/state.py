"""The citizen's side of a help call as states, and what each state shows.

`advance(state, event)` folds the engine's CallEvents (kiosk/assist/engine.py) into a
`CallState`; `describe(state)` says what the overlay shows for it (texts as translation
keys, which buttons, whether the agent's video is up). Both are pure, so every screen
of a call is tested by feeding events, and the widgets only draw a `View`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Protocol


class Phase(str, Enum):
    IDLE = "idle"  # no call: nothing shown
    CONSENT = "consent"  # camera and microphone will be on; 同意并呼叫 / 取消
    CALLING = "calling"
    QUEUED = "queued"
    IN_CALL = "in_call"
    HELD = "held"
    TRANSFERRING = "transferring"
    RECONNECTING = "reconnecting"
    ENDED = "ended"  # why, in words; back to where the flow was
    OFFERS = "offers"  # nobody answered: call back, queue ticket, back
    CALLBACK = "callback"  # typing a phone number
    CALLBACK_DONE = "callback_done"


LIVE = frozenset({Phase.CALLING, Phase.QUEUED, Phase.IN_CALL, Phase.HELD, Phase.TRANSFERRING,
                  Phase.RECONNECTING})
CONNECTED = frozenset({Phase.IN_CALL, Phase.HELD, Phase.TRANSFERRING, Phase.RECONNECTING})
# Ends that leave the citizen without an agent: offer a call back or a ticket instead.
NO_AGENT_ENDS = frozenset({"no_answer", "no_centre", "refused_login"})
# Ends the citizen caused or that ended the visit: nothing to explain.
SILENT_ENDS = frozenset({"citizen", "session_end", "idle"})


class Event(Protocol):
    """What the overlay reads of a kiosk.assist.engine.CallEvent."""

    @property
    def kind(self) -> str: ...
    @property
    def position(self) -> int: ...
    @property
    def wait_s(self) -> int: ...
    @property
    def agents(self) -> int: ...
    @property
    def agent(self) -> str: ...
    @property
    def reason(self) -> str: ...


@dataclass(frozen=True)
class CallState:
    phase: Phase = Phase.IDLE
    position: int = 0
    wait_s: int = 0
    agents: int = 0
    agent: str = ""
    reason: str = ""  # ENDED / OFFERS: why
    media: bool = False  # the agent's picture or voice has arrived
    held: bool = False  # the agent put the call on hold (kept across a reconnection)
    phone: str = ""  # CALLBACK: the digits typed (never logged)


def advance(state: CallState, event: Event) -> CallState:
    """The state after one engine event."""
    k = event.kind
    if state.phase not in LIVE and k != "ended":
        return state  # a late event of a call already over (or not yet started)
    if k == "connecting":
        return replace(state, phase=Phase.CALLING)
    if k == "queued":
        if state.phase in CONNECTED:
            return state  # a rejoin after a drop, a transfer: the call stays answered
        return replace(state, phase=Phase.QUEUED, position=event.position,
                       wait_s=event.wait_s, agents=event.agents)
    if k == "unavailable":
        return replace(state, phase=Phase.OFFERS, reason=event.reason or "no_agent")
    if k == "answered":
        return replace(state, phase=Phase.IN_CALL, agent=event.agent or state.agent,
                       held=False)
    if k == "media":  # first media of a connection: after a reconnection, the call is back
        if state.phase == Phase.RECONNECTING:
            return replace(state, media=True, phase=Phase.HELD if state.held else Phase.IN_CALL)
        return replace(state, media=True)
    if k == "reconnecting":
        return replace(state, phase=Phase.RECONNECTING)
    if k == "held":
        return replace(state, phase=Phase.HELD, held=True)
    if k == "resumed":
        return replace(state, phase=Phase.IN_CALL, held=False)
    if k == "transferring":
        return replace(state, phase=Phase.TRANSFERRING, agent=event.agent or state.agent,
                       media=False)
    if k == "ended":
        return _ended(state, event.reason)
    return state  # "proposal" and anything new: not a change of what the overlay shows


def _ended(state: CallState, reason: str) -> CallState:
    if state.phase in (Phase.OFFERS, Phase.CALLBACK, Phase.CALLBACK_DONE):
        return state  # the offers stay up after the socket closed
    if reason in SILENT_ENDS:
        return CallState()
    if reason in NO_AGENT_ENDS and state.phase not in CONNECTED:
        return CallState(phase=Phase.OFFERS, reason=reason)
    return CallState(phase=Phase.ENDED, reason=reason or "error", agent=state.agent)


@dataclass(frozen=True)
class View:
    """What the overlay shows: translation keys (with values), buttons, video."""

    title: str
    text: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    buttons: tuple[str, ...] = ()  # button ids, in order; the last is the way forward
    video: bool = False  # the agent's picture large, the citizen's own small
    keypad: bool = False
    busy: bool = False  # a spinner-like status line (calling, waiting)
    agent: str = ""  # the agent's display name, on a line of its own (any language)


def wait_minutes(wait_s: int) -> int:
    """The expected wait as the citizen reads it: whole minutes, at least one."""
    return max(1, -(-wait_s // 60))


def describe(state: CallState) -> View:
    p = state.phase
    if p == Phase.CONSENT:
        return View("assist.consent.title", "assist.consent.text",
                    buttons=("cancel", "agree"))
    if p == Phase.CALLING:
        return View("assist.calling.title", "assist.calling.text", buttons=("hangup",),
                    busy=True)
    if p == Phase.QUEUED:
        return View("assist.queued.title", "assist.queued.text",
                    {"position": max(1, state.position), "minutes": wait_minutes(state.wait_s)},
                    buttons=("hangup",), busy=True)
    if p == Phase.IN_CALL:
        return View("assist.in_call.title", "assist.in_call.text",
                    buttons=("hangup", "minimise"), video=True, agent=state.agent)
    if p == Phase.HELD:
        return View("assist.held.title", "assist.held.text",
                    buttons=("hangup", "minimise"), video=True, agent=state.agent)
    if p == Phase.TRANSFERRING:
        return View("assist.transferring.title", "assist.transferring.text",
                    buttons=("hangup",), video=True, busy=True, agent=state.agent)
    if p == Phase.RECONNECTING:
        return View("assist.reconnecting.title", "assist.reconnecting.text",
                    buttons=("hangup",), video=True, busy=True)
    if p == Phase.ENDED:
        reason = state.reason if state.reason in ENDED_TEXTS else "error"
        return View("assist.ended.title", f"assist.ended.{reason}", buttons=("continue",))
    if p == Phase.OFFERS:
        reason = "no_agent" if state.reason == "no_agent" else "no_answer"
        return View(f"assist.offers.{reason}.title", "assist.offers.text",
                    buttons=("back", "ticket", "callback"))
    if p == Phase.CALLBACK:
        return View("assist.callback.title", "assist.callback.text",
                    buttons=("back", "send"), keypad=True)
    if p == Phase.CALLBACK_DONE:
        return View("assist.callback_done.title", "assist.callback_done.text",
                    buttons=("continue",))
    return View("")


# The reasons an ended call explains (assist.ended.<reason>); others read as "error".
ENDED_TEXTS = frozenset({"agent", "agent_gone", "dropped", "error", "centre_shutdown"})
