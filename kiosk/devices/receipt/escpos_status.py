"""DLE EOT real-time status: pure parsing of the printer's one-byte answers.

Every answer byte has bit 1 and bit 4 set and bits 0 and 7 clear; anything else is
not a status byte (an ASB packet, line noise) and is treated like no answer.
"No answer" is always *unknown* — never "paper OK" (python-escpos 3.1's
`paper_status()` returns 2 = adequate when the read comes back empty).
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.devices.base import DeviceState, DeviceStatus

# n of DLE EOT n
PRINTER, OFFLINE_CAUSE, ERROR_CAUSE, PAPER = 1, 2, 3, 4
QUERY_ORDER = (PRINTER, OFFLINE_CAUSE, ERROR_CAUSE, PAPER)


def is_status_byte(b: int | None) -> bool:
    return b is not None and 0 <= b <= 0xFF and (b & 0x93) == 0x12


def _bit(b: int, n: int) -> bool:
    return bool(b >> n & 1)


@dataclass(frozen=True)
class EscposStatus:
    """What the printer said; `None` means it did not say (no or malformed answer)."""

    answered: bool = False
    offline: bool | None = None
    waiting_recovery: bool | None = None
    feed_button: bool | None = None
    cover_open: bool | None = None
    paper_stop: bool | None = None  # printing stopped because the paper ended
    error: bool | None = None
    mechanical_error: bool | None = None
    cutter_error: bool | None = None
    unrecoverable_error: bool | None = None
    recoverable_error: bool | None = None  # e.g. head too hot; clears by itself
    paper_near_end: bool | None = None
    paper_out: bool | None = None
    malformed: tuple[int, ...] = ()

    def to_device_status(self) -> DeviceStatus:
        return to_device_status(self)


def parse_status(replies: dict[int, int | None]) -> EscposStatus:
    """Combine answers to DLE EOT 1..4 (n -> byte or None) into one status."""
    kw: dict[str, object] = {}
    bad: list[int] = []
    for n, b in replies.items():
        if b is None:
            continue
        if not is_status_byte(b):
            bad.append(b)
            continue
        if n == PRINTER:
            kw.update(offline=_bit(b, 3), waiting_recovery=_bit(b, 5), feed_button=_bit(b, 6))
        elif n == OFFLINE_CAUSE:
            kw.update(cover_open=_bit(b, 2), paper_stop=_bit(b, 5), error=_bit(b, 6))
            kw.setdefault("feed_button", _bit(b, 3))
        elif n == ERROR_CAUSE:
            kw.update(mechanical_error=_bit(b, 2), cutter_error=_bit(b, 3),
                      unrecoverable_error=_bit(b, 5), recoverable_error=_bit(b, 6))
        elif n == PAPER:
            # Two sensor bits each (2+3 near end, 5+6 end); printers with one
            # sensor set only one of the pair, so either bit counts.
            kw.update(paper_near_end=_bit(b, 2) or _bit(b, 3),
                      paper_out=_bit(b, 5) or _bit(b, 6))
    return EscposStatus(answered=bool(kw), malformed=tuple(bad), **kw)  # type: ignore[arg-type]


def to_device_status(st: EscposStatus) -> DeviceStatus:
    """Map the printer's flags to the common device status."""
    if not st.answered:
        msg = "no answer to DLE EOT"
        if st.malformed:
            msg = "malformed status answer " + " ".join(f"{b:02x}" for b in st.malformed)
        return DeviceStatus(DeviceState.ONLINE, frozenset({"status_unknown"}), msg)
    details: set[str] = set()
    if st.paper_near_end:
        details.add("paper_low")
    if st.paper_out or st.paper_stop:
        details.add("paper_out")
    if st.cover_open:
        details.add("cover_open")
    if st.cutter_error:
        details.add("cutter_error")
    if st.mechanical_error:
        details.add("mechanical_error")
    if st.unrecoverable_error:
        details.add("unrecoverable_error")
    if st.recoverable_error:
        details.add("recoverable_error")
    if st.waiting_recovery:
        details.add("waiting_recovery")
    if st.feed_button:
        details.add("feed_button")
    if details & {"cutter_error", "mechanical_error", "unrecoverable_error"}:
        state = DeviceState.HARDWARE_ERROR
    elif details & {"paper_out", "cover_open"}:
        state = DeviceState.USER_ERROR
    elif "recoverable_error" in details:
        state = DeviceState.BUSY
    elif st.offline:
        state = DeviceState.OFFLINE
    else:
        state = DeviceState.ONLINE
    return DeviceStatus(state, frozenset(details))


NO_ANSWER = "no ESC/POS status answer"


def probe_status(st: EscposStatus, noise: bytes = b"") -> DeviceStatus:
    """The printer's status as the technician and the health poll see it.

    Online only when the peer answered DLE EOT with real status bytes and nothing else: a
    TCP connect (an HTTP server, any open port) or a serial port that stays silent is
    `no_device`; a peer that answers with bytes that are no status (HTTP text, a shell,
    line noise) is `hardware_error` ("not_escpos"). Printing keeps `to_device_status`,
    where a printer that never answers may still print, unconfirmed.
    """
    if noise:
        shown = " ".join(f"{b:02x}" for b in noise[:16]) + (" …" if len(noise) > 16 else "")
        return DeviceStatus(DeviceState.HARDWARE_ERROR,
                            frozenset({"status_unknown", "not_escpos"}),
                            f"{NO_ANSWER}: the peer sent {shown}")
    if not st.answered:
        msg = f"{NO_ANSWER} (nothing came back to DLE EOT 1)"
        return DeviceStatus(DeviceState.NO_DEVICE,
                            frozenset({"status_unknown", "no_status_answer"}), msg)
    return to_device_status(st)


def error_key(status: DeviceStatus) -> str:
    """Translation key for why a receipt cannot print now ('' when it can)."""
    d = status.details
    if "paper_out" in d:
        return "device.receipt.paper_out"
    if "cover_open" in d:
        return "device.receipt.cover_open"
    if status.state is DeviceState.HARDWARE_ERROR:
        return "device.receipt.hardware_error"
    if status.state in (DeviceState.OFFLINE, DeviceState.NO_DEVICE):
        return "device.receipt.offline"
    if status.state is DeviceState.BUSY:
        return "device.receipt.busy"
    return ""


def parse_gs_r_paper(b: int) -> tuple[bool, bool] | None:
    """Answer to GS r 1: (near_end, paper_out), or None if not such an answer."""
    if b & 0x90:
        return None
    return bool(b & 0x03), bool(b & 0x0C)
