"""Resident ID card reader over the SAM serial protocol: `sam+serial:///dev/ttyUSB0?baud=115200`.

URI parameters: `baud` (115200), `poll_ms` (find-card interval, 200), `reply_ms`,
`read_reply_ms`, `gap_ms` (reply timing), `fingerprint=1` (use the 30 10 read),
`wlt`, `wlt_api`, `wlt_symbol` (vendor photo decoder, see `wlt.py`).

Each read sends find → select → read, as the module requires, polling find while no
card is on the reader. Every SW3 status becomes a typed `DeviceError` whose key is a
citizen-facing message; frames damaged on the wire are resent a few times first.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

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
from kiosk.devices.idcard.api import CardEvent, CardEventSink
from kiosk.devices.idcard.card_text import CardType, TextBlockError, decode_text_block, to_identity
from kiosk.devices.idcard.sam_protocol import (
    Command,
    Fault,
    FrameError,
    FrameErrorKind,
    Reply,
    Sw3,
    meaning_of,
    parse_read_data,
)
from kiosk.devices.idcard.transport import LinkDown, NoReply, SerialTransport, Timing
from kiosk.devices.idcard.wlt import PhotoDecodeError, PhotoDecoder, load_decoder
from kiosk.identity import Identity

log = logging.getLogger(__name__)

OFFLINE_KEY = "device.idcard.offline"
LINE_ATTEMPTS = 3


class _DamagedRead(Exception):
    """The read reply arrived damaged; the read must start again from find."""


def port_of(uri: DeviceUri) -> str:
    """`sam+serial:///dev/ttyUSB0` -> `/dev/ttyUSB0`; `sam+serial://COM3` -> `COM3`."""
    parts = urlsplit(uri.raw)
    return parts.path if parts.path else parts.netloc


class SamIdCardReader(Device):
    kind = "idcard"
    uri_params = frozenset({"baud", "reply_ms", "read_reply_ms", "gap_ms", "poll_ms",
                            "fingerprint", "wlt", "wlt_api", "wlt_symbol"})

    def __init__(self, uri: DeviceUri) -> None:
        super().__init__(uri)
        self.port = port_of(uri)
        timing = Timing(reply_s=uri.int_param("reply_ms", 500) / 1000,
                        read_reply_s=uri.int_param("read_reply_ms", 2000) / 1000,
                        gap_s=uri.int_param("gap_ms", 250) / 1000)
        self.transport = SerialTransport(self.port, uri.int_param("baud", 115200), timing)
        self.poll_s = uri.int_param("poll_ms", 200) / 1000
        self.read_command = (Command.READ_FULL if uri.param("fingerprint") in ("1", "true")
                             else Command.READ_BASE)
        self.photo_decoder: PhotoDecoder | None = None
        self.photo_decoder_error = ""
        self._opened = False
        self._card_present = False

    # -- lifecycle --------------------------------------------------------------------
    def open(self) -> None:
        with self.lock:
            self._load_photo_decoder()
            self._opened = True
            self._connect()

    def _load_photo_decoder(self) -> None:
        try:
            self.photo_decoder = load_decoder(self.uri.param("wlt"), self.uri.param("wlt_api"),
                                              self.uri.param("wlt_symbol"))
        except PhotoDecodeError as exc:
            # The reader is still useful without photos; the technician sees why.
            self.photo_decoder, self.photo_decoder_error = None, str(exc)
            log.warning("idcard photo decoder unavailable: %s", exc)

    def _connect(self) -> None:
        """Open the port and check the SAM answers and is usable."""
        self.transport.close()
        try:
            self.transport.open()
        except LinkDown as exc:
            raise DeviceError(OFFLINE_KEY, str(exc), retryable=False) from None
        reply = self._command(Command.SAM_STATUS)
        if reply.sw3 != Sw3.OK:
            raise self._error_for(reply)

    def close(self) -> None:
        with self.lock:
            self._opened = False
            self.transport.close()

    def reset(self) -> None:
        with self.lock:
            if not self.transport.is_open:
                self._connect()
            reply = self._command(Command.RESET)
            if reply.sw3 != Sw3.OK:
                raise self._error_for(reply)
            self._connect()

    def status(self) -> DeviceStatus:
        if not self._opened:
            return DeviceStatus(DeviceState.OFFLINE)
        if not self.lock.acquire(blocking=False):
            return DeviceStatus(DeviceState.BUSY)
        try:
            try:
                if not self.transport.is_open:
                    self._connect()
                reply = self._command(Command.SAM_STATUS)
                if reply.sw3 != Sw3.OK:
                    raise self._error_for(reply)
            except DeviceError as err:
                if err.key == OFFLINE_KEY:
                    return DeviceStatus(DeviceState.NO_DEVICE, message=err.key)
                return DeviceStatus(DeviceState.HARDWARE_ERROR, message=err.key)
            details = frozenset({"card_present"}) if self._card_present else frozenset()
            return DeviceStatus(DeviceState.ONLINE, details)
        finally:
            self.lock.release()

    def capabilities(self) -> dict[str, Any]:
        return {**super().capabilities(), "card_types": [t.value for t in CardType],
                "photo_decoder": self.photo_decoder is not None,
                "fingerprint": self.read_command is Command.READ_FULL}

    def sam_id(self) -> str:
        """The SAM module's management number (not personal data), as hex."""
        with self.lock:
            reply = self._command(Command.SAM_ID)
            if reply.sw3 != Sw3.OK:
                raise self._error_for(reply)
            return reply.data.hex()

    def self_test(self) -> SelfTestReport:
        checks: list[Check] = []
        st = self.status()
        checks.append(Check("sam_status", st.state == DeviceState.ONLINE,
                            st.message or st.state.value))
        if st.state == DeviceState.ONLINE:
            try:
                checks.append(Check("sam_id", True, self.sam_id()))
            except DeviceError as err:
                checks.append(Check("sam_id", False, err.key))
        checks.append(Check("photo_decoder", True,
                            "loaded" if self.photo_decoder else
                            (self.photo_decoder_error or "not configured")))
        checks.append(Check("line", self.transport.frame_errors == 0,
                            f"{self.transport.frame_errors} bad frames, "
                            f"{self.transport.noise_bytes} noise bytes"))
        return SelfTestReport(self.kind, self.uri.raw, all(c.passed for c in checks[:2]),
                              tuple(checks))

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

    def _read(self, deadline: float, cancel: threading.Event, emit: CardEventSink) -> Identity:
        if not self.transport.is_open:
            self._connect()  # re-plugged reader
        emit(CardEvent.WAITING)
        for _attempt in range(LINE_ATTEMPTS):
            self._wait_for_card(deadline, cancel, emit)
            selected = self._command(Command.SELECT_CARD, cancel)
            if selected.sw3 != Sw3.OK:
                if selected.sw3 == Sw3.SELECT_FAILED:
                    self._card_present = False
                    emit(CardEvent.REMOVED)
                raise self._error_for(selected)
            emit(CardEvent.READING)
            try:
                reply = self._command(self.read_command, cancel, in_read=True)
            except _DamagedRead as exc:
                # The module has sent (and forgotten) the data: find and select again.
                log.info("idcard read reply damaged (%s), reading again", exc)
                continue
            except DeviceError as err:
                if err.key == "idcard.card_moved":
                    self._card_present = False
                    emit(CardEvent.REMOVED)
                raise
            if reply.sw3 != Sw3.OK:
                raise self._error_for(reply)
            identity = self._decode(reply)
            emit(CardEvent.READ)
            return identity
        raise DeviceError("idcard.reader_error", "read reply damaged every time")

    def _wait_for_card(self, deadline: float, cancel: threading.Event,
                       emit: CardEventSink) -> None:
        """Poll find-card until a card answers (9F) or the deadline passes."""
        while True:
            if cancel.is_set():
                raise Cancelled()
            found = self._command(Command.FIND_CARD, cancel)
            if found.sw3 == Sw3.FIND_OK:
                break
            if found.sw3 != Sw3.FIND_FAILED:
                raise self._error_for(found)
            if self._card_present:
                self._card_present = False
                emit(CardEvent.REMOVED)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeviceError("idcard.no_card", "no card within timeout")
            if cancel.wait(min(self.poll_s, remaining)):
                raise Cancelled()
        if not self._card_present:
            self._card_present = True
            emit(CardEvent.PRESENT)

    def _decode(self, reply: Reply) -> Identity:
        try:
            record = parse_read_data(reply.data, self.read_command is Command.READ_FULL)
        except FrameError as exc:
            raise DeviceError("idcard.read_failed", f"read reply: {exc}") from None
        try:
            text = decode_text_block(record.text)
        except TextBlockError as exc:
            # The frame checksum was right, so the card itself holds bad data.
            raise DeviceError("idcard.invalid_card", f"text block {exc.field}: {exc.problem}",
                              retryable=False) from None
        photo, fmt = record.photo, "wlt"
        extra: dict[str, Any] = {"fingerprint_bytes": len(record.fingerprint)}
        if record.photo and self.photo_decoder is not None:
            try:
                photo, fmt = self.photo_decoder.decode(record.photo), "bmp"
                extra["photo_wlt"] = record.photo
            except PhotoDecodeError as exc:
                log.warning("idcard photo not decoded: %s", exc)
        log.info("idcard read: %s card", text.card_type.value)
        return to_identity(text, photo, fmt, extra)

    # -- one command, with resends for damaged frames ---------------------------------
    def _command(self, command: Command, cancel: threading.Event | None = None,
                 in_read: bool = False) -> Reply:
        last = ""
        for _attempt in range(LINE_ATTEMPTS):
            try:
                reply = self.transport.exchange(command, cancel)
            except LinkDown as exc:
                self._card_present = False
                raise DeviceError(OFFLINE_KEY, f"link down: {exc}", retryable=False) from None
            except NoReply as exc:
                if cancel is not None and cancel.is_set():
                    raise Cancelled() from None
                if in_read:
                    raise DeviceError("idcard.card_moved", f"read: {exc}") from None
                self.transport.close()  # reopen (and re-check the SAM) on the next use
                raise DeviceError(OFFLINE_KEY, f"{command.name}: no reply",
                                  retryable=False) from None
            except FrameError as exc:
                if in_read and exc.kind is FrameErrorKind.TRUNCATED:
                    raise DeviceError("idcard.card_moved", f"read: {exc}") from None
                if in_read:
                    raise _DamagedRead(exc.kind.value) from None
                last = f"{command.name}: bad frame ({exc.kind.value})"
                log.info("idcard %s, resending", last)
                continue
            if meaning_of(reply.sw3).fault is Fault.LINE:
                last = f"{command.name}: SW3 {reply.sw3:02X}"
                log.info("idcard %s, resending", last)
                continue
            return reply
        raise DeviceError("idcard.reader_error", last)

    def _error_for(self, reply: Reply) -> DeviceError:
        meaning = meaning_of(reply.sw3)
        detail = f"SW {reply.sw1:02X}{reply.sw2:02X}{reply.sw3:02X}: {meaning.text}"
        return DeviceError(meaning.key, detail, retryable=meaning.fault is not Fault.DEVICE)
