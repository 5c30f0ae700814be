"""Map IPP printer-state / printer-state-reasons and job outcomes to kiosk terms (pure)."""

from __future__ import annotations

from collections.abc import Iterable

from kiosk.devices.a4.ipp_protocol import PrinterState
from kiosk.devices.base import DeviceState, DeviceStatus

# reason keyword (severity suffix stripped) -> status detail
REASON_DETAILS = {
    "media-empty": "paper_out",
    "media-needed": "paper_out",
    "input-tray-missing": "paper_out",
    "media-low": "paper_low",
    "media-jam": "media_jam",
    "door-open": "cover_open",
    "cover-open": "cover_open",
    "interlock-open": "cover_open",
    "toner-low": "toner_low",
    "marker-supply-low": "toner_low",
    "toner-empty": "toner_empty",
    "marker-supply-empty": "toner_empty",
    "offline": "offline",
    "shutdown": "offline",
    "connecting-to-device": "offline",
    "paused": "paused",
    "moving-to-paused": "paused",
    "spool-area-full": "spool_full",
    "other": "other_error",
}
USER_ERRORS = {"paper_out", "media_jam", "cover_open", "toner_empty"}
# detail -> citizen-facing error key, in priority order
ERROR_KEYS = (
    ("paper_out", "device.a4.paper_out"),
    ("media_jam", "device.a4.jam"),
    ("cover_open", "device.a4.cover_open"),
    ("toner_empty", "device.a4.toner_empty"),
    ("offline", "device.a4.offline"),
    ("paused", "device.a4.offline"),
    ("not_accepting", "device.a4.offline"),
)


def strip_severity(reason: str) -> str:
    for suffix in ("-error", "-warning", "-report"):
        if reason.endswith(suffix):
            return reason[: -len(suffix)]
    return reason


def reason_details(reasons: Iterable[str]) -> frozenset[str]:
    """Details for the reasons we know.

    Severity suffixes are ignored on purpose: ippeveprinter (and some real
    printers) report a still-empty tray as `media-empty-report` while idle.
    """
    out = set()
    for r in reasons:
        key = strip_severity(str(r))
        if key in REASON_DETAILS:
            out.add(REASON_DETAILS[key])
    return frozenset(out)


def printer_status(state: int | None, reasons: Iterable[str], accepting: bool | None = True,
                   message: str = "") -> DeviceStatus:
    details = set(reason_details(reasons))
    if accepting is False:
        details.add("not_accepting")
    if details & USER_ERRORS:
        st = DeviceState.USER_ERROR
    elif details & {"offline", "paused", "not_accepting"}:
        st = DeviceState.OFFLINE
    elif state == PrinterState.STOPPED:
        st = DeviceState.HARDWARE_ERROR
    elif state == PrinterState.PROCESSING or "spool_full" in details:
        st = DeviceState.BUSY
    elif state is None:
        st = DeviceState.OFFLINE
    else:
        st = DeviceState.ONLINE
    return DeviceStatus(st, frozenset(details), message)


def error_key(status: DeviceStatus) -> str:
    """Why a job cannot print now ('' if it can); BUSY still accepts jobs."""
    for detail, key in ERROR_KEYS:
        if detail in status.details:
            return key
    if status.state is DeviceState.HARDWARE_ERROR:
        return "device.a4.hardware_error"
    if status.state in (DeviceState.OFFLINE, DeviceState.NO_DEVICE):
        return "device.a4.offline"
    return ""


def job_failure_key(job_reasons: Iterable[str], printer: DeviceStatus, canceled: bool) -> str:
    """The error key for a job that ended canceled or aborted."""
    reasons = {str(r) for r in job_reasons} | {strip_severity(str(r)) for r in job_reasons}
    key = error_key(printer)
    if key and key != "device.a4.offline":
        return key
    if reasons & {"document-format-error", "document-unprintable-error",
                  "unsupported-document-format", "document-format-not-supported"}:
        return "device.a4.bad_document"
    if canceled:
        return "device.a4.cancelled"
    return key or "device.a4.hardware_error"
