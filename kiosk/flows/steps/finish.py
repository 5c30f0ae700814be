"""`finish`: the closing screen (take your documents and your card); ends the flow."""

from __future__ import annotations

from kiosk.flows.context import FlowContext, StepResult
from kiosk.flows.interaction import ask
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps.base import StepType


class FinishStep(StepType):
    name = "finish"
    optional = ("text", "title")
    string_params = ("text", "title")

    def run(self, ctx: FlowContext) -> StepResult:
        t = ctx.t
        screen = ctx.screen(ScreenKind.RESULT, t(self.param("title", "result.title")),
                            text=t(ctx.for_identity(self.param("text", "result.take"))),
                            illustration="check",
                            actions=(Action("done", t("common.done"), primary=True),),
                            position=(0, 0))
        ask(ctx.ui, screen)
        return StepResult("done")
