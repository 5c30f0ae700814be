"""Social-security card reader over PC/SC: `pcsc://?reader=SUBSTRING`.

URI parameters: `reader` (case-insensitive substring of the PC/SC reader name; empty =
the first reader), `slice_ms` (monitoring slice, 250).

A read waits for the reader and a card (through unplug/replug and pcscd restarts),
selects the SSSE application, reads EF05 and EF06 and returns one `Identity`.

Issuers lay out the records in three ways (`apdu.Layout`); each EF is read in the first
layout of `apdu.LAYOUT_ORDER` the card answers to. The layout is remembered per ATR (the
ATR names the card's chip, operating system and issuer batch), so the next read of the
same card, or of its issuer's other cards, goes straight there; a card that differs
from its ATR's last one costs one refused READ RECORD and is remembered instead.

A card is read once per insertion. After a card that cannot be used (not a
social-security card, unreadable) the next read waits for it to be taken out first, so
the citizen is not told the same thing in a loop; and after a card was read, the next
read will not take the same card again until it has been taken out and put back, so a
card a citizen forgot in the slot never identifies the next citizen (`TAKE_OUT` tells
the identify screen to say 请取出读卡口中的卡片).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from kiosk.devices.base import (
    Cancelled,
    Check,
    Device,
    DeviceError,
    DeviceState,
    DeviceStatus,
    DeviceUri,
    SelfTestReport,
)
from kiosk.devices.sscard.apdu import (
    LAYOUT_ORDER,
    SSSE_AID,
    ApduError,
    Layout,
    decode_ef05,
    decode_ef06,
    exchange,
    layout_order,
    read_ef,
    read_plan,
    select_by_name,
    select_ef,
    to_identity,
)
from kiosk.devices.sscard.api import CardEvent, CardEventSink
from kiosk.devices.sscard.transport import Fault, PcscError, PcscTransport, ReaderState
from kiosk.identity import Identity

log = logging.getLogger(__name__)

OFFLINE_KEY = "device.sscard.offline"
REMEMBERED_ATRS = 32  # kinds of card whose layout is kept (a fleet meets a handful)


def _counter(state: ReaderState) -> int:
    return (state.event >> 16) & 0xFFFF


class PcscSsCardReader(Device):
    kind = "sscard"
    uri_params = frozenset({"reader", "slice_ms"})

    def __init__(self, uri: DeviceUri) -> None:
        super().__init__(uri)
        self.transport = PcscTransport(uri.param("reader"))
        self.slice_ms = uri.int_param("slice_ms", 250)
        self._opened = False
        self._state: ReaderState | None = None
        # The insertion (see _insertion) that must not be read again: it failed, or it
        # was read already. None: whatever card is in the slot may be read.
        self._spent: tuple[int, str | None, int] | None = None
        # (ATR, EF) -> the layout that card answered to, most recent last.
        self._layouts: OrderedDict[tuple[bytes, str], Layout] = OrderedDict()

    # -- lifecycle --------------------------------------------------------------------
    def open(self) -> None:
        with self.lock:
            self._opened = True
            try:
                self._state = self.transport.state()
            except PcscError as err:
                raise DeviceError(OFFLINE_KEY, str(err), retryable=False) from None
            if self._state.reader is None:
                # Stay open: a reader plugged in later is picked up by status()/reads.
                raise DeviceError(OFFLINE_KEY, f"no PC/SC reader matching "
                                  f"{self.transport.reader_filter!r}", retryable=False)

    def close(self) -> None:
        with self.lock:
            self._opened = False
            self.transport.close()

    def status(self) -> DeviceStatus:
        if not self._opened:
            return DeviceStatus(DeviceState.OFFLINE)
        if not self.lock.acquire(blocking=False):
            return DeviceStatus(DeviceState.BUSY)
        try:
            try:
                state = self.transport.state()
            except PcscError as err:
                return DeviceStatus(DeviceState.HARDWARE_ERROR, message=str(err.fault.value))
            if state.reader is None:
                return DeviceStatus(DeviceState.NO_DEVICE, message=OFFLINE_KEY)
            details = frozenset({"card_present"}) if state.card_present else frozenset()
            return DeviceStatus(DeviceState.ONLINE, details)
        finally:
            self.lock.release()

    def capabilities(self) -> dict[str, Any]:
        return {**super().capabilities(), "application": "SSSE", "files": ["EF05", "EF06"],
                "layouts": [lay.value for lay in LAYOUT_ORDER]}

    def self_test(self) -> SelfTestReport:
        try:
            readers = self.transport.readers()
            service = Check("pcscd", True, f"{len(readers)} reader(s)")
        except PcscError as err:
            readers, service = [], Check("pcscd", False, err.fault.value)
        match = [r for r in readers if self.transport.reader_filter in r.lower()]
        reader = Check("reader", bool(match), match[0] if match else "no matching reader")
        return SelfTestReport(self.kind, self.uri.raw, service.passed and reader.passed,
                              (service, reader))

    # -- reading ----------------------------------------------------------------------
    def read_identity(self, timeout: float, cancel: threading.Event,
                      on_event: CardEventSink | None = None) -> Identity:
        emit = on_event or (lambda _e: None)
        with self.lock:
            if not self._opened:
                raise DeviceError(OFFLINE_KEY, "reader not open", retryable=False)
            try:
                return self._read(time.monotonic() + timeout, cancel, emit)
            except DeviceError:
                emit(CardEvent.FAILED)
                raise
            finally:
                self.transport.disconnect()

    def _wait(self, until: Any, deadline: float, cancel: threading.Event) -> ReaderState | None:
        try:
            state = self.transport.wait(until, deadline, cancel, self._state, self.slice_ms)
        except PcscError as err:
            if err.fault is Fault.CANCELLED:
                raise Cancelled() from None
            raise DeviceError(OFFLINE_KEY, str(err), retryable=False) from None
        if state is not None:
            self._state = state
        return state

    def _read(self, deadline: float, cancel: threading.Event, emit: CardEventSink) -> Identity:
        if self._spent is not None and self._card_changed():
            self._spent = None  # taken out and put back since
        if self._spent is not None:
            emit(CardEvent.TAKE_OUT)
            gone = self._wait(lambda s: not s.card_present, deadline, cancel)
            if gone is None:
                raise DeviceError("sscard.remove_card", "a used card is still in the slot")
            self._spent = None
            emit(CardEvent.REMOVED)
        emit(CardEvent.WAITING)
        state = self._wait(lambda s: s.card_present, deadline, cancel)
        if state is None or state.reader is None:
            if self.transport.last.reader is None:
                raise DeviceError(OFFLINE_KEY, "no reader until the deadline", retryable=False)
            raise DeviceError("sscard.no_card", "no card within timeout")
        emit(CardEvent.PRESENT)
        try:
            atr = self.transport.connect(state.reader)
            emit(CardEvent.READING)
            identity = self._read_card(atr)
        except PcscError as err:
            raise self._error_for(err, emit) from None
        except ApduError as err:
            log.info("sscard unusable card: %s", err.detail)
            if err.key != "sscard.read_failed":
                self._spent = self._insertion(state)
            raise DeviceError(err.key, err.detail, retryable=err.retryable) from None
        self._spent = self._insertion(state)
        emit(CardEvent.READ)
        log.info("sscard read: spec %s", identity.extra.get("spec_version", "?"))
        return identity

    def _insertion(self, state: ReaderState) -> tuple[int, str | None, int]:
        """One insertion of one card: PC/SC counts card events per reader in the high
        word of the event state; the transport's generation covers pcscd restarts."""
        return self.transport.generation, state.reader, _counter(state)

    def _card_changed(self) -> bool:
        """Whether the spent card was taken out (and maybe put back) since."""
        try:
            now = self.transport.state()
        except PcscError:
            return False
        if not now.card_present:
            return False  # still to be waited for in _read (emits REMOVED)
        return self._spent != self._insertion(now)

    def _read_card(self, atr: bytes) -> Identity:
        exchange(self.transport.transmit, select_by_name(SSSE_AID), "select SSSE")
        values: dict[int, bytes] = {}
        used: list[str] = []
        for fid, items in read_plan():
            name = fid.hex().upper()  # "EF05"
            exchange(self.transport.transmit, select_ef(fid), f"select {name}")
            layout, got = read_ef(self.transport.transmit, name, items,
                                  layout_order(self._layouts.get((atr, name))))
            self._remember(atr, name, layout)
            values.update(got)
            used.append(f"{name} {layout.value}")
        log.info("sscard records: %s (ATR %s)", ", ".join(used), atr.hex().upper())
        return to_identity(decode_ef05(values), decode_ef06(values))

    def _remember(self, atr: bytes, name: str, layout: Layout) -> None:
        self._layouts[(atr, name)] = layout
        self._layouts.move_to_end((atr, name))
        while len(self._layouts) > 2 * REMEMBERED_ATRS:
            self._layouts.popitem(last=False)

    def remembered_layout(self, atr: bytes, name: str) -> Layout | None:
        """The layout a card with this ATR answered to last in EF `name` (for tests and
        the technician's status)."""
        return self._layouts.get((atr, name))

    def _error_for(self, err: PcscError, emit: CardEventSink) -> DeviceError:
        if err.fault is Fault.CARD_REMOVED:
            emit(CardEvent.REMOVED)
            return DeviceError("sscard.card_removed", str(err))
        if err.fault is Fault.CARD_MUTE:
            if self._state is not None:
                self._spent = self._insertion(self._state)
            return DeviceError("sscard.card_mute", str(err))
        if err.fault is Fault.CANCELLED:
            raise Cancelled()
        if err.fault is Fault.READER_GONE:
            self._state = None
            return DeviceError("sscard.reader_lost", str(err))
        return DeviceError("sscard.read_failed", str(err))
