"""`verify_face`: is the person at the terminal the identified citizen? Liveness + 1:1 match.

Parameters: `reference` ("auto": the ID card photo when a vendor decoder produced one,
else the platform's photo; "card"; "platform"), `threshold` (0.60), `frames_required`
(3), `liveness` (true), `liveness_timeout_s` (20), `timeout_s` (45), `mirrored` (the
camera mirrors the picture), `title`.

Outcomes: `next` when verified; `fallback` when the check failed, timed out, the camera
is missing or the citizen chose another way (the flow's `on.fallback` names the step,
typically an `identify` step with the card readers); `cancel`. Without an
`on.fallback` transition a failure is an error screen with a retry button.

Frames are never stored: the preview subscribes to the camera, the check keeps only
distances; the reference descriptor is zeroed when the step ends.
"""

from __future__ import annotations

import base64
import logging
import queue
import threading
from typing import Any

from kiosk.backend.errors import BackendError
from kiosk.devices.base import DeviceState
from kiosk.devices.camera.api import Camera
from kiosk.flows.context import FlowContext, StepError, StepResult
from kiosk.flows.model import DefinitionError
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps.base import StepType

log = logging.getLogger(__name__)

PHOTO = "/api/v1/identity/face-photo"
REFERENCES = ("auto", "card", "platform")


class _Fallback(Exception):
    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(key)
        self.key, self.detail = key, detail


