"""`ticket`: ask the platform to issue something once (a queue number), idempotently."""

from __future__ import annotations

import uuid

from kiosk.backend.errors import BackendError
from kiosk.documents.textfmt import TemplateError
from kiosk.flows.context import FlowContext, StepError, StepResult
from kiosk.flows.screens import ScreenKind
from kiosk.flows.steps._request import check_request, render_request
from kiosk.flows.steps.base import StepType


class TicketStep(StepType):
    """Ask the platform to issue something once (a queue number): an idempotent POST.

    The idempotency key is kept for the session, so a retry after a timeout or a
    lost answer gets the same ticket instead of a second one.
    """

    name = "ticket"
    required = ("endpoint",)
    optional = ("request", "store_as", "progress")
    string_params = ("progress",)

    @classmethod
    def validate(cls, step, pkg, file, path):  # type: ignore[no-untyped-def]
        super().validate(step, pkg, file, path)
        check_request(step, pkg, file, path)

    def run(self, ctx: FlowContext) -> StepResult:
        progress = ctx.t(self.param("progress", "ticket.progress"))
        ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, progress, illustration="receipt", idle=False))
        if ctx.backend is None:
            raise StepError("backend.unreachable", "no backend configured")
        try:
            # The platform is one of the two readers that get real identity values.
            body = render_request(self.param("request", {}), ctx.template_data(reveal=True))
        except TemplateError as err:
            raise StepError("error.app", str(err), retry=False) from err
        keys = ctx.data.setdefault("_idempotency", {})
        key = keys.setdefault(self.step.id, uuid.uuid4().hex)
        try:
            answer = ctx.backend.post_json(self.param("endpoint"), body, idempotency_key=key)
        except BackendError as err:
            raise StepError(err.key, err.detail, retry=err.retryable) from err
        ctx.data[self.param("store_as", "ticket")] = answer
        return StepResult("next")
