"""`print_receipt`: print the receipt; on failure the citizen may retry or go on without it.

See `_printing.py` for what happens when the printer fails and what is recorded.
"""

from __future__ import annotations

import logging

from kiosk.devices.receipt.api import ReceiptPrinter
from kiosk.documents.receipt import render_receipt
from kiosk.documents.textfmt import TemplateError
from kiosk.flows.context import FlowContext, StepError, StepResult
from kiosk.flows.screens import ScreenKind
from kiosk.flows.steps._printing import TemplateStep, failure_choice, record_print

log = logging.getLogger(__name__)


class PrintReceiptStep(TemplateStep):
    """Print the receipt; on failure the citizen may retry or go on without it."""

    name = "print_receipt"
    required = ("template",)
    # failure_hint / skip_label: what the error screen says when this receipt is the
    # visit's output (a queue ticket), instead of the generic receipt words.
    optional = ("reprint", "failure_hint", "skip_label")
    template_params = ("template",)
    string_params = ("failure_hint", "skip_label")

    def run(self, ctx: FlowContext) -> StepResult:
        name = self.param("template")
        reprint = bool(self.param("reprint", False))
        printed = ctx.data.setdefault("printed", {})
        if printed.get("receipt") and not reprint:
            return StepResult("next")
        printer: ReceiptPrinter = ctx.device("receipt")
        try:  # laid out for this printer's paper width; the printer encodes it itself
            receipt = render_receipt(ctx.package.templates[name], ctx.template_data(),
                                     columns=printer.columns)
        except TemplateError as err:
            raise StepError("device.receipt.bad_document", str(err), retry=False,
                            skippable=True) from err
        attempt = 0
        while True:
            attempt += 1
            ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, ctx.t("print.receipt.progress"),
                                   illustration="receipt", idle=False))
            outcome = printer.print_receipt(receipt)
            record_print(ctx, "receipt", name, outcome, attempt, reprint)
            if outcome.ok:
                printed["receipt"] = {"pages": outcome.pages}
                return StepResult("next")
            log.warning("receipt print failed: %s %s", outcome.error_key, outcome.detail)
            if not outcome.retryable:  # this printer cannot print it: offer to go on
                raise StepError(outcome.error_key, outcome.detail, retry=False, skippable=True)
            if failure_choice(ctx, outcome, receipt=True, hint=self.param("failure_hint", ""),
                              skip=self.param("skip_label", "")) != "retry":
                return StepResult("next")