class VerifyFaceStep(StepType):
    name = "verify_face"
    optional = ("title", "reference", "threshold", "frames_required", "liveness",
                "liveness_timeout_s", "timeout_s", "mirrored")

    @classmethod
    def validate(cls, step, pkg, file, path):  # type: ignore[no-untyped-def]
        super().validate(step, pkg, file, path)
        p = step.params
        if p.get("reference", "auto") not in REFERENCES:
            raise DefinitionError(file, f"{path}.reference", f"must be one of {REFERENCES}")
        t = p.get("threshold", 0.6)
        if not isinstance(t, int | float) or not 0.2 <= float(t) <= 1.0:
            raise DefinitionError(file, f"{path}.threshold", "must be a number in 0.2..1.0")
        for key in ("frames_required", "liveness_timeout_s", "timeout_s"):
            v = p.get(key, 1)
            if not isinstance(v, int | float) or isinstance(v, bool) or v <= 0:
                raise DefinitionError(file, f"{path}.{key}", "must be a positive number")

    # -- the step ---------------------------------------------------------------------------
    def run(self, ctx: FlowContext) -> StepResult:
        identity = ctx.session.identity
        if identity is None:
            raise StepError("face.no_identity", "verify_face before identify", retry=False)
        try:
            return self._verify(ctx, identity)
        except _Fallback as fb:
            log.info("face verification not possible or failed: %s %s", fb.key, fb.detail)
            return self._fallback(ctx, fb.key)

    def _fallback(self, ctx: FlowContext, key: str) -> StepResult:
        ctx.record("audit", {"event": "face_verify", "outcome": key, "step": self.step.id})
        if "fallback" in self.step.on:
            return StepResult("fallback")
        raise StepError(key, retry=True)

    def _settings(self) -> Any:
        from kiosk.face.liveness import LivenessSettings
        from kiosk.face.session import FaceCheckSettings

        return FaceCheckSettings(
            threshold=float(self.param("threshold", 0.60)),
            frames_required=int(self.param("frames_required", 3)),
            liveness=bool(self.param("liveness", True)),
            challenge=LivenessSettings(timeout_s=float(self.param("liveness_timeout_s", 20)),
                                       mirrored=bool(self.param("mirrored", False))),
            timeout_s=float(self.param("timeout_s", 45)))

    def _camera(self, ctx: FlowContext) -> Any:
        cam = ctx.devices.get("camera")
        if not isinstance(cam, Camera):
            raise _Fallback("face.camera_unavailable", "no camera")
        if cam.status().state in (DeviceState.OFFLINE, DeviceState.NO_DEVICE):
            raise _Fallback("face.camera_unavailable", cam.status().state.value)
        return cam

    def _reference_photo(self, ctx: FlowContext, identity: Any) -> bytes:
        mode = self.param("reference", "auto")
        card_photo = identity.photo if getattr(identity, "photo_format", "") != "wlt" else None
        if mode in ("auto", "card") and card_photo:
            return bytes(card_photo)
        if mode == "card":
            raise _Fallback("face.no_reference", "no decoded ID card photo")
        if ctx.backend is None:
            raise _Fallback("face.no_reference", "no platform")
        try:
            answer = ctx.backend.post_json(PHOTO, {"id_number": identity.id_number})
            return base64.b64decode(answer["image_b64"], validate=True)
        except BackendError as err:
            raise _Fallback("face.no_reference", err.key) from None
        except (KeyError, TypeError, ValueError):
            raise _Fallback("face.no_reference", "unusable answer") from None

    def _verify(self, ctx: FlowContext, identity: Any) -> StepResult:
        from kiosk.face.describer import shared_describer
        from kiosk.face.engine import shared_engine
        from kiosk.face.session import FaceCheck, Progress
        from kiosk.face.types import FaceError
        from kiosk.face.verify import describe_image

        t = ctx.t
        title = t(self.param("title", "face.title"))
        camera = self._camera(ctx)
        ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, title, text=t("face.preparing"),
                               illustration="face", idle=False))
        describer = shared_describer()
        warm = threading.Thread(target=describer.start, daemon=True, name="face-warm")
        warm.start()  # the model loads while the reference photo is fetched
        photo = self._reference_photo(ctx, identity)
        engine = shared_engine()
        try:
            reference = describe_image(photo, engine, describer)
        except FaceError as err:
            raise _Fallback("face.no_reference", err.key) from None
        finally:
            photo = b""
        check = FaceCheck(reference, self._settings(), engine, describer)
        reference.fill(0)

        actions = (Action("cancel", t("common.back")),
                   Action("other", t("face.use_other"), primary=True))

        def screen(p: Progress | None) -> Any:
            return ctx.screen(ScreenKind.CAMERA, title, text=t("face.instructions"),
                              status=t(p.prompt) if p else t("face.prompt.look"),
                              voice=t(p.prompt) if p else t("face.prompt.look"),
                              camera=camera, guide=p.guide if p else "center",
                              actions=actions, idle=False)

        stop = threading.Event()
        events: queue.Queue[Any] = queue.Queue()

        def work() -> None:
            try:
                events.put(check.run(camera, stop, events.put))
            except Exception as exc:  # the engine broke: let the citizen use another way
                log.exception("face check failed")
                events.put(_Fallback("face.engine_failed", type(exc).__name__))

        worker = threading.Thread(target=work, daemon=True, name="face-check")
        keep_capturing = camera.subscribe(lambda _frame: None)
        pending = ctx.ui.show(screen(None))
        worker.start()
        try:
            while True:
                answer = pending.answered(ctx.cancel)
                if answer is not None and answer.action == "cancel":
                    return StepResult("cancel")
                if answer is not None and answer.action == "other":
                    raise _Fallback("face.other_method", "citizen chose another way")
                try:
                    ev = events.get(timeout=0.05)
                except queue.Empty:
                    continue
                if isinstance(ev, Progress):
                    pending = ctx.ui.show(screen(ev))
                    continue
                if isinstance(ev, _Fallback):
                    raise ev
                return self._finish(ctx, ev, title)
        finally:
            stop.set()
            worker.join(timeout=5.0)
            keep_capturing()
            check.wipe()

    def _finish(self, ctx: FlowContext, result: Any, title: str) -> StepResult:
        if not result.verified:
            raise _Fallback(result.key, result.reason)
        ctx.data["face"] = {"verified": True, "distance": round(result.distance, 3)}
        ctx.record("audit", {"event": "face_verify", "outcome": "face.verified",
                             "step": self.step.id, "distance": round(result.distance, 3),
                             "frames": result.frames})
        ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, title, text=ctx.t("face.verified"),
                               illustration="check", idle=False))
        return StepResult("next")
