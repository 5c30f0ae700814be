"""`verify_certificate`: scan the QR code on a paper certificate and show what the platform
issued under it (the terminal's side of the public verification page, docs/sealing.md).

The QR code holds the verification page's address (`…/verify/<code>`); a bare code is
taken too. The platform answers the document type, office, issue date, the holder
(masked) and whether it was sealed (`POST /api/v1/verification/lookup`). A code that is
not a certificate's is refused on the spot and the scanner keeps listening; an unknown
one says so. Paper cannot be checked byte for byte: the screen says that the printout must
match these facts, and that the PDF can be compared on the page.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from kiosk.backend.errors import BackendError
from kiosk.devices.base import Cancelled, DeviceError
from kiosk.flows.context import FlowContext, StepError, StepResult
from kiosk.flows.interaction import Pending, ask
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps.base import StepType

log = logging.getLogger(__name__)

LOOKUP = "/api/v1/verification/lookup"
CODE = re.compile(r"^(?:https?://[^\s]+/verify/)?([A-Z0-9]{4}(?:-[A-Z0-9]{4}){2})$")


def certificate_code(scanned: str) -> str:
    """The verification code in a scanned value ("" when it is not a certificate's)."""
    m = CODE.match(scanned.strip())
    return m.group(1) if m else ""


class VerifyCertificateStep(StepType):
    """Scan a certificate's QR code; show what the platform issued under it."""

    name = "verify_certificate"
    optional = ("timeout_s",)

    def run(self, ctx: FlowContext) -> StepResult:
        if ctx.backend is None:
            raise StepError("backend.unreachable", "no platform", retry=False)
        scanner = ctx.device("scanner")
        hint = ""
        while True:
            pending = ctx.ui.show(ctx.screen(
                ScreenKind.INFO, ctx.t("verify.scan.title"), text=ctx.t("verify.scan.text"),
                hint=ctx.t(hint) if hint else "", illustration="search",
                actions=(Action("cancel", ctx.t("common.cancel")),)))
            scanned = _scan(ctx, pending, scanner, float(self.param("timeout_s", 60)))
            if scanned is None:
                return StepResult("cancel")
            code = certificate_code(scanned)
            if not code:
                log.info("verify: not a certificate's code (len=%d)", len(scanned))
                hint = "verify.not_certificate"
                continue
            pending.resolve(None)  # the scan screen is done with
            if _show(ctx, code) != "again":
                return StepResult("next")
            hint = ""


def _scan(ctx: FlowContext, pending: Pending, scanner: Any, timeout: float) -> str | None:
    """The next code shown; None when the citizen cancelled or nobody scanned in time."""
    stop = threading.Event()
    box: dict[str, Any] = {}

    def read() -> None:
        try:
            box["code"] = scanner.read_code(timeout, stop)
        except Cancelled:
            pass
        except DeviceError as err:
            box["error"] = err

    worker = threading.Thread(target=read, daemon=True, name="verify-scan")
    worker.start()
    try:
        while worker.is_alive():
            if pending.answered(ctx.session.cancel) is not None:  # cancel pressed
                return None
            worker.join(0.05)
    finally:
        stop.set()
    err = box.get("error")
    if isinstance(err, DeviceError):
        if err.key.endswith("timeout"):
            return None
        raise StepError(err.key, err.detail, retry=False)
    return str(box["code"]) if "code" in box else None


def _show(ctx: FlowContext, code: str) -> str:
    """Show the platform's facts for `code`; the citizen's choice (again | done)."""
    t = ctx.t
    actions = (Action("again", t("verify.action.again")),
               Action("done", t("verify.action.done"), primary=True))
    try:
        facts = ctx.backend.post_json(LOOKUP, {"code": code})
    except BackendError as err:
        if err.key != "backend.unknown_document":
            raise StepError(err.key, err.detail) from err
        return ask(ctx.ui, ctx.screen(
            ScreenKind.ERROR, t("verify.unknown.title"), text=t("verify.unknown.text"),
            rows=((t("verify.row.code"), code),), actions=actions, illustration="error")).action
    sealed = bool(facts.get("sealed"))
    rows = ((t("verify.row.code"), code), (t("verify.row.type"), str(facts.get("title", ""))),
            (t("verify.row.office"), str(facts.get("office", ""))),
            (t("verify.row.issued"), str(facts.get("issued_at", ""))),
            (t("verify.row.holder"), str(facts.get("holder", ""))),
            (t("verify.row.seal"), t("verify.sealed" if sealed else "verify.not_sealed")))
    return ask(ctx.ui, ctx.screen(
        ScreenKind.INFO if sealed else ScreenKind.ERROR,
        t("verify.found.title" if sealed else "verify.unsealed.title"),
        text=t("verify.found.text"), rows=rows, actions=actions,
        illustration="certificate")).action
