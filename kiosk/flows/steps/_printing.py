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
    if ctx.device_state is not None:
        ctx.device_state(kind, None if outcome.ok else (outcome.error_key
                                                        or f"device.{kind}.offline"))
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


def a4_printed(ctx: FlowContext) -> bool:
    """Whether an A4 document was printed in this visit (every printed key but the
    receipt is an A4 document)."""
    return any(k != "receipt" and v for k, v in ctx.data.get("printed", {}).items())


def failure_choice(ctx: FlowContext, outcome: PrintOutcome, *, receipt: bool,
                   hint: str = "", skip: str = "") -> str:
    """Show what failed; returns retry | cancel | skip. 'help' shows help and comes back.

    Every word must be true for this flow: "your certificate has printed" only when an
    A4 document did print in this visit; a flow whose receipt is its output (a queue
    ticket) names it with its own `hint` and `skip` keys.
    """
    t = ctx.t
    default = "device.receipt.offline" if receipt else "device.a4.offline"
    problem = t(outcome.error_key or default)
    if not receipt:  # "pages that printed will not print again" only if some did
        hint = hint or ("print.error.hint_reprint" if a4_printed(ctx) else "print.error.hint")
    elif not hint:
        hint = "print.error.hint_receipt" if a4_printed(ctx) else "print.error.hint_receipt_only"
    actions = [Action("help", t("print.action.help"))]
    actions.append(Action("skip", t(skip or "print.action.skip")) if receipt
                   else Action("cancel", t("print.action.cancel")))
    actions.append(Action("retry", t("print.action.retry"), primary=True))
    while True:
        resp = ask(ctx.ui, ctx.screen(
            ScreenKind.ERROR, t("print.error.title"), text=problem, hint=t(hint),
            actions=tuple(actions), illustration="printer"))
        if resp.action != "help":
            return resp.action
        ask(ctx.ui, ctx.screen(
            ScreenKind.INFO, t("print.help.title"), text=t("print.help.text"),
            rows=((t("print.help.terminal"), str(ctx.terminal.get("id", ""))),
                  (t("print.help.problem"), problem)),
            actions=(Action("back", t("print.action.back"), primary=True),),
            illustration="help"))
