"""`consent`: the citizen agrees (or not) to a text before the service goes on."""

from __future__ import annotations

from kiosk.flows.context import FlowContext, StepResult
from kiosk.flows.interaction import ask
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps.base import StepType


class ConsentStep(StepType):
    name = "consent"
    required = ("text",)
    optional = ("title",)
    string_params = ("text", "title")

    def run(self, ctx: FlowContext) -> StepResult:
        t = ctx.t
        screen = ctx.screen(ScreenKind.CONSENT, t(self.param("title", "consent.title")),
                            text=t(self.param("text")), illustration="consent",
                            actions=(Action("disagree", t("common.disagree")),
                                     Action("agree", t("common.agree"), primary=True)))
        resp = ask(ctx.ui, screen)
        return StepResult("next" if resp.action == "agree" else "cancel")
