"""Simple step types: consent, query, evaluate, finish."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kiosk.documents.textfmt import render
from kiosk.flows.engine import FlowContext, StepError, StepResult
from kiosk.flows.interaction import ask
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps import StepType, step_type

log = logging.getLogger(__name__)


@step_type
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


def _render_request(obj: Any, data: Mapping[str, Any]) -> Any:
    if isinstance(obj, str):
        return render(obj, data)
    if isinstance(obj, Mapping):
        return {k: _render_request(v, data) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_render_request(v, data) for v in obj]
    return obj


@step_type
class QueryStep(StepType):
    """POST a templated request to the platform and keep the answer for later steps."""

    name = "query"
    required = ("endpoint", "store_as")
    optional = ("request", "progress")
    string_params = ("progress",)

    def run(self, ctx: FlowContext) -> StepResult:
        t = ctx.t
        ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, t(self.param("progress", "query.progress")),
                               illustration="search", idle=False))
        if ctx.backend is None:
            raise StepError("backend.unreachable", "no backend configured")
        body = _render_request(self.param("request", {}), ctx.template_data())
        from kiosk.backend.client import BackendError

        try:
            answer = ctx.backend.post_json(self.param("endpoint"), body)
        except BackendError as err:
            raise StepError(err.key, err.detail, retry=err.retryable) from err
        ctx.data[self.param("store_as")] = answer
        return StepResult("next")


@step_type
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


@step_type
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
