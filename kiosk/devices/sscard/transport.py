"""PC/SC transport (pyscard's `smartcard.scard` API): readers, card presence, APDU bytes.

Monitoring is done the PC/SC way, with `SCardGetStatusChange` in short slices: a card
inserted or removed, a reader unplugged and plugged back, and pcscd itself restarting
(the context is re-established). Every PC/SC failure becomes a `PcscError` with a
`Fault` that the service maps to a citizen-facing message.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from enum import Enum

from smartcard import scard

log = logging.getLogger(__name__)

_MASK = 0xFFFFFFFF


class Fault(str, Enum):
    CARD_REMOVED = "card_removed"  # the card left the reader (or was reset by someone else)
    CARD_MUTE = "card_mute"  # a card is there but does not answer (inserted upside down …)
    READER_GONE = "reader_gone"  # unplugged, or pcscd restarted / not running
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    OTHER = "other"


def _code(name: str) -> int:
    return int(getattr(scard, name)) & _MASK


FAULTS: dict[int, Fault] = {
    _code("SCARD_W_REMOVED_CARD"): Fault.CARD_REMOVED,
    _code("SCARD_E_NO_SMARTCARD"): Fault.CARD_REMOVED,
    _code("SCARD_W_RESET_CARD"): Fault.CARD_REMOVED,
    _code("SCARD_W_UNRESPONSIVE_CARD"): Fault.CARD_MUTE,
    _code("SCARD_W_UNPOWERED_CARD"): Fault.CARD_MUTE,
    _code("SCARD_E_PROTO_MISMATCH"): Fault.CARD_MUTE,
    _code("SCARD_E_READER_UNAVAILABLE"): Fault.READER_GONE,
    _code("SCARD_E_UNKNOWN_READER"): Fault.READER_GONE,
    _code("SCARD_E_NO_READERS_AVAILABLE"): Fault.READER_GONE,
    _code("SCARD_E_NO_SERVICE"): Fault.READER_GONE,
    _code("SCARD_E_SERVICE_STOPPED"): Fault.READER_GONE,
    _code("SCARD_E_INVALID_HANDLE"): Fault.READER_GONE,
    _code("SCARD_F_COMM_ERROR"): Fault.READER_GONE,
    _code("SCARD_E_TIMEOUT"): Fault.TIMEOUT,
    _code("SCARD_E_CANCELLED"): Fault.CANCELLED,
}

# After these the context itself is dead and must be established again.
_CONTEXT_DEAD = {_code("SCARD_E_NO_SERVICE"), _code("SCARD_E_SERVICE_STOPPED"),
                 _code("SCARD_E_INVALID_HANDLE")}


def fault_of(hresult: int) -> Fault:
    return FAULTS.get(hresult & _MASK, Fault.OTHER)


class PcscError(Exception):
    def __init__(self, fault: Fault, where: str, hresult: int = 0) -> None:
        code = hresult & _MASK
        text = scard.SCardGetErrorMessage(hresult) if hresult else ""
        super().__init__(f"{where}: {fault.value} ({code:08X} {text})".rstrip())
        self.fault, self.where, self.hresult = fault, where, code


@dataclass(frozen=True)
class ReaderState:
    reader: str | None  # None: no matching reader (unplugged)
    card_present: bool = False
    atr: bytes = b""
    event: int = 0  # dwEventState incl. the event counter, to wait for the next change


class PcscTransport:
    """One PC/SC reader chosen by a name substring; one card connection at a time."""

    def __init__(self, reader_filter: str = "") -> None:
        self.reader_filter = reader_filter.lower()
        self._context: int | None = None
        self._card: int | None = None
        self._protocol = 0
        self._ctx_lock = threading.Lock()
        self.last = ReaderState(None)  # the latest state seen
        # Bumped whenever a context is established: PC/SC's per-reader event counters
        # start again after a pcscd restart, so (generation, reader, counter) names one
        # insertion of one card.
        self.generation = 0

    # -- context ----------------------------------------------------------------------
    def _ctx(self) -> int:
        with self._ctx_lock:
            if self._context is None:
                hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
                if hresult != scard.SCARD_S_SUCCESS:
                    raise PcscError(Fault.READER_GONE, "establish context", hresult)
                self._context = context
                self.generation += 1
            return self._context

    def _check(self, hresult: int, where: str) -> None:
        if hresult == scard.SCARD_S_SUCCESS:
            return
        if hresult & _MASK in _CONTEXT_DEAD:
            self._drop_context()
        raise PcscError(fault_of(hresult), where, hresult)

    def _drop_context(self) -> None:
        with self._ctx_lock:
            context, self._context, self._card = self._context, None, None
        if context is not None:
            try:
                scard.SCardReleaseContext(context)
            except Exception:  # noqa: BLE001, S110 - a dead context may refuse to be released
                pass

    def close(self) -> None:
        self.disconnect()
        self._drop_context()

    # -- readers and cards --------------------------------------------------------------
    def readers(self) -> list[str]:
        for attempt in (1, 2):
            hresult, readers = scard.SCardListReaders(self._ctx(), [])
            if hresult & _MASK == _code("SCARD_E_NO_READERS_AVAILABLE"):
                return []
            if hresult & _MASK in _CONTEXT_DEAD and attempt == 1:
                # pcscd restarted since the context was made: a fresh one may work.
                self._drop_context()
                continue
            self._check(hresult, "list readers")
            return list(readers)
        return []  # pragma: no cover - the loop always returns or raises

    def find_reader(self) -> str | None:
        for name in self.readers():
            if self.reader_filter in name.lower():
                return name
        return None

    def state(self, timeout_ms: int = 0, known: ReaderState | None = None) -> ReaderState:
        """The reader's current state; with `known`, wait up to `timeout_ms` for a change."""
        self.last = self._state(timeout_ms, known)
        return self.last

    def _state(self, timeout_ms: int, known: ReaderState | None) -> ReaderState:
        try:
            reader = self.find_reader()
        except PcscError as err:
            if err.fault is Fault.READER_GONE:
                return ReaderState(None)
            raise
        if reader is None:
            return ReaderState(None)
        current = scard.SCARD_STATE_UNAWARE
        if known is not None and known.reader == reader and known.event:
            current = known.event & ~scard.SCARD_STATE_CHANGED
        else:
            timeout_ms = 0  # first look: report at once
        hresult, states = scard.SCardGetStatusChange(self._ctx(), timeout_ms, [(reader, current)])
        if hresult & _MASK == _code("SCARD_E_TIMEOUT"):
            return known if known is not None else ReaderState(reader)
        try:
            self._check(hresult, "get status change")
        except PcscError as err:
            if err.fault is Fault.READER_GONE:
                return ReaderState(None)
            raise
        _name, event, atr = states[0]
        if event & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
            return ReaderState(None)
        present = bool(event & scard.SCARD_STATE_PRESENT) and not event & scard.SCARD_STATE_MUTE
        return ReaderState(reader, present, bytes(atr) if present else b"", event)

    def wait(self, until: object, deadline: float, cancel: threading.Event,
             known: ReaderState | None = None, slice_ms: int = 250) -> ReaderState | None:
        """Wait until `until(state)` is true; None at the deadline. Survives unplug and
        pcscd restarts (the reader is looked up again on every slice)."""
        state = self.state(0, known)  # fresh, never a stale remembered state
        while True:
            if cancel.is_set():
                raise PcscError(Fault.CANCELLED, "wait")
            if state is not None and until(state):  # type: ignore[operator]
                return state
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ms = int(min(slice_ms, remaining * 1000))
            before = state
            state = self.state(ms, state)
            if state.reader is None:
                # No reader (or no pcscd): GetStatusChange cannot block, so sleep here.
                cancel.wait(min(ms / 1000, max(0.0, deadline - time.monotonic())))
                if before is None or before.reader is not None:
                    log.info("sscard reader %s", "absent" if before is None else "gone")

    # -- one card session -------------------------------------------------------------------
    def connect(self, reader: str) -> bytes:
        """Connect to the card in `reader`; return its ATR."""
        self.disconnect()
        hresult, card, protocol = scard.SCardConnect(
            self._ctx(), reader, scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        self._check(hresult, "connect")
        self._card, self._protocol = card, protocol
        hresult, _reader, _state, _proto, atr = scard.SCardStatus(card)
        self._check(hresult, "status")
        return bytes(atr)

    def transmit(self, apdu: bytes) -> bytes:
        if self._card is None:
            raise PcscError(Fault.CARD_REMOVED, "transmit without a card")
        hresult, response = scard.SCardTransmit(self._card, self._protocol, list(apdu))
        if hresult & _MASK in (_code("SCARD_E_NOT_TRANSACTED"), _code("SCARD_F_COMM_ERROR")):
            # The driver lost the card mid-command: removed, or the reader went away?
            state = self.state()
            fault = Fault.READER_GONE if state.reader is None else Fault.CARD_REMOVED
            raise PcscError(fault, "transmit", hresult)
        self._check(hresult, "transmit")
        if len(response) < 2 and self._card_went_away():
            # Some drivers (vpcd among them) report a card that vanished mid-command
            # as an empty answer rather than an error.
            raise PcscError(Fault.CARD_REMOVED, "transmit: empty response, card gone")
        return bytes(response)

    def _card_went_away(self, grace_ms: int = 600) -> bool:
        """Whether the card leaves within `grace_ms` (pcscd polls presence every 400 ms)."""
        state = self.state()
        if state.card_present:
            state = self.state(grace_ms, state)
        return not state.card_present

    def disconnect(self, reset: bool = False) -> None:
        card, self._card = self._card, None
        if card is not None:
            try:
                scard.SCardDisconnect(card, scard.SCARD_RESET_CARD if reset
                                      else scard.SCARD_LEAVE_CARD)
            except Exception:  # noqa: BLE001, S110 - the card or the service may already be gone
                pass
