"""The common outer shape of every device service (after XFS4IoT's Common interface)."""

from __future__ import annotations

import difflib
import threading
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Protocol, Self, runtime_checkable
from urllib.parse import parse_qs, urlsplit


class DeviceState(str, Enum):
    ONLINE = "online"
    OFFLINE = "offline"
    BUSY = "busy"
    NO_DEVICE = "no_device"
    HARDWARE_ERROR = "hardware_error"
    USER_ERROR = "user_error"


@dataclass(frozen=True)
class DeviceStatus:
    state: DeviceState
    # Flags such as "paper_low", "paper_out", "cover_open", "card_present".
    details: frozenset[str] = frozenset()
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state.value, "details": sorted(self.details), "message": self.message}


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class SelfTestReport:
    device: str
    uri: str
    passed: bool
    checks: tuple[Check, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "uri": self.uri,
            "passed": self.passed,
            "checks": [c.__dict__ for c in self.checks],
        }


@dataclass(frozen=True)
class PrintOutcome:
    """What became of one print job (receipt or A4), as the printer reported it."""

    ok: bool
    pages: int = 0
    job_id: str = ""
    error_key: str = ""
    detail: str = ""
    # False when sending the same job again cannot help (a receipt this printer cannot
    # encode): the citizen is not offered "print again".
    retryable: bool = True


class DeviceError(Exception):
    """A device failure the citizen or technician can act on.

    `key` is a translation key for the citizen-facing message (e.g.
    `device.receipt.paper_out`); `detail` is for the log and must not contain
    personal data.
    """

    def __init__(self, key: str, detail: str = "", *, retryable: bool = True) -> None:
        super().__init__(f"{key}: {detail}" if detail else key)
        self.key = key
        self.detail = detail
        self.retryable = retryable


class Cancelled(Exception):
    """The operation was cancelled (session ended, citizen pressed cancel)."""


@dataclass(frozen=True)
class DeviceUri:
    scheme: str
    host: str
    port: int | None
    path: str
    params: dict[str, str] = field(default_factory=dict)
    raw: str = ""

    @classmethod
    def parse(cls, uri: str, accepted: Collection[str] | None = None) -> DeviceUri:
        """Split a device URI; with `accepted`, refuse any query parameter not in it.

        Like pyserial's URL handlers: a misspelt `?buad=` is an error, never silently
        ignored (the reader would run at the default speed and fail in confusing ways).
        """
        parts = urlsplit(uri)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        try:
            port = parts.port
        except ValueError:  # not a TCP port, e.g. `escpos+usb://04b8:0e15` (VID:PID)
            port = None
        parsed = cls(parts.scheme, parts.hostname or "", port, parts.path, params, uri)
        if accepted is not None:
            parsed.check_params(accepted)
        return parsed

    def check_params(self, accepted: Collection[str]) -> None:
        """Raise DeviceError(`device.unknown_parameter`) for a parameter not in `accepted`."""
        for name in self.params:
            if name in accepted:
                continue
            known = sorted(accepted)
            detail = (f"unknown parameter {name!r} for {self.scheme} "
                      f"(expected: {', '.join(known) or 'none'})")
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            if close:
                detail += f"; did you mean {close[0]!r}?"
            raise DeviceError("device.unknown_parameter", detail, retryable=False)

    def param(self, name: str, default: str = "") -> str:
        return self.params.get(name, default)

    def int_param(self, name: str, default: int) -> int:
        value = self.params.get(name)
        return int(value) if value not in (None, "") else default


@runtime_checkable
class DeviceService(Protocol):
    """The outer shape every device kind shares (after XFS4IoT's Common interface).

    Each kind's `api.py` extends it with the typed API the rest of the app uses.
    """

    kind: str
    uri: DeviceUri

    def open(self) -> None: ...

    def close(self) -> None: ...

    def status(self) -> DeviceStatus: ...

    def capabilities(self) -> dict[str, Any]: ...

    def self_test(self) -> SelfTestReport: ...

    def reset(self) -> None: ...


class Device(ABC):
    """Base of every device service: open/close/status/capabilities/self_test/reset."""

    kind: str = "device"
    # The URI query parameters this driver understands; any other is refused when the
    # device is created (`accepted_params`). None: not declared (accept anything).
    uri_params: ClassVar[frozenset[str] | None] = None

    def __init__(self, uri: DeviceUri) -> None:
        accepted = self.accepted_params(uri.scheme)
        if accepted is not None:
            uri.check_params(accepted)
        self.uri = uri
        # One caller at a time: flows, maintenance self-tests and status polls share it.
        self.lock = threading.RLock()

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def status(self) -> DeviceStatus: ...

    def capabilities(self) -> dict[str, Any]:
        return {"kind": self.kind, "uri": self.uri.raw}

    def self_test(self) -> SelfTestReport:
        st = self.status()
        ok = st.state == DeviceState.ONLINE
        return SelfTestReport(self.kind, self.uri.raw, ok,
                              (Check("status", ok, st.state.value),))

    def reset(self) -> None:
        self.close()
        self.open()

    @classmethod
    def accepted_params(cls, scheme: str) -> frozenset[str] | None:
        """The query parameters a URI with `scheme` may carry for this driver."""
        return cls.uri_params

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
