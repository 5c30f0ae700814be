"""Document step types: preview (render + show), print_a4, print_receipt."""

from __future__ import annotations

import logging

from kiosk.devices.receipt.escpos_protocol import encode_receipt
from kiosk.documents.a4 import RenderedPdf, render_a4
from kiosk.documents.preview import pdf_page_png
from kiosk.documents.receipt import render_receipt
from kiosk.documents.textfmt import TemplateError
from kiosk.flows.engine import FlowContext, StepError, StepResult
from kiosk.flows.interaction import ask
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps import StepType, step_type

log = logging.getLogger(__name__)


@step_type
class PreviewStep(StepType):
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
        ctx.data[self.param("store_as", "document")] = doc
        png = pdf_page_png(preview.pdf, 0, width_px=1000)
        screen = ctx.screen(ScreenKind.PREVIEW, t(self.param("title", "preview.title")),
                            hint=t("preview.hint"), image_png=png,
                            actions=(Action("cancel", t("common.cancel")),
                                     Action("print", t("common.print"), primary=True)))
        resp = ask(ctx.ui, screen)
        return StepResult("next" if resp.action == "print" else "cancel")


@step_type
class PrintA4Step(StepType):
    """Print the rendered document once; a retry after failure never duplicates a success."""

    name = "print_a4"
    optional = ("document", "title")

    def run(self, ctx: FlowContext) -> StepResult:
        key = self.param("document", "document")
        printed = ctx.data.setdefault("printed", {})
        if printed.get(key):
            return StepResult("next")
        doc = ctx.data.get(key)
        if not isinstance(doc, RenderedPdf):
            raise StepError("device.a4.bad_document", f"no document {key!r}", retry=False)
        ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, ctx.t("print.a4.progress"),
                               illustration="printer", idle=False))
        printer = ctx.device("a4")
        outcome = printer.print_pdf(doc.pdf, title=f"{ctx.flow.id}-{ctx.session.id[:8]}")
        log.info("a4 print %s: ok=%s pages=%s error=%s", ctx.flow.id, outcome.ok, outcome.pages,
                 outcome.error_key)
        if not outcome.ok:
            raise StepError(outcome.error_key or "device.a4.offline", outcome.detail)
        printed[key] = True
        return StepResult("next")


@step_type
class PrintReceiptStep(StepType):
    name = "print_receipt"
    required = ("template",)
    template_params = ("template",)

    def run(self, ctx: FlowContext) -> StepResult:
        printed = ctx.data.setdefault("printed", {})
        if printed.get("receipt"):
            return StepResult("next")
        ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, ctx.t("print.receipt.progress"),
                               illustration="receipt", idle=False))
        receipt = render_receipt(ctx.package.templates[self.param("template")],
                                 ctx.template_data())
        printer = ctx.device("receipt")
        outcome = printer.print_raw(encode_receipt(receipt))
        if not outcome.ok:
            raise StepError(outcome.error_key or "device.receipt.offline", outcome.detail,
                            skippable=True)
        printed["receipt"] = True
        return StepResult("next")
