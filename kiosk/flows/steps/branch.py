"""`branch`: take a transition by a data condition (shows nothing)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from kiosk.flows.context import FlowContext, StepResult
from kiosk.flows.model import DefinitionError
from kiosk.flows.steps._forms import check_outcome
from kiosk.flows.steps.base import StepType
from kiosk.flows.steps.conditions import check_condition, holds

log = logging.getLogger(__name__)


class BranchStep(StepType):
    """Take a transition by a data condition: the first matching case wins.

    `cases = [{ when = {path = "record.result", equals = "found"}, outcome = "found" }]`,
    `default = "next"`. Shows nothing.
    """

    name = "branch"
    required = ("cases",)
    optional = ("default",)

    @classmethod
    def validate(cls, step, pkg, file, path):  # type: ignore[no-untyped-def]
        super().validate(step, pkg, file, path)
        cases = step.params["cases"]
        if not isinstance(cases, list) or not cases:
            raise DefinitionError(file, f"{path}.cases", "must be a non-empty list")
        for i, case in enumerate(cases):
            p = f"{path}.cases[{i}]"
            if not isinstance(case, Mapping) or set(case) != {"when", "outcome"}:
                raise DefinitionError(file, p, "needs exactly `when` and `outcome`")
            check_condition(case["when"], file, f"{p}.when")
            check_outcome(step, case["outcome"], file, f"{p}.outcome")
        check_outcome(step, step.params.get("default", "next"), file, f"{path}.default")

    def run(self, ctx: FlowContext) -> StepResult:
        data = ctx.template_data()
        for case in self.param("cases"):
            if holds(case["when"], data):
                log.info("branch %s.%s -> %s", ctx.flow.id, self.step.id, case["outcome"])
                return StepResult(case["outcome"])
        return StepResult(self.param("default", "next"))
