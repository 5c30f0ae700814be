"""Training mode: what a trainer (or a technician showing the terminal to staff) can do to
the simulated devices — put a synthetic citizen's card on a reader and take it off, show
an appointment code to the scanner, cause and clear faults (paper, cover, unplugged
devices, the platform link). Qt-free; `kiosk/ui/training.py` draws it.

Only simulators can be driven: a device is controllable when it *is* a simulator (the
classes of `kiosk/devices/*/sim.py`, or a scanner keeping the `ScriptableScanner`
contract), never by duck typing, so real hardware can never be "trained". Every action
is logged with the synthetic card key only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kiosk.devices.a4.sim import MEDIA_STATES, SimA4Printer
from kiosk.devices.idcard.sim import SimIdCardReader
from kiosk.devices.receipt.sim import PAPER_STATES, SimReceiptPrinter
from kiosk.devices.scanner.api import ScriptableScanner
from kiosk.devices.scanner.sim import SimQrScanner
from kiosk.devices.sscard.sim import SimSsCardReader
from kiosk.identity import mask_name
from synthetic.citizens import CITIZENS
from synthetic.services import APPOINTMENTS, appointment_qr

log = logging.getLogger(__name__)

READER_KINDS = ("idcard", "sscard")


class TrainingUnavailable(RuntimeError):
    """The device (or the platform link) is not simulated here: nothing to drive."""


@dataclass(frozen=True)
class TrainingCard:
    """A synthetic citizen as a trainer picks them: the key and a masked name."""

    key: str
    masked_name: str
    has_ss_card: bool
    has_appointment: bool


@dataclass(frozen=True)
class TrainingState:
    """What the simulators are doing now (None: that device is not simulated)."""

    id_card: str | None = None
    ss_card: str | None = None
    idcard_plugged: bool | None = None
    sscard_plugged: bool | None = None
    scanner_plugged: bool | None = None
    receipt_paper: str | None = None
    receipt_cover_open: bool | None = None
    a4_media: str | None = None
    a4_door_open: bool | None = None
    network_up: bool | None = None


def training_cards() -> tuple[TrainingCard, ...]:
    return tuple(TrainingCard(c.key, mask_name(c.name), bool(c.ss_card_no),
                              c.key in APPOINTMENTS) for c in CITIZENS)


class Training:
    """The simulated devices of one runtime, and what a trainer can do with them."""

    paper_states = PAPER_STATES
    media_states = MEDIA_STATES

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self._network_up: bool | None = True if self._embedded() is not None else None

    # -- which devices are simulators ------------------------------------------------------
    def _device(self, kind: str) -> Any:
        return self.runtime.devices.get(kind)

    def reader(self, kind: str) -> SimIdCardReader | None:
        dev = self._device(kind)
        want = SimSsCardReader if kind == "sscard" else SimIdCardReader
        return dev if isinstance(dev, want) else None

    def scanner(self) -> ScriptableScanner | None:
        dev = self._device("scanner")
        return dev if isinstance(dev, ScriptableScanner) else None

    def receipt(self) -> SimReceiptPrinter | None:
        dev = self._device("receipt")
        return dev if isinstance(dev, SimReceiptPrinter) else None

    def a4(self) -> SimA4Printer | None:
        dev = self._device("a4")
        return dev if isinstance(dev, SimA4Printer) else None

    def _embedded(self) -> Any:
        return getattr(self.runtime, "embedded", None)

    @property
    def network_controllable(self) -> bool:
        """The platform is the embedded reference backend: its link can be cut."""
        return self._embedded() is not None

    @property
    def available(self) -> bool:
        """Anything to drive at all (the terminal runs on simulators)."""
        return any((self.reader("idcard"), self.reader("sscard"), self.scanner(),
                    self.receipt(), self.a4()))

    def kinds(self) -> tuple[str, ...]:
        """The sections a training panel shows, in order."""
        out = [k for k in READER_KINDS if self.reader(k) is not None]
        if self.scanner() is not None:
            out.append("scanner")
        if self.receipt() is not None:
            out.append("receipt")
        if self.a4() is not None:
            out.append("a4")
        if self.network_controllable:
            out.append("network")
        return tuple(out)

    def _need(self, dev: Any, what: str) -> Any:
        if dev is None:
            raise TrainingUnavailable(f"{what} is not simulated")
        return dev

    # -- cards -----------------------------------------------------------------------------
    def place_card(self, kind: str, key: str) -> None:
        """Put (`idcard`) or insert (`sscard`) the card of synthetic citizen `key`."""
        self._need(self.reader(kind), kind).place_card(key)
        log.info("training: %s card %s placed", kind, key)

    def remove_card(self, kind: str) -> None:
        self._need(self.reader(kind), kind).remove_card()
        log.info("training: %s card taken away", kind)

    def set_plugged(self, kind: str, plugged: bool) -> None:
        """Unplug or plug back a card reader or the scanner."""
        dev: Any = self.reader(kind) if kind in READER_KINDS else self._device(kind)
        if kind == "scanner" and not isinstance(dev, SimQrScanner):
            dev = None
        dev = self._need(dev, kind)
        (dev.replug if plugged else dev.unplug)()
        log.info("training: %s %s", kind, "plugged in" if plugged else "unplugged")

    # -- scanner ---------------------------------------------------------------------------
    def present_appointment(self, key: str) -> str:
        """Show `key`'s appointment QR code to the scanner; return the code."""
        scanner = self._need(self.scanner(), "scanner")
        code = appointment_qr(key)
        scanner.scan(code)
        log.info("training: appointment code of %s shown to the scanner", key)
        return code

    # -- printers --------------------------------------------------------------------------
    def set_receipt_paper(self, state: str) -> None:
        self._need(self.receipt(), "receipt").set_paper(state)
        log.info("training: receipt paper %s", state)

    def set_receipt_cover(self, open_: bool) -> None:
        self._need(self.receipt(), "receipt").set_cover(open_)
        log.info("training: receipt cover %s", "open" if open_ else "closed")

    def set_a4_media(self, state: str) -> None:
        self._need(self.a4(), "a4").set_media(state)
        log.info("training: A4 media %s", state)

    def set_a4_door(self, open_: bool) -> None:
        self._need(self.a4(), "a4").set_door(open_)
        log.info("training: A4 door %s", "open" if open_ else "closed")

    # -- the platform link -----------------------------------------------------------------
    def set_network(self, up: bool, timeout_s: float = 30.0) -> bool:
        """Stop or restart the embedded platform (blocks: call off the UI thread), then
        make the link monitor probe at once. True when the platform is in the wanted state."""
        emb = self._need(self._embedded(), "the platform")
        if up:
            if emb.proc is None or emb.proc.poll() is not None:
                emb.start()
            ok = bool(emb.wait_ready(timeout_s))
        else:
            emb.stop()
            ok = True
        self._network_up = up if ok else None
        monitor = getattr(getattr(self.runtime, "offline", None), "monitor", None)
        if monitor is not None:
            monitor.report(False)  # "probe now": the banner follows within a probe
        log.info("training: platform link %s%s", "up" if up else "down",
                 "" if ok else " (platform did not come back)")
        return ok

    # -- what is going on ------------------------------------------------------------------
    def state(self) -> TrainingState:
        idr, ssr, sc = self.reader("idcard"), self.reader("sscard"), self._device("scanner")
        rc, a4 = self.receipt(), self.a4()
        return TrainingState(
            id_card=idr.card if idr else None, ss_card=ssr.card if ssr else None,
            idcard_plugged=idr.plugged if idr else None,
            sscard_plugged=ssr.plugged if ssr else None,
            scanner_plugged=sc.plugged if isinstance(sc, SimQrScanner) else None,
            receipt_paper=rc.paper if rc else None,
            receipt_cover_open=rc.cover_open if rc else None,
            a4_media=a4.media if a4 else None, a4_door_open=a4.door_open if a4 else None,
            network_up=self._network_up)
