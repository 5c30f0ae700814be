"""The seal hook of the print steps: seal the certificate with its office's e-seal and
verify it before it goes to the printer (docs/sealing.md).

A terminal seals when it has a trusted root (`ctx.terminal["seal_root"]`, from
`backend.seal_root` or the embedded platform). Then a certificate is printed only sealed
and verified: when the platform's signing or time-stamping service cannot be reached,
or the sealed file fails its own check, the citizen is told so (nothing printed, an
unsealed copy would not be valid) and may try again or cancel. The sealed document
replaces the rendered one in the flow's data, so a reprint or a printer retry prints the
same sealed file without sealing it again.
"""

from __future__ import annotations

import logging

from kiosk.documents.sealing import SealedPdf, SealError, seal_pdf
from kiosk.documents.textfmt import render
from kiosk.documents.types import RenderedPdf
from kiosk.documents.verify import load_roots, verify_pdf
from kiosk.flows.context import FlowContext, StepError
from kiosk.flows.interaction import ask
from kiosk.flows.screens import Action, ScreenKind

log = logging.getLogger(__name__)

DEFAULT_REFERENCE = "{record.verify_code}"  # the platform's code for the document


def sealed_for_print(ctx: FlowContext, key: str, doc: RenderedPdf,
                     reference_text: str = DEFAULT_REFERENCE) -> RenderedPdf | None:
    """The document to print: sealed and verified (or as it is on a terminal that does not
    seal); None when the citizen cancelled after sealing failed."""
    root = ctx.terminal.get("seal_root", "")
    if not root or isinstance(doc, SealedPdf):
        return doc
    if ctx.flow.platform:  # another city's document (a zone service): our platform's
        # e-seals are not its office's; printed as that platform issued it (issue 17)
        log.info("%s: a document of platform %s is not sealed by the terminal's platform",
                 ctx.flow.id, ctx.flow.platform)
        return doc
    reference = render(reference_text, ctx.template_data())
    if not reference or ctx.backend is None:
        raise StepError("seal.refused", f"document {key!r}: no verification code or platform",
                        retry=False)
    t = ctx.t
    while True:
        ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, t("seal.progress"), illustration="printer",
                               idle=False))
        try:
            sealed = _seal_and_check(ctx, doc, reference, root)
            ctx.data[key] = sealed
            return sealed
        except SealError as err:
            log.warning("sealing %s for %s failed: %s %s", key, ctx.flow.id, err.key, err.detail)
            problem = err.key
        resp = ask(ctx.ui, ctx.screen(
            ScreenKind.ERROR, t("seal.error.title"), text=t(problem), hint=t("seal.error.hint"),
            actions=(Action("cancel", t("seal.action.cancel")),
                     Action("retry", t("seal.action.retry"), primary=True)),
            illustration="printer"))
        if resp.action != "retry":
            return None


def _seal_and_check(ctx: FlowContext, doc: RenderedPdf, reference: str,
                    root: str) -> SealedPdf:
    sealed = seal_pdf(doc, reference, ctx.backend)
    try:
        roots = load_roots(root)
    except (OSError, ValueError) as exc:
        raise SealError("seal.invalid", f"trusted root {root}: {exc}") from exc
    verdict = verify_pdf(sealed.pdf, roots)
    if not verdict.ok:  # never printed: the terminal checks its own seal like anyone would
        raise SealError("seal.invalid", f"{','.join(verdict.problems)} {verdict.detail}")
    log.info("sealed %s by %s verified (digest %s…)", reference, verdict.office,
             verdict.digest[:12])
    return sealed
