"""`query`: POST a templated request to the platform and keep the answer for later steps."""

from __future__ import annotations

from kiosk.backend.errors import BackendError
from kiosk.flows.context import FlowContext, StepError, StepResult
from kiosk.flows.screens import ScreenKind
from kiosk.flows.steps._request import check_request, render_request
from kiosk.flows.steps.base import StepType


class QueryStep(StepType):
    """POST a templated request to the platform and keep the answer for later steps."""

    name = "query"
    required = ("endpoint", "store_as")
    optional = ("request", "progress")
    string_params = ("progress",)

    @classmethod
    def validate(cls, step, pkg, file, path):  # type: ignore[no-untyped-def]
        super().validate(step, pkg, file, path)
        check_request(step, pkg, file, path)

    def run(self, ctx: FlowContext) -> StepResult:
        t = ctx.t
        ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, t(self.param("progress", "query.progress")),
                               illustration="search", idle=False))
        if ctx.backend is None:
            raise StepError("backend.unreachable", "no backend configured")
        # The platform is one of the two readers that get real identity values.
        body = render_request(self.param("request", {}), ctx.template_data(reveal=True))
        try:
            answer = ctx.backend.post_json(self.param("endpoint"), body)
        except BackendError as err:
            raise StepError(err.key, err.detail, retry=err.retryable) from err
        ctx.data[self.param("store_as")] = answer
        return StepResult("next")
