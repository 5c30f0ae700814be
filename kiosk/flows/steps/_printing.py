"""Shared by the document step types: template checks at load, print records, failure screens.

Print semantics: a print step waits for the job's real outcome. When the printer
fails (paper out, jam, cover open, offline) the citizen sees what happened and
chooses: print again, cancel (A4) / skip (receipt), or get help. A document that
printed is never printed again in the same visit unless the step says
`reprint = true` (a step the citizen reaches by asking for a reprint). Every
attempt is recorded with `ctx.record("print", …)` for the outbox: document kind,
page count, masked citizen, outcome.
"""

from __future__ import annotations

from typing import Any

from kiosk.devices.base import PrintOutcome
from kiosk.documents.schema import TemplateSchemaError, validate_template
from kiosk.flows.context import FlowContext
from kiosk.flows.interaction import ask
from kiosk.flows.model import DefinitionError, StepDef
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps.base import StepType
from kiosk.identity import mask_id_number


class TemplateStep(StepType):
    """Validates the templates it names when the package loads."""

    @classmethod
    def validate(cls, step: StepDef, pkg: Any, file: str, path: str) -> None:
        super().validate(step, pkg, file, path)
        for key in cls.template_params:
            name = step.params.get(key)
            if name is not None and name in pkg.templates:
                try:
                    validate_template(pkg.templates[name], f"templates/{name}.toml",
                                      asset_exists=asset_checker(pkg))
                except TemplateSchemaError as err:
                    raise DefinitionError(err.file, err.path, err.problem) from err


def asset_checker(pkg: Any) -> Any:
    def exists(rel: str) -> bool:
        try:
            pkg.asset(rel)
        except DefinitionError:
            return False
        return True

    return exists


def masked_citizen(ctx: FlowContext) -> str:
    ident = ctx.session.identity
    return mask_id_number(ident.id_number) if ident is not None else ""


def record_print(ctx: FlowContext, kind: str, document: str, outcome: PrintOutcome,
                 attempt: int, reprint: bool) -> None:
    ctx.record("print", {
        "printer": kind,
        "document": document,
        "flow": ctx.flow.id,
        "step": ctx.step_id,
        "pages": outcome.pages,
        "citizen": masked_citizen(ctx),
        "outcome": "printed" if outcome.ok else "failed",
        "error_key": outcome.error_key,
        "job_id": outcome.job_id,
        "attempt": attempt,
        "reprint": reprint,
    })


def failure_choice(ctx: FlowContext, outcome: PrintOutcome, *, receipt: bool) -> str:
    """Show what failed; returns retry | cancel | skip. 'help' shows help and comes back."""
    t = ctx.t
    default = "device.receipt.offline" if receipt else "device.a4.offline"
    problem = t(outcome.error_key or default)
    actions = [Action("help", t("print.action.help"))]
    actions.append(Action("skip", t("print.action.skip")) if receipt
                   else Action("cancel", t("print.action.cancel")))
    actions.append(Action("retry", t("print.action.retry"), primary=True))
    while True:
        resp = ask(ctx.ui, ctx.screen(
            ScreenKind.ERROR, t("print.error.title"), text=problem,
            hint=t("print.error.hint_receipt" if receipt else "print.error.hint"),
            actions=tuple(actions), illustration="printer"))
        if resp.action != "help":
            return resp.action
        ask(ctx.ui, ctx.screen(
            ScreenKind.INFO, t("print.help.title"), text=t("print.help.text"),
            rows=((t("print.help.terminal"), str(ctx.terminal.get("id", ""))),
                  (t("print.help.problem"), problem)),
            actions=(Action("back", t("print.action.back"), primary=True),),
            illustration="help"))
