"""What a step works with: the flow context, its result and the error it may raise.

These types live apart from the engine so that a step type can be imported, read and
tested without the engine (and the engine without any step type): engine and steps
both depend on this module, never on each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kiosk.flows.interaction import Interaction
from kiosk.flows.model import FlowDef, FlowPackage
from kiosk.flows.screens import Screen, ScreenKind
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
    # Tells the runtime what a device just showed (`kind`, a fault's translation key or
    # None once it works): a printer found empty mid-flow pauses the services that need it
    # for the next citizen, until it prints again.
    device_state: Callable[[str, str | None], None] | None = None
    # Other platforms' connectors by id (a flow's or step's `platform`; "" is `backend`).
    # After the fields older callers pass by position (terminal is the seventh).
    connectors: Mapping[str, Any] = field(default_factory=dict)
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
        (result.take.ss_card: take the card out of the slot), else `KEY`.

        `result.take` ("take your certificate and receipt") first becomes the variant for
        what really printed in this visit (`result.take.both|a4|receipt|none`): a receipt
        skipped for want of paper is not asked for at the end."""
        if key == "result.take":
            key = f"result.take.{self.printed_what()}"
        ident = self.session.identity
        source = ident.source.value if ident is not None else ""
        if key and source and self.t.has(f"{key}.{source}"):
            return f"{key}.{source}"
        return key

    def printed_what(self) -> str:
        """both | a4 | receipt | none: what came out of the printers in this visit."""
        printed = self.data.get("printed", {})
        a4 = any(k != "receipt" and v for k, v in printed.items())
        receipt = bool(printed.get("receipt"))
        return "both" if a4 and receipt else "a4" if a4 else "receipt" if receipt else "none"

    @property
    def cancel(self) -> Any:
        return self.session.cancel

    def screen(self, kind: ScreenKind, title: str, **kwargs: Any) -> Screen:
        return Screen(kind=kind, step_id=self.step_id, title=title,
                      position=kwargs.pop("position", self.position), **kwargs)

    def template_data(self, *, reveal: bool = False) -> dict[str, Any]:
        """Flow data for templates, conditions and requests. `identity` (and each
        companion) is the session's typed identity seen through its masked view;
        `reveal=True` lets `identity.full.*` show real values, for the two readers that
        need them: a request to the platform and the printed certificate."""
        now = datetime.now()
        out = dict(self.session.data)
        out.update(self.session.views(reveal=reveal))
        out["terminal"] = dict(self.terminal)
        out["now"] = {"date": now.strftime("%Y-%m-%d"), "datetime": now.strftime("%Y-%m-%d %H:%M"),
                      "year": now.year}
        return out

    def record(self, stream: str, payload: dict[str, Any]) -> None:
        if self.recorder is None:
            log.info("record %s (no recorder configured): %s", stream, sorted(payload))
            return
        self.recorder(stream, payload)

    def platform_client(self, platform: str) -> Any:
        """The client for `platform` ("" the terminal's own); None if not configured."""
        return self.backend if not platform else self.connectors.get(platform)

    def device(self, kind: str) -> Any:
        dev = self.devices.get(kind)
        if dev is None:
            raise StepError(f"device.{kind}.offline", f"{kind} not configured", retry=False)
        return dev
