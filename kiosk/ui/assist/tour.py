"""Every screen of a help call, one after another, for the gallery (kiosk/ui/gallery.py):
drawn from states, without a call, so the layout check sees each in every panel size,
mode and language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.ui.assist.state import CallState, Phase

AGENT = "07"  # a display name as the centre gives it (digits read the same in any language)
TOUR: tuple[tuple[str, CallState, bool], ...] = (
    ("assist-consent", CallState(Phase.CONSENT), False),
    ("assist-calling", CallState(Phase.CALLING), False),
    ("assist-queued", CallState(Phase.QUEUED, position=3, wait_s=150, agents=2), False),
    ("assist-in-call", CallState(Phase.IN_CALL, agent=AGENT, media=True), False),
    ("assist-in-call-bar", CallState(Phase.IN_CALL, agent=AGENT, media=True), True),
    ("assist-held", CallState(Phase.HELD, agent=AGENT), False),
    ("assist-transferring", CallState(Phase.TRANSFERRING, agent=AGENT), False),
    ("assist-reconnecting", CallState(Phase.RECONNECTING, agent=AGENT), True),
    ("assist-ended", CallState(Phase.ENDED, reason="dropped"), False),
    ("assist-offers", CallState(Phase.OFFERS, reason="no_answer"), False),
    ("assist-callback", CallState(Phase.CALLBACK), False),
    ("assist-callback-done", CallState(Phase.CALLBACK_DONE), False),
)


def assist_tour(win: Any, look: Callable[[str], None]) -> None:
    """Show each state on `win` (a MainWindow with remote help) and `look` at it."""
    ctl = win.assist
    if ctl is None:
        return
    for name, state, minimised in TOUR:
        ctl.show_state(state, minimised=minimised)
        look(name)
    ctl.show_state(CallState())
