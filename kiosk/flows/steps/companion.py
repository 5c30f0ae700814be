"""`identify_companion`: a second person (a spouse) identifies with their own card.

The citizen's session identity stays as it is; the companion's identity is held by
the session, typed, under `store_as` (`session.companions`, wiped with the session) and
templates and requests read it like the citizen's: `{spouse.name}` masked,
`{spouse.full.id_number}` only in a platform request. The companion must be a
different person (`distinct_from`: "identity", the citizen, or an earlier companion):
when that person's card is read again, the screen asks them to take it back and let
the companion place theirs, and keeps waiting.
"""

from __future__ import annotations

import logging
import queue
import re
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

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,31}$")


def _person(value: object) -> str:
    """`distinct_from`: a person's name; the older form `identity.id_number` still works."""
    return str(value).removesuffix(".id_number")


class IdentifyCompanionStep(StepType):
    name = "identify_companion"
    optional = ("methods", "timeout_s", "title", "prompt", "store_as", "distinct_from",
                "same_person", "accept_expired")
    string_params = ("title", "prompt", "same_person")

    @classmethod
    def validate(cls, step, pkg, file, path):  # type: ignore[no-untyped-def]
        super().validate(step, pkg, file, path)
        for i, m in enumerate(step.params.get("methods", ["id_card"])):
            if m not in IDENTIFY_METHODS:
                raise DefinitionError(file, f"{path}.methods[{i}]",
                                      f"unknown identify method {m!r}")
        store_as = step.params.get("store_as", "companion")
        if store_as in ("identity", "record") or not _NAME.match(str(store_as)):
            raise DefinitionError(file, f"{path}.store_as",
                                  "must not replace the citizen's data (a lowercase name)")
        if not _NAME.match(_person(step.params.get("distinct_from", "identity"))):
            raise DefinitionError(file, f"{path}.distinct_from",
                                  "names a person of the visit: \"identity\" or a companion")

    def run(self, ctx: FlowContext) -> StepResult:
        t = ctx.t
        methods = [IDENTIFY_METHODS[m](ctx, dict(self.params))
                   for m in self.param("methods", ["id_card"])]
        methods = [m for m in methods if m.available()]
        if not methods:
            raise StepError("device.idcard.offline", "no identify method available", retry=False)
        who = _person(self.param("distinct_from", "identity"))
        other = ctx.session.identity if who == "identity" else ctx.session.companions.get(who)
        own = other.id_number if other is not None else ""
        text = t(self.param("prompt", "companion.prompt"))

        def screen(status: str = ""):  # type: ignore[no-untyped-def]
            return ctx.screen(ScreenKind.IDENTIFY, t(self.param("title", "companion.title")),
                              text=text, status=status, illustration=methods[0].illustration,
                              actions=(Action("cancel", t("common.back")),))

        pending = ctx.ui.show(screen())
        stop = threading.Event()
        events: queue.Queue[IdentifyEvent] = queue.Queue()
        deadline = time.monotonic() + float(self.param("timeout_s", 90))

        def start(method) -> threading.Thread:  # type: ignore[no-untyped-def]
            th = threading.Thread(target=method.run, args=(stop, deadline, events.put),
                                  daemon=True, name=f"companion-{method.name}")
            th.start()
            return th

        running = {m.name: start(m) for m in methods}
        shown = ""
        try:
            while True:
                answer = pending.answered(ctx.cancel)
                if answer is not None and answer.action == "cancel":
                    return StepResult("back" if "back" in self.step.on else "cancel")
                try:
                    ev = events.get(timeout=0.05)
                except queue.Empty:
                    if time.monotonic() > deadline:
                        raise StepError("companion.timeout", retry=True) from None
                    continue
                if ev.kind == "ok" and ev.identity is not None:
                    if ev.identity.id_number == own:
                        # The citizen's own card is still there: ask for the companion's,
                        # and look again once it has had time to change.
                        if shown != "same":
                            shown = "same"
                            pending = ctx.ui.show(screen(
                                t(self.param("same_person", "companion.same_person"))))
                        stop.wait(0.5)
                        for m in methods:
                            if not running[m.name].is_alive():
                                running[m.name] = start(m)
                        continue
                    refuse_expired(self, ev.identity)
                    ctx.session.set_companion(self.param("store_as", "companion"), ev.identity)
                    log.info("companion identified for %s", ctx.flow.id)
                    ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, t("identify.success"),
                                           text=ev.identity.masked_name, illustration="check",
                                           idle=False))
                    return StepResult("next")
                if ev.kind in ("status", "retry"):
                    if shown == "same":
                        continue  # keep asking for the other card; re-reads are not news
                    if ev.key != shown:
                        shown = ev.key
                        pending = ctx.ui.show(screen(t(ev.key)))
                    continue
                if not any(th.is_alive() for th in running.values()) and events.empty():
                    raise StepError(ev.key, ev.detail, retry=True)
        finally:
            stop.set()
