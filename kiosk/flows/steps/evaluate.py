"""`evaluate`: an optional 1-5 star rating with reason tags (好差评), sent via the outbox."""

from __future__ import annotations

from collections.abc import Mapping

from kiosk.documents.textfmt import render
from kiosk.flows.context import FlowContext, StepError, StepResult
from kiosk.flows.interaction import ask
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps.base import StepType


class EvaluateStep(StepType):
    """Optional 1-5 star rating with reason tags."""

    name = "evaluate"
    optional = ("tags", "service", "ticket")  # ticket: e.g. "{ticket_no}" (好差评 by number)
    string_params = ("tags",)

    def run(self, ctx: FlowContext) -> StepResult:
        t = ctx.t
        tags = tuple(Action(k, t(k)) for k in self.param("tags", []))
        screen = ctx.screen(ScreenKind.RATING, t("evaluate.title"), text=t("evaluate.prompt"),
                            options=tags,
                            actions=(Action("skip", t("common.skip")),
                                     Action("submit", t("common.submit"), primary=True)))
        resp = ask(ctx.ui, screen)
        if resp.action != "submit" or not isinstance(resp.value, Mapping):
            return StepResult("next")
        stars = int(resp.value.get("stars", 0))
        if not 1 <= stars <= 5:
            return StepResult("next")
        payload = {
            "service": self.param("service", ctx.flow.id),
            "stars": stars,
            "tags": [str(x) for x in resp.value.get("tags", [])],
            "terminal_id": ctx.terminal.get("id", ""),
            "session": ctx.session.id,
        }
        if self.param("ticket"):
            payload["ticket"] = render(self.param("ticket"), ctx.template_data())
        ctx.data["evaluation"] = payload
        # Durable outbox: delivered by the replay worker, online or not (issue 6).
        try:
            ctx.record("evaluation", payload)
        except StepError as err:  # outbox full or unavailable: say so, let them go on
            raise StepError(err.key, err.detail, retry=False, skippable=True) from err
        return StepResult("next")
