"""`preview`: render the A4 document, show a masked preview, print on confirmation."""

from __future__ import annotations

from kiosk.documents.a4 import render_a4
from kiosk.documents.textfmt import TemplateError
from kiosk.flows.context import FlowContext, StepError, StepResult
from kiosk.flows.interaction import ask
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps._printing import TemplateStep


class PreviewStep(TemplateStep):
    """Render the A4 document; show a masked preview; print on confirmation."""

    name = "preview"
    required = ("template",)
    optional = ("store_as", "title")
    template_params = ("template",)
    string_params = ("title",)

    def run(self, ctx: FlowContext) -> StepResult:
        t = ctx.t
        template = ctx.package.templates[self.param("template")]
        try:  # the printed certificate may show `identity.full.*`; the screen never does
            doc = render_a4(template, ctx.template_data(reveal=True), ctx.package.asset)
            preview = render_a4(template, ctx.template_data(), ctx.package.asset, masked=True)
        except TemplateError as err:
            raise StepError("device.a4.bad_document", str(err), retry=False) from err
        key = self.param("store_as", "document")
        ctx.data[key] = doc
        ctx.data.setdefault("document_kinds", {})[key] = self.param("template")
        # The screen draws the masked document's pages itself, at the size it needs (to
        # page through and zoom in); the hint says truthfully what the printout shows
        # (the template's `print_note`), not just what the screen hides.
        note = template.get("print_note") or "preview.hint"
        screen = ctx.screen(ScreenKind.PREVIEW, t(self.param("title", "preview.title")),
                            hint=t(note), document=preview.pdf,
                            actions=(Action("cancel", t("common.cancel")),
                                     Action("print", t("common.print"), primary=True)))
        resp = ask(ctx.ui, screen)
        return StepResult("next" if resp.action == "print" else "cancel")
