"""Scanner settings from a device URI (shared by the serial service and the simulator)."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.devices.base import DeviceError, DeviceUri
from kiosk.devices.scanner.protocol import (
    DEFAULT_GAP_S,
    DEFAULT_MAX_LEN,
    TRIGGERS,
    FramerConfig,
    Suffix,
)

# Query parameters `from_uri` reads; FRAMING_PARAMS are the ones the simulator honours.
FRAMING_PARAMS = frozenset({"suffix", "gap_ms", "max_len", "dedup_ms"})
OPTION_PARAMS = FRAMING_PARAMS | {"trigger", "retrigger_ms", "reconnect_ms", "baud"}


@dataclass(frozen=True)
class ScannerOptions:
    framer: FramerConfig
    dedup_s: float = 1.5
    trigger: str = ""  # "" (presentation/auto mode) or a key of TRIGGERS
    retrigger_s: float = 3.0  # re-arm a command-mode scanner whose own read time-out ran out
    reconnect_s: float = 0.5
    baud: int = 9600

    @classmethod
    def from_uri(cls, uri: DeviceUri) -> ScannerOptions:
        try:
            framer = FramerConfig(
                suffix=Suffix.parse(uri.param("suffix", "CR")),
                gap_s=uri.int_param("gap_ms", int(DEFAULT_GAP_S * 1000)) / 1000.0,
                max_len=uri.int_param("max_len", DEFAULT_MAX_LEN))
            trigger = uri.param("trigger", "").lower()
            if trigger in ("", "none", "auto"):
                trigger = ""
            elif trigger not in TRIGGERS:
                raise ValueError(f"unknown trigger {trigger!r} (known: {', '.join(TRIGGERS)})")
            opts = cls(framer=framer, dedup_s=uri.int_param("dedup_ms", 1500) / 1000.0,
                       trigger=trigger,
                       retrigger_s=uri.int_param("retrigger_ms", 3000) / 1000.0,
                       reconnect_s=uri.int_param("reconnect_ms", 500) / 1000.0,
                       baud=uri.int_param("baud", 9600))
        except ValueError as exc:
            raise DeviceError("device.unsupported_uri", f"scanner: {exc}",
                              retryable=False) from None
        if opts.baud <= 0 or opts.reconnect_s <= 0 or opts.retrigger_s <= 0:
            raise DeviceError("device.unsupported_uri", "scanner: times and baud must be > 0",
                              retryable=False)
        return opts
