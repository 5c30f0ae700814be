"""`identify`: wait for the citizen on every allowed method at once; go on by itself.

The methods (`_identify.py`, `identify_qr.py`) each run on their own thread; the
first identity wins.
"""

from __future__ import annotations

import queue
import threading
import time

from kiosk.flows.context import FlowContext, StepError, StepResult
from kiosk.flows.model import DefinitionError
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps._identify import (
    IDENTIFY_METHODS,
    IdentifyEvent,
    refuse_expired,
)
from kiosk.flows.steps.base import StepType
from kiosk.i18n import rendered

__all__ = ["IDENTIFY_METHODS", "IdentifyStep"]


class IdentifyStep(StepType):
    name = "identify"
    # accept_expired: a flow that may serve an expired card (e.g. a queue ticket) says so.
    optional = ("methods", "timeout_s", "title", "accept_expired")

    @classmethod
    def validate(cls, step, pkg, file, path):  # type: ignore[no-untyped-def]
        super().validate(step, pkg, file, path)
        for i, m in enumerate(step.params.get("methods", ["id_card"])):
            if m not in IDENTIFY_METHODS:
                raise DefinitionError(file, f"{path}.methods[{i}]",
                                      f"unknown identify method {m!r}")

    def run(self, ctx: FlowContext) -> StepResult:
        t = ctx.t
        methods = [IDENTIFY_METHODS[m](ctx, dict(self.params))
                   for m in self.param("methods", ["id_card"]) if m in IDENTIFY_METHODS]
        methods = [m for m in methods if m.available()]
        if not methods:
            raise StepError("device.idcard.offline", "no identify method available", retry=False)
        timeout = float(self.param("timeout_s", 60))
        keys = tuple(m.prompt_key for m in methods)
        text = rendered(lambda tt: "\n".join(tt(k) for k in keys), t)  # redrawn on a switch

        def screen(status: str = ""):  # type: ignore[no-untyped-def]
            return ctx.screen(ScreenKind.IDENTIFY, t(self.param("title", "identify.title")),
                              text=text, status=status, illustration=methods[0].illustration,
                              voice=status or text,
                              actions=(Action("cancel", t("common.back")),))

        pending = ctx.ui.show(screen())
        stop = threading.Event()
        events: queue.Queue[IdentifyEvent] = queue.Queue()
        deadline = time.monotonic() + timeout
        threads = [threading.Thread(target=m.run, args=(stop, deadline, events.put), daemon=True,
                                    name=f"identify-{m.name}") for m in methods]
        for th in threads:
            th.start()
        try:
            failures = 0
            shown_status = ""
            while True:
                answer = pending.answered(ctx.cancel)
                if answer is not None and answer.action == "cancel":
                    return StepResult("cancel")
                try:
                    ev = events.get(timeout=0.05)
                except queue.Empty:
                    continue
                if ev.kind == "ok" and ev.identity is not None:
                    refuse_expired(self, ev.identity)
                    ctx.session.set_identity(ev.identity)  # held once, typed
                    ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, t("identify.success"),
                                           text=ev.identity.masked_name, illustration="check",
                                           idle=False))
                    return StepResult("next")
                if ev.kind in ("status", "retry"):
                    if ev.key != shown_status:  # re-draw only when the message changes
                        shown_status = ev.key
                        pending = ctx.ui.show(screen(t(ev.key)))
                    continue
                failures += 1
                if failures >= len(threads):
                    raise StepError(ev.key, ev.detail, retry=True)
        finally:
            stop.set()
