"""Run a declarative flow: look up each step's type by name, follow transitions.

The engine runs on a worker thread. Steps talk to the person only through the
`Interaction` port and to devices only through their typed interfaces, so the same
flow runs under the Qt UI, in the headless demo and in tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kiosk.flows.interaction import FlowCancelled, Interaction, ask
from kiosk.flows.model import END, FlowDef
from kiosk.flows.package import FlowPackage
from kiosk.flows.screens import Action, Response, Screen, ScreenKind
from kiosk.i18n import Translator
from kiosk.session import Session

log = logging.getLogger(__name__)


class StepError(Exception):
    """A step failed in a way the citizen should be told about.

    `key` is a translation key; `retry` offers a retry button; `skippable` offers to
    continue without this step (e.g. a receipt after the certificate printed).
    """

    def __init__(self, key: str, detail: str = "", *, retry: bool = True,
                 skippable: bool = False) -> None:
        super().__init__(f"{key}: {detail}" if detail else key)
        self.key, self.detail, self.retry, self.skippable = key, detail, retry, skippable


@dataclass(frozen=True)
class StepResult:
    outcome: str = "next"


@dataclass(frozen=True)
class FlowResult:
    outcome: str  # completed | cancelled | failed
    error_key: str = ""
    steps_run: tuple[str, ...] = ()


@dataclass
class FlowContext:
    flow: FlowDef
    package: FlowPackage
    session: Session
    ui: Interaction
    devices: Mapping[str, Any]
    backend: Any  # kiosk.backend.client.BackendClient | None
    terminal: Mapping[str, str] = field(default_factory=dict)
    # Records a write that must reach the platform (transaction record, print record,
    # evaluation, audit event): `record(stream, payload)`. The runtime routes it to
    # the durable outbox; payloads must carry masked personal data only.
    recorder: Callable[[str, dict[str, Any]], None] | None = None
    # Platform answers kept for offline use (offline_cache.ReadCache: get/put by kind, key).
    read_cache: Any = None
    step_id: str = ""
    position: tuple[int, int] = (0, 0)

    @property
    def t(self) -> Translator:
        return self.package.translator(self.session.locale)

    @property
    def data(self) -> dict[str, Any]:
        return self.session.data

    def for_identity(self, key: str) -> str:
        """`KEY.<source>` when the strings have a variant for how the citizen identified
        (result.take.ss_card: take the card out of the slot), else `KEY`."""
        source = (self.data.get("identity") or {}).get("source", "")
        if key and source and self.t.has(f"{key}.{source}"):
            return f"{key}.{source}"
        return key

    @property
    def cancel(self) -> Any:
        return self.session.cancel

    def screen(self, kind: ScreenKind, title: str, **kwargs: Any) -> Screen:
        return Screen(kind=kind, step_id=self.step_id, title=title,
                      position=kwargs.pop("position", self.position), **kwargs)

    def template_data(self) -> dict[str, Any]:
        now = datetime.now()
        out = dict(self.session.data)
        out["terminal"] = dict(self.terminal)
        out["now"] = {"date": now.strftime("%Y-%m-%d"), "datetime": now.strftime("%Y-%m-%d %H:%M"),
                      "year": now.year}
        return out

    def record(self, stream: str, payload: dict[str, Any]) -> None:
        if self.recorder is None:
            log.info("record %s (no recorder configured): %s", stream, sorted(payload))
            return
        self.recorder(stream, payload)

    def device(self, kind: str) -> Any:
        dev = self.devices.get(kind)
        if dev is None:
            raise StepError(f"device.{kind}.offline", f"{kind} not configured", retry=False)
        return dev


class FlowEngine:
    def __init__(self, step_types: Mapping[str, type] | None = None) -> None:
        if step_types is None:
            from kiosk.flows.steps import STEP_TYPES

            step_types = STEP_TYPES
        self.step_types = step_types

    def run(self, ctx: FlowContext) -> FlowResult:
        flow = ctx.flow
        index = 0
        ran: list[str] = []
        started = time.monotonic()
        while 0 <= index < len(flow.steps):
            sdef = flow.steps[index]
            ctx.step_id = sdef.id
            ctx.position = flow.position(sdef.id)
            step = self.step_types[sdef.type](sdef)
            try:
                result = step.run(ctx)
            except FlowCancelled:
                log.info("flow %s cancelled at %s", flow.id, sdef.id)
                return FlowResult("cancelled", steps_run=tuple(ran))
            except StepError as err:
                log.warning("flow %s step %s failed: %s", flow.id, sdef.id, err)
                try:
                    choice = self._error_screen(ctx, err)
                except FlowCancelled:
                    return FlowResult("cancelled", err.key, tuple(ran))
                if choice == "retry":
                    continue
                if choice == "skip":
                    result = StepResult("next")
                else:
                    return FlowResult("failed", err.key, tuple(ran))
            except Exception:  # a bug: tell the citizen plainly, keep the terminal alive
                log.exception("flow %s step %s crashed", flow.id, sdef.id)
                try:
                    self._error_screen(ctx, StepError("error.app", retry=False))
                except FlowCancelled:
                    pass
                return FlowResult("failed", "error.app", tuple(ran))
            ran.append(sdef.id)
            target = sdef.on.get(result.outcome)
            if target == END:
                break
            if target is not None:
                index = flow.index_of(target)
            elif result.outcome == "next":
                index += 1
            elif result.outcome in ("cancel", "done"):
                out = "cancelled" if result.outcome == "cancel" else "completed"
                log.info("flow %s ended (%s) at %s", flow.id, out, sdef.id)
                return FlowResult(out, steps_run=tuple(ran))
            else:
                raise RuntimeError(f"{flow.id}.{sdef.id}: no transition for {result.outcome!r}")
        log.info("flow %s completed in %.2fs", flow.id, time.monotonic() - started)
        return FlowResult("completed", steps_run=tuple(ran))

    @staticmethod
    def _error_screen(ctx: FlowContext, err: StepError) -> str:
        t = ctx.t
        actions = []
        if err.skippable:
            actions.append(Action("skip", t("common.skip")))
        actions.append(Action("home", t("common.home")))
        if err.retry:
            actions.append(Action("retry", t("common.retry"), primary=True))
        screen = ctx.screen(ScreenKind.ERROR, t("error.title"), text=t(err.key),
                            hint=t("error.next_step"), actions=tuple(actions),
                            illustration="error")
        resp: Response = ask(ctx.ui, screen)
        return resp.action
