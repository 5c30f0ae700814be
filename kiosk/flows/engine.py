"""Run a declarative flow: look up each step's type by name, follow transitions.

The engine runs on a worker thread. Steps talk to the person only through the
`Interaction` port and to devices only through their typed interfaces, so the same
flow runs under the Qt UI, in the headless demo and in tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from kiosk.flows.context import FlowContext, FlowResult, StepError, StepResult
from kiosk.flows.interaction import FlowCancelled, ask
from kiosk.flows.model import END
from kiosk.flows.screens import Action, Response, ScreenKind

# Callers that imported the step types from here keep working (they live in context.py).
__all__ = ["FlowContext", "FlowEngine", "FlowResult", "StepError", "StepResult"]

log = logging.getLogger(__name__)


class FlowEngine:
    def __init__(self, step_types: Mapping[str, type] | None = None) -> None:
        if step_types is None:
            # The registry holds built-in step types by name and imports each one the
            # first time a flow uses it; no step module is imported here.
            from kiosk.flows.steps.registry import STEP_TYPES

            step_types = STEP_TYPES
        self.step_types = step_types

    def run(self, ctx: FlowContext) -> FlowResult:
        flow = ctx.flow
        index = 0
        ran: list[str] = []
        started = time.monotonic()
        while 0 <= index < len(flow.steps):
            sdef = flow.steps[index]
            ctx.step_id = sdef.id
            ctx.position = flow.position(sdef.id)
            step = self.step_types[sdef.type](sdef)
            try:
                result = step.run(ctx)
            except FlowCancelled:
                log.info("flow %s cancelled at %s", flow.id, sdef.id)
                return FlowResult("cancelled", steps_run=tuple(ran))
            except StepError as err:
                log.warning("flow %s step %s failed: %s", flow.id, sdef.id, err)
                try:
                    choice = self._error_screen(ctx, err)
                except FlowCancelled:
                    return FlowResult("cancelled", err.key, tuple(ran))
                if choice == "retry":
                    continue
                if choice == "skip":
                    result = StepResult("next")
                else:
                    return FlowResult("failed", err.key, tuple(ran))
            except Exception:  # a bug: tell the citizen plainly, keep the terminal alive
                log.exception("flow %s step %s crashed", flow.id, sdef.id)
                try:
                    self._error_screen(ctx, StepError("error.app", retry=False))
                except FlowCancelled:
                    pass
                return FlowResult("failed", "error.app", tuple(ran))
            ran.append(sdef.id)
            target = sdef.on.get(result.outcome)
            if target == END:
                break
            if target is not None:
                index = flow.index_of(target)
            elif result.outcome == "next":
                index += 1
            elif result.outcome in ("cancel", "done"):
                out = "cancelled" if result.outcome == "cancel" else "completed"
                log.info("flow %s ended (%s) at %s", flow.id, out, sdef.id)
                return FlowResult(out, steps_run=tuple(ran))
            else:
                raise RuntimeError(f"{flow.id}.{sdef.id}: no transition for {result.outcome!r}")
        log.info("flow %s completed in %.2fs", flow.id, time.monotonic() - started)
        return FlowResult("completed", steps_run=tuple(ran))

    @staticmethod
    def _error_screen(ctx: FlowContext, err: StepError) -> str:
        t = ctx.t
        actions = []
        if err.skippable:
            actions.append(Action("skip", t("common.skip")))
        actions.append(Action("home", t("common.home")))
        if err.retry:
            actions.append(Action("retry", t("common.retry"), primary=True))
        screen = ctx.screen(ScreenKind.ERROR, t("error.title"), text=t(err.key),
                            hint=t("error.next_step"), actions=tuple(actions),
                            illustration="error")
        resp: Response = ask(ctx.ui, screen)
        return resp.action
