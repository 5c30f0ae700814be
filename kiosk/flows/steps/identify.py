"""`identify`: wait for a card on any allowed reader; the flow goes on by itself."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from kiosk.devices.base import Cancelled, DeviceError, DeviceState
from kiosk.flows.engine import FlowContext, StepError, StepResult
from kiosk.flows.interaction import FlowCancelled
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps import StepType, step_type
from kiosk.identity import Identity

log = logging.getLogger(__name__)

METHOD_DEVICES = {"id_card": "idcard", "ss_card": "sscard"}
PROMPTS = {"id_card": "identify.prompt.id_card", "ss_card": "identify.prompt.ss_card"}


@step_type
class IdentifyStep(StepType):
    name = "identify"
    optional = ("methods", "timeout_s", "title")

    def run(self, ctx: FlowContext) -> StepResult:
        t = ctx.t
        methods = list(self.param("methods", ["id_card"]))
        readers = []
        for m in methods:
            dev = ctx.devices.get(METHOD_DEVICES.get(m, ""))
            if dev is not None and dev.status().state not in (DeviceState.NO_DEVICE,):
                readers.append((m, dev))
        if not readers:
            raise StepError("device.idcard.offline", "no identify device available", retry=False)
        timeout = float(self.param("timeout_s", 60))
        text = "\n".join(t(PROMPTS[m]) for m, _ in readers if m in PROMPTS)
        screen = ctx.screen(ScreenKind.IDENTIFY, t(self.param("title", "identify.title")),
                            text=text, illustration=readers[0][0],
                            actions=(Action("cancel", t("common.back")),))
        pending = ctx.ui.show(screen)
        stop = threading.Event()
        results: queue.Queue[tuple[str, Any]] = queue.Queue()

        def read(method: str, dev: Any) -> None:
            deadline = time.monotonic() + timeout
            while not stop.is_set():
                try:
                    ident = dev.read_identity(max(0.1, deadline - time.monotonic()), stop)
                    results.put(("ok", ident))
                    return
                except Cancelled:
                    return
                except DeviceError as err:
                    if err.key == "idcard.no_card" or not err.retryable:
                        results.put(("error", err))
                        return
                    # Card moved, read failed: tell the citizen and keep polling.
                    results.put(("retry", err))
                    time.sleep(0.3)

        threads = [threading.Thread(target=read, args=(m, d), daemon=True, name=f"read-{m}")
                   for m, d in readers]
        for th in threads:
            th.start()
        try:
            failures = 0
            while True:
                if ctx.cancel.is_set():
                    raise FlowCancelled()
                if pending.event.is_set():
                    if pending.response is None:
                        raise FlowCancelled()
                    return StepResult("cancel")
                try:
                    kind, value = results.get(timeout=0.05)
                except queue.Empty:
                    continue
                if kind == "ok":
                    identity: Identity = value
                    ctx.session.set_identity(identity)
                    ctx.data["identity"] = {
                        "id_number": identity.id_number, "name": identity.name,
                        "masked_id": identity.masked_id, "masked_name": identity.masked_name,
                        "source": identity.source.value,
                    }
                    ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, t("identify.success"),
                                           text=identity.masked_name, illustration="check",
                                           idle=False))
                    return StepResult("next")
                if kind == "retry":
                    ctx.ui.show(ctx.screen(ScreenKind.IDENTIFY, screen.title, text=text,
                                           status=t(value.key), illustration=screen.illustration,
                                           actions=screen.actions))
                    continue
                failures += 1
                if failures >= len(threads):
                    raise StepError(value.key, value.detail, retry=True)
        finally:
            stop.set()
