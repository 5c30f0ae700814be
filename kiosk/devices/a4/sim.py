"""In-process A4 printer simulator (`sim://?spool=DIR&media=ok`).

Keeps each submitted PDF in `jobs` and, with `spool`, writes `a4-NNN.pdf`.
`media=low|empty|jam` and `door=open` make it fail like a real printer would;
`set_media()` and `set_door()` change that at run time (training mode, tests).
"""

from __future__ import annotations

import re
from pathlib import Path

from kiosk.devices.base import Device, DeviceError, DeviceState, DeviceStatus, PrintOutcome

MEDIA_STATES = ("ok", "low", "empty", "jam")


class SimA4Printer(Device):
    kind = "a4"
    uri_params = frozenset({"media", "door", "spool"})

    def __init__(self, uri):  # type: ignore[no-untyped-def]
        super().__init__(uri)
        self.jobs: list[tuple[str, bytes]] = []
        self.media = uri.param("media", "ok") or "ok"
        door = uri.param("door", "closed") or "closed"
        if self.media not in MEDIA_STATES or door not in ("open", "closed"):
            raise DeviceError("device.unsupported_uri", f"a4 sim: media={self.media!r} "
                              f"door={door!r} (media: {', '.join(MEDIA_STATES)}; door: "
                              "open, closed)", retryable=False)
        self.door_open = door == "open"
        spool = uri.param("spool")
        self.spool = Path(spool) if spool else None
        self._opened = False

    def open(self) -> None:
        self._opened = True
        if self.spool:
            self.spool.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        self._opened = False

    def set_media(self, state: str) -> None:
        """`ok`, `low`, `empty` or `jam` (training mode and tests)."""
        if state not in MEDIA_STATES:
            raise ValueError(f"media state {state!r} not in {MEDIA_STATES}")
        self.media = state

    def set_door(self, open_: bool) -> None:
        self.door_open = open_

    def status(self) -> DeviceStatus:
        if not self._opened:
            return DeviceStatus(DeviceState.OFFLINE)
        details = set()
        if self.media == "empty":
            details.add("paper_out")
        if self.media == "low":
            details.add("paper_low")
        if self.media == "jam":
            details.add("media_jam")
        if self.door_open:
            details.add("cover_open")
        bad = {"paper_out", "media_jam", "cover_open"} & details
        return DeviceStatus(DeviceState.USER_ERROR if bad else DeviceState.ONLINE,
                            frozenset(details))

    def print_pdf(self, pdf: bytes, title: str, timeout: float = 120.0) -> PrintOutcome:
        with self.lock:
            st = self.status()
            if st.state == DeviceState.OFFLINE:
                return PrintOutcome(False, error_key="device.a4.offline")
            for flag, key in (("paper_out", "device.a4.paper_out"),
                              ("media_jam", "device.a4.jam"),
                              ("cover_open", "device.a4.cover_open")):
                if flag in st.details:
                    return PrintOutcome(False, error_key=key)
            if not pdf.startswith(b"%PDF-"):
                return PrintOutcome(False, error_key="device.a4.bad_document")
            self.jobs.append((title, bytes(pdf)))
            pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))
            if self.spool:
                (self.spool / f"a4-{len(self.jobs):03d}.pdf").write_bytes(pdf)
            return PrintOutcome(True, pages=pages, job_id=str(len(self.jobs)))
