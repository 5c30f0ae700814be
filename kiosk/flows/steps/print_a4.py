"""`print_a4`: print the rendered document once and wait for the printer's real outcome.

See `_printing.py` for what happens when the printer fails and what is recorded.
"""

from __future__ import annotations

import logging

from kiosk.documents.a4 import RenderedPdf
from kiosk.flows.context import FlowContext, StepError, StepResult
from kiosk.flows.screens import ScreenKind
from kiosk.flows.steps._printing import failure_choice, record_print
from kiosk.flows.steps._sealing import DEFAULT_REFERENCE, sealed_for_print
from kiosk.flows.steps.base import StepType

log = logging.getLogger(__name__)


class PrintA4Step(StepType):
    """Print the rendered document once and wait for the printer's real outcome."""

    name = "print_a4"
    # seal_reference: the platform's code for the document, whose office seals it
    optional = ("document", "title", "reprint", "timeout_s", "seal_reference")

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
        sealed = sealed_for_print(ctx, key, doc,
                                  str(self.param("seal_reference", DEFAULT_REFERENCE)))
        if sealed is None:  # could not be sealed: nothing printed, the citizen cancelled
            return StepResult("cancel")
        doc = sealed
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
            record_print(ctx, "a4", kind, outcome, attempt, reprint)
            if outcome.ok:
                printed[key] = {"job_id": outcome.job_id, "pages": outcome.pages,
                                "copies": (printed.get(key) or {}).get("copies", 0) + 1}
                return StepResult("next")
            choice = failure_choice(ctx, outcome, receipt=False)
            if choice != "retry":
                return StepResult("cancel")
