"""`enter_text`: type a short text on the on-screen keys (a ticket number, pinyin initials)."""

from __future__ import annotations

import re

from kiosk.flows.context import FlowContext, StepError, StepResult
from kiosk.flows.interaction import ask
from kiosk.flows.model import DefinitionError
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps._forms import back_outcome, say
from kiosk.flows.steps.base import StepType

MAX_MISSES = 5  # invalid entries in a row before the citizen is sent to staff
KEYSETS = {"letters": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "digits": "0123456789",
           "alnum": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"}


class EnterTextStep(StepType):
    """Type a short text on the on-screen keys (a ticket number, pinyin initials)."""

    name = "enter_text"
    required = ("store_as",)
    optional = ("title", "text", "hint", "keys", "max_len", "pattern", "invalid", "back")
    string_params = ("title", "text", "hint", "invalid")

    @classmethod
    def validate(cls, step, pkg, file, path):  # type: ignore[no-untyped-def]
        super().validate(step, pkg, file, path)
        pattern = step.params.get("pattern")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise DefinitionError(file, f"{path}.pattern", f"not a valid pattern: {exc}") \
                    from None

    def run(self, ctx: FlowContext) -> StepResult:
        t = ctx.t
        keys = self.param("keys", "alnum")
        keys = KEYSETS.get(keys, keys)
        pattern = self.param("pattern")
        entry, status, misses = "", "", 0
        while True:
            screen = ctx.screen(ScreenKind.KEYBOARD, say(ctx, self.param("title", "text.title")),
                                text=say(ctx, self.param("text", "")),
                                hint=say(ctx, self.param("hint", "")), status=status,
                                keys=keys, entry=entry, max_len=int(self.param("max_len", 12)),
                                actions=(Action("back", t("common.back")),
                                         Action("confirm", t("common.confirm"), primary=True)))
            resp = ask(ctx.ui, screen)
            if resp.action in ("back", "cancel"):
                return StepResult(back_outcome(self.step))
            if resp.action != "confirm":
                continue
            entry = str(resp.value or "").strip().upper()
            if not entry or (pattern and not re.fullmatch(pattern, entry)):
                misses += 1
                if misses >= MAX_MISSES:  # stuck: offer staff help rather than a loop
                    raise StepError("text.too_many_tries", retry=False)
                status = t(self.param("invalid", "text.invalid"))
                continue
            ctx.data[self.param("store_as")] = entry
            return StepResult("next")
