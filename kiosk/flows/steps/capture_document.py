"""`capture_document`: the citizen lays paper pages under the document camera (高拍仪).

Screens: a live view with a page frame (take, back); after each take the clean page as
it will be sent (retake, add another page, done); after done the pages go as one PDF
through the outbox stream `materials` (sealed at rest, deleted once the platform
acknowledged it). Nothing else is kept: the pages live in this step's memory only, and
`ctx.data["materials"][<store_as>]` records how many pages went and the PDF's digest.

Parameters: `material` (what the platform files it as, e.g. "household_register"),
`title` and `text` (string keys), `max_pages` (10), `min_pages` (1), `store_as` (the
step id), `timeout_s` (a still must come within it, 5).

Outcomes: `next` once the material is queued; `cancel` when the citizen goes back.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import Any

from kiosk.devices.base import DeviceState
from kiosk.devices.doccam.api import DocumentCamera
from kiosk.flows.context import FlowContext, StepError, StepResult
from kiosk.flows.interaction import ask
from kiosk.flows.model import DefinitionError
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps.base import StepType

log = logging.getLogger(__name__)

STREAM = "materials"


class CaptureDocumentStep(StepType):
    name = "capture_document"
    required = ("material",)
    optional = ("title", "text", "max_pages", "min_pages", "store_as", "timeout_s")
    string_params = ("title", "text")

    @classmethod
    def validate(cls, step, pkg, file, path):  # type: ignore[no-untyped-def]
        super().validate(step, pkg, file, path)
        p = step.params
        if not isinstance(p.get("material"), str) or not p["material"]:
            raise DefinitionError(file, f"{path}.material", "must name the material")
        for key, default in (("max_pages", 10), ("min_pages", 1), ("timeout_s", 5)):
            v = p.get(key, default)
            if not isinstance(v, int | float) or isinstance(v, bool) or v <= 0:
                raise DefinitionError(file, f"{path}.{key}", "must be a positive number")
        if int(p.get("min_pages", 1)) > int(p.get("max_pages", 10)):
            raise DefinitionError(file, f"{path}.min_pages", "more than max_pages")

    def run(self, ctx: FlowContext) -> StepResult:
        camera = self._camera(ctx)
        pages: list[Any] = []
        try:
            while True:
                page = self._take(ctx, camera, len(pages))
                if page is None:
                    if pages:  # back from the live view: to the last page taken
                        page = pages.pop()
                    else:
                        return StepResult("cancel")
                choice = self._review(ctx, page, len(pages) + 1)
                if choice == "retake":
                    continue
                pages.append(page)
                if choice == "done":
                    self._send(ctx, pages)
                    return StepResult("next")
        finally:
            pages.clear()  # the pictures go with this step

    # -- the device ----------------------------------------------------------------------
    def _camera(self, ctx: FlowContext) -> Any:
        cam = ctx.devices.get("doccam")
        if not isinstance(cam, DocumentCamera):
            raise StepError("doccam.unavailable", "no document camera", retry=False)
        state = cam.status().state
        if state in (DeviceState.OFFLINE, DeviceState.NO_DEVICE, DeviceState.HARDWARE_ERROR):
            raise StepError("doccam.unavailable", state.value, retry=True)
        return cam

    # -- screens -------------------------------------------------------------------------
    def _title(self, ctx: FlowContext) -> str:
        return ctx.t(self.param("title", "doccam.title"))

    def _take(self, ctx: FlowContext, camera: Any, taken: int) -> Any | None:
        """Live view until the citizen takes a picture: the processed page, or None (back)."""
        from kiosk.documents.capture import CaptureError, process_photo

        t = ctx.t
        status = t("doccam.page_n", n=taken + 1)
        while True:
            screen = ctx.screen(ScreenKind.CAMERA, self._title(ctx),
                                text=t(self.param("text", "doccam.instructions")),
                                status=status, camera=camera, guide="page",
                                actions=(Action("back", t("common.back")),
                                         Action("take", t("doccam.take"), primary=True)))
            if ask(ctx.ui, screen).action != "take":
                return None
            ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, self._title(ctx),
                                   text=t("doccam.processing"), illustration="certificate",
                                   idle=False))
            frame = camera.still(float(self.param("timeout_s", 5)))
            if frame is None:
                log.warning("document camera gave no picture (%s)", camera.status().state.value)
                status = t("doccam.no_picture")
                continue
            try:
                return process_photo(frame.image)
            except CaptureError as err:
                log.warning("page not made: %s %s", err.key, err.detail)
                status = t(err.key)
            finally:
                del frame

    def _review(self, ctx: FlowContext, page: Any, n: int) -> str:
        """Show the page as it will be sent: retake, add another, or done."""
        from kiosk.documents.capture import pages_pdf

        t = ctx.t
        actions = [Action("retake", t("doccam.retake"))]
        if n < int(self.param("max_pages", 10)):
            actions.append(Action("add", t("doccam.add_page")))
        if n >= int(self.param("min_pages", 1)):
            actions.append(Action("done", t("doccam.done"), primary=True))
        hint = t("doccam.check_page") if page.found else t("doccam.page_not_found")
        screen = ctx.screen(ScreenKind.PREVIEW, t("doccam.review_title", n=n), hint=hint,
                            document=pages_pdf([page], quality=70), actions=tuple(actions))
        return ask(ctx.ui, screen).action

    # -- sending -------------------------------------------------------------------------
    def _send(self, ctx: FlowContext, pages: list[Any]) -> None:
        from kiosk.documents.capture import pages_pdf

        ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, self._title(ctx), text=ctx.t("doccam.sending"),
                               illustration="certificate", idle=False))
        pdf = pages_pdf(pages)
        digest = hashlib.sha256(pdf).hexdigest()
        # The outbox seals the payload at rest and deletes it once the platform
        # acknowledged it; this is the only copy the terminal keeps.
        ctx.record(STREAM, {
            "material": self.param("material"), "flow": ctx.flow.id, "step": self.step.id,
            "session": ctx.session.id, "pages": len(pages), "content_type": "application/pdf",
            "sha256": digest, "pdf_b64": base64.b64encode(pdf).decode("ascii"),
            "page_found": [p.found for p in pages]})
        key = self.param("store_as", self.step.id)
        ctx.data.setdefault("materials", {})[key] = {
            "material": self.param("material"), "pages": len(pages), "sha256": digest}
        ctx.record("audit", {"event": "materials_captured", "step": self.step.id,
                             "material": self.param("material"), "pages": len(pages),
                             "session": ctx.session.id})
