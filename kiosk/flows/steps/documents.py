"""Document step types: preview (render + show), print_a4, print_receipt.

Print semantics: a print step waits for the job's real outcome. When the printer
fails (paper out, jam, cover open, offline) the citizen sees what happened and
chooses: print again, cancel (A4) / skip (receipt), or get help. A document that
printed is never printed again in the same visit unless the step says
`reprint = true` (a step the citizen reaches by asking for a reprint). Every
attempt is recorded with `ctx.record("print", …)` for the outbox: document kind,
page count, masked citizen, outcome.
"""

from __future__ import annotations

import logging
from typing import Any

from kiosk.devices.interfaces import PrintOutcome
from kiosk.devices.receipt.escpos_protocol import EncodeError, encode_receipt
from kiosk.documents.a4 import RenderedPdf, render_a4
from kiosk.documents.preview import pdf_page_png
from kiosk.documents.receipt import render_receipt
from kiosk.documents.schema import TemplateSchemaError, validate_template
from kiosk.documents.textfmt import TemplateError
from kiosk.flows.engine import FlowContext, StepError, StepResult
from kiosk.flows.interaction import ask
from kiosk.flows.model import DefinitionError, StepDef
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps import StepType, step_type
from kiosk.identity import mask_id_number

log = logging.getLogger(__name__)


class _TemplateStep(StepType):
    """Validates the templates it names when the package loads."""

    @classmethod
    def validate(cls, step: StepDef, pkg: Any, file: str, path: str) -> None:
        super().validate(step, pkg, file, path)
        for key in cls.template_params:
            name = step.params.get(key)
            if name is not None and name in pkg.templates:
                try:
                    validate_template(pkg.templates[name], f"templates/{name}.toml",
                                      asset_exists=_asset_checker(pkg))
                except TemplateSchemaError as err:
                    raise DefinitionError(err.file, err.path, err.problem) from err


def _asset_checker(pkg: Any) -> Any:
    def exists(rel: str) -> bool:
        try:
            pkg.asset(rel)
        except DefinitionError:
            return False
        return True

    return exists


@step_type
class PreviewStep(_TemplateStep):
    """Render the A4 document; show a masked preview; print on confirmation."""

    name = "preview"
    required = ("template",)
    optional = ("store_as", "title")
    template_params = ("template",)
    string_params = ("title",)

    def run(self, ctx: FlowContext) -> StepResult:
        t = ctx.t
        template = ctx.package.templates[self.param("template")]
        data = ctx.template_data()
        try:
            doc = render_a4(template, data, ctx.package.asset)
            preview = render_a4(template, data, ctx.package.asset, masked=True)
        except TemplateError as err:
            raise StepError("device.a4.bad_document", str(err), retry=False) from err
        key = self.param("store_as", "document")
        ctx.data[key] = doc
        ctx.data.setdefault("document_kinds", {})[key] = self.param("template")
        png = pdf_page_png(preview.pdf, 0, width_px=1000)
        screen = ctx.screen(ScreenKind.PREVIEW, t(self.param("title", "preview.title")),
                            hint=t("preview.hint"), image_png=png,
                            actions=(Action("cancel", t("common.cancel")),
                                     Action("print", t("common.print"), primary=True)))
        resp = ask(ctx.ui, screen)
        return StepResult("next" if resp.action == "print" else "cancel")


def masked_citizen(ctx: FlowContext) -> str:
    ident = ctx.session.identity
    return mask_id_number(ident.id_number) if ident is not None else ""


def _record(ctx: FlowContext, kind: str, document: str, outcome: PrintOutcome,
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


def _failure_choice(ctx: FlowContext, outcome: PrintOutcome, *, receipt: bool) -> str:
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


@step_type
class PrintA4Step(StepType):
    """Print the rendered document once and wait for the printer's real outcome."""

    name = "print_a4"
    optional = ("document", "title", "reprint", "timeout_s")

    def run(self, ctx: FlowContext) -> StepResult:
        key = self.param("document", "document")
        reprint = bool(self.param("reprint", False))
        printed = ctx.data.setdefault("printed", {})
        if printed.get(key) and not reprint:
            log.info("a4 %s already printed in this visit: not printing again", key)
            return StepResult("next")
        doc = ctx.data.get(key)
        if not isinstance(doc, RenderedPdf):
            raise StepError("device.a4.bad_document", f"no document {key!r}", retry=False)
        kind = ctx.data.get("document_kinds", {}).get(key, key)
        printer = ctx.device("a4")
        attempt = 0
        while True:
            attempt += 1
            ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, ctx.t(
                "print.reprint.progress" if reprint else "print.a4.progress"),
                illustration="printer", idle=False))
            outcome = printer.print_pdf(doc.pdf, title=f"{ctx.flow.id}-{ctx.session.id[:8]}",
                                        timeout=float(self.param("timeout_s", 120)))
            log.info("a4 print %s attempt %d: ok=%s pages=%s error=%s %s", ctx.flow.id, attempt,
                     outcome.ok, outcome.pages, outcome.error_key, outcome.detail)
            _record(ctx, "a4", kind, outcome, attempt, reprint)
            if outcome.ok:
                printed[key] = {"job_id": outcome.job_id, "pages": outcome.pages,
                                "copies": (printed.get(key) or {}).get("copies", 0) + 1}
                return StepResult("next")
            choice = _failure_choice(ctx, outcome, receipt=False)
            if choice != "retry":
                return StepResult("cancel")


@step_type
class PrintReceiptStep(_TemplateStep):
    """Print the receipt; on failure the citizen may retry or go on without it."""

    name = "print_receipt"
    required = ("template",)
    optional = ("reprint",)
    template_params = ("template",)

    def run(self, ctx: FlowContext) -> StepResult:
        name = self.param("template")
        reprint = bool(self.param("reprint", False))
        printed = ctx.data.setdefault("printed", {})
        if printed.get("receipt") and not reprint:
            return StepResult("next")
        printer = ctx.device("receipt")
        profile = getattr(printer, "profile", None)
        try:
            receipt = render_receipt(ctx.package.templates[name], ctx.template_data(),
                                     columns=profile.columns if profile else 48)
            data = encode_receipt(receipt, profile)
        except (TemplateError, EncodeError) as err:
            raise StepError("device.receipt.offline", str(err), retry=False,
                            skippable=True) from err
        attempt = 0
        while True:
            attempt += 1
            ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, ctx.t("print.receipt.progress"),
                                   illustration="receipt", idle=False))
            outcome = printer.print_raw(data)
            _record(ctx, "receipt", name, outcome, attempt, reprint)
            if outcome.ok:
                printed["receipt"] = {"pages": outcome.pages}
                return StepResult("next")
            log.warning("receipt print failed: %s %s", outcome.error_key, outcome.detail)
            if _failure_choice(ctx, outcome, receipt=True) != "retry":
                return StepResult("next")
