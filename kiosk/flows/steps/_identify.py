"""Identify methods (resident ID card, social-security card, QR code…) and what the
identify steps share.

Methods are small classes registered by name in `IDENTIFY_METHODS`. Each runs on its
own thread and reports through `emit`: a status line (card present, reading, …), a
retryable problem, a final failure, or the identity.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from kiosk.devices.base import Cancelled, DeviceError, DeviceState
from kiosk.devices.idcard.api import CardEvent, CardReader
from kiosk.flows.context import FlowContext, StepError
from kiosk.flows.steps.base import StepType
from kiosk.flows.steps.registry import LazyTable
from kiosk.identity import Identity

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdentifyEvent:
    kind: str  # "status" | "retry" | "error" | "ok"
    key: str = ""  # translation key for status/retry/error
    identity: Identity | None = None
    detail: str = ""


Emit = Callable[[IdentifyEvent], None]


class IdentifyMethod(ABC):
    name: ClassVar[str]
    prompt_key: ClassVar[str]
    illustration: ClassVar[str] = ""

    def __init__(self, ctx: FlowContext, params: dict[str, Any]) -> None:
        self.ctx = ctx
        self.params = params

    @abstractmethod
    def available(self) -> bool:
        """Whether this terminal can offer the method right now."""

    @abstractmethod
    def run(self, stop: threading.Event, deadline: float, emit: Emit) -> None:
        """Wait for the citizen until `stop` or `deadline`; emit events; return when done."""


# Built-in methods by name, imported on first use (like the step types).
IDENTIFY_METHODS: LazyTable[IdentifyMethod] = LazyTable(IdentifyMethod, {
    "id_card": "kiosk.flows.steps._identify:IdCardMethod",
    "ss_card": "kiosk.flows.steps._identify:SsCardMethod",
    "qr": "kiosk.flows.steps.identify_qr:QrMethod",
})


def identify_method(cls: type[IdentifyMethod]) -> type[IdentifyMethod]:
    """Register an identify method class under its `name` (outside the built-in table)."""
    IDENTIFY_METHODS[cls.name] = cls
    return cls


class CardReaderMethod(IdentifyMethod):
    """Read a card on a reader that keeps the `CardReader` contract (`idcard/api.py`)."""

    device_kind: ClassVar[str]

    def _device(self) -> CardReader | None:
        dev = self.ctx.devices.get(self.device_kind)
        return dev if isinstance(dev, CardReader) else None

    def available(self) -> bool:
        dev = self._device()
        return dev is not None and dev.status().state not in (DeviceState.NO_DEVICE,)

    def run(self, stop: threading.Event, deadline: float, emit: Emit) -> None:
        dev = self._device()
        if dev is None:
            return
        sink = self._status_sink(emit)
        while not stop.is_set():
            try:
                ident = dev.read_identity(max(0.1, deadline - time.monotonic()), stop, sink)
                emit(IdentifyEvent("ok", identity=ident))
                return
            except Cancelled:
                return
            except DeviceError as err:
                if err.key.endswith(".no_card") or not err.retryable:
                    emit(IdentifyEvent("error", err.key, detail=err.detail))
                    return
                # Card moved, read failed: tell the citizen and keep polling.
                emit(IdentifyEvent("retry", err.key, detail=err.detail))
                stop.wait(0.3)

    def _status_sink(self, emit: Emit) -> Callable[[CardEvent], None]:
        """Reader events -> status lines: card present → 正在读卡 → 读卡成功, card removed."""

        def sink(event: CardEvent) -> None:
            if event in _STATUS_EVENTS:
                emit(IdentifyEvent("status", f"{self.device_kind}.status.{event.value}"))

        return sink


# Waiting is what the prompt already says; failures arrive as retry/error events.
_STATUS_EVENTS = frozenset({CardEvent.PRESENT, CardEvent.READING, CardEvent.READ,
                            CardEvent.REMOVED, CardEvent.TAKE_OUT})


class IdCardMethod(CardReaderMethod):
    name = "id_card"
    prompt_key = "identify.prompt.id_card"
    illustration = "id_card"
    device_kind = "idcard"


class SsCardMethod(CardReaderMethod):
    name = "ss_card"
    prompt_key = "identify.prompt.ss_card"
    illustration = "ss_card"
    device_kind = "sscard"


def refuse_expired(step: StepType, identity: Identity) -> None:
    """An expired card identifies nobody, unless the flow says so (`accept_expired`)."""
    if identity.expired() and not step.param("accept_expired", False):
        log.info("%s: expired %s card refused", step.name, identity.source.value)
        raise StepError("identify.card_expired", "card expired", retry=True)
