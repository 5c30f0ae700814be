"""Frames of the resident ID card SAM serial protocol (身份证验证安全控制模块), as pure functions.

Host to SAM: `AA AA AA 96 69` + Len (2, big-endian, counts CMD..CHK) + CMD + Para + Data + CHK.
SAM to host: same preamble and Len, then SW1 SW2 SW3 + Data + CHK. CHK is the XOR of
every byte from Len1 to the last Data byte. SW3 is the module's own status.

`FrameDecoder` turns an arbitrary byte stream into replies, skipping noise and
resynchronising on the preamble; it never raises and never loops without consuming
input, so garbage on the line yields typed `FrameError` values instead of a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
SYNC = b"\x96\x69"
HEADER_LEN = len(PREAMBLE) + 2
# The longest reply (text + photo + 1024-byte fingerprint) is 2321 bytes; anything
# much longer is noise that happens to look like a header.
MAX_BODY_LEN = 4096
MIN_REPLY_BODY = 4  # SW1 SW2 SW3 CHK


class Command(Enum):
    """CMD and Para of every command the kiosk sends."""

    RESET = (0x10, 0xFF)
    SAM_STATUS = (0x11, 0xFF)
    SAM_ID = (0x12, 0xFF)
    FIND_CARD = (0x20, 0x01)
    SELECT_CARD = (0x20, 0x02)
    READ_BASE = (0x30, 0x01)  # text + photo
    READ_ADDRESS = (0x30, 0x03)  # latest appended address
    READ_FULL = (0x30, 0x10)  # text + photo + fingerprint

    @property
    def cmd(self) -> int:
        return self.value[0]

    @property
    def para(self) -> int:
        return self.value[1]


class Sw3(IntEnum):
    """The SAM module's status byte."""

    OK = 0x90
    NOT_PRESENT = 0x91  # requested item not on the card (no appended address, no fingerprint)
    FIND_OK = 0x9F
    HOST_CHECKSUM = 0x10
    HOST_LENGTH = 0x11
    BAD_COMMAND = 0x21
    NOT_PERMITTED = 0x23
    UNRECOGNISED = 0x24
    CARD_AUTH_SAM_FAILED = 0x31
    SAM_AUTH_CARD_FAILED = 0x32
    VERIFY_FAILED = 0x33
    WRONG_CARD_TYPE = 0x40
    READ_FAILED = 0x41
    RANDOM_FAILED = 0x47
    SAM_SELF_TEST_FAILED = 0x60
    SAM_NOT_AUTHORISED = 0x66
    FIND_FAILED = 0x80
    SELECT_FAILED = 0x81


class Fault(str, Enum):
    """Who has to act on a failure."""

    CITIZEN = "citizen"  # re-place the card
    LINE = "line"  # the frame was damaged on the wire: resend
    DEVICE = "device"  # the module is broken or not authorised: technician


@dataclass(frozen=True)
class StatusMeaning:
    key: str  # citizen-facing translation key
    fault: Fault
    text: str  # English description for logs and the technician CLI


STATUS_MEANINGS: dict[int, StatusMeaning] = {
    Sw3.NOT_PRESENT: StatusMeaning("idcard.item_absent", Fault.CITIZEN, "item not on card"),
    Sw3.HOST_CHECKSUM: StatusMeaning("idcard.reader_error", Fault.LINE,
                                     "checksum error in host frame"),
    Sw3.HOST_LENGTH: StatusMeaning("idcard.reader_error", Fault.LINE, "length error in host frame"),
    Sw3.BAD_COMMAND: StatusMeaning("idcard.reader_error", Fault.LINE, "command error"),
    Sw3.NOT_PERMITTED: StatusMeaning("idcard.reader_error", Fault.DEVICE,
                                     "operation not permitted"),
    Sw3.UNRECOGNISED: StatusMeaning("idcard.reader_error", Fault.LINE, "unrecognised error"),
    Sw3.CARD_AUTH_SAM_FAILED: StatusMeaning("idcard.replace_card", Fault.CITIZEN,
                                            "card failed to authenticate the SAM"),
    Sw3.SAM_AUTH_CARD_FAILED: StatusMeaning("idcard.replace_card", Fault.CITIZEN,
                                            "SAM failed to authenticate the card"),
    Sw3.VERIFY_FAILED: StatusMeaning("idcard.replace_card", Fault.CITIZEN,
                                     "information verification error"),
    Sw3.WRONG_CARD_TYPE: StatusMeaning("idcard.unsupported_card", Fault.CITIZEN,
                                       "unrecognised card type"),
    Sw3.READ_FAILED: StatusMeaning("idcard.read_failed", Fault.CITIZEN, "card read failed"),
    Sw3.RANDOM_FAILED: StatusMeaning("idcard.replace_card", Fault.CITIZEN,
                                     "failed to get random number"),
    Sw3.SAM_SELF_TEST_FAILED: StatusMeaning("idcard.sam_fault", Fault.DEVICE,
                                            "SAM self-test failed"),
    Sw3.SAM_NOT_AUTHORISED: StatusMeaning("idcard.sam_unauthorised", Fault.DEVICE,
                                          "SAM not authorised"),
    Sw3.FIND_FAILED: StatusMeaning("idcard.no_card", Fault.CITIZEN, "no card found"),
    Sw3.SELECT_FAILED: StatusMeaning("idcard.card_moved", Fault.CITIZEN, "select card failed"),
}

UNKNOWN_STATUS = StatusMeaning("idcard.reader_error", Fault.DEVICE, "unknown status")


def meaning_of(sw3: int) -> StatusMeaning:
    return STATUS_MEANINGS.get(sw3, UNKNOWN_STATUS)


class FrameErrorKind(str, Enum):
    CHECKSUM = "checksum"
    LENGTH = "length"
    PREAMBLE = "preamble"
    TRUNCATED = "truncated"


class FrameError(ValueError):
    """A reply frame that cannot be trusted (bad checksum, impossible length, …)."""

    def __init__(self, kind: FrameErrorKind, detail: str = "") -> None:
        super().__init__(f"{kind.value}: {detail}" if detail else kind.value)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class Reply:
    sw1: int
    sw2: int
    sw3: int
    data: bytes = b""

    @property
    def ok(self) -> bool:
        return self.sw3 in (Sw3.OK, Sw3.FIND_OK)

    def __repr__(self) -> str:  # never show card data in logs
        return f"Reply(sw={self.sw1:02X}{self.sw2:02X}{self.sw3:02X}, {len(self.data)} data bytes)"


def xor_checksum(data: bytes) -> int:
    out = 0
    for b in data:
        out ^= b
    return out


def build_frame(command: Command, data: bytes = b"") -> bytes:
    """Frame one host command, e.g. FIND_CARD -> `AA AA AA 96 69 00 03 20 01 22`."""
    body = bytes((command.cmd, command.para)) + data
    length = (len(body) + 1).to_bytes(2, "big")
    return PREAMBLE + length + body + bytes((xor_checksum(length + body),))


def build_reply(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    """Frame a reply (used by tests to make vectors; the emulator has its own encoder)."""
    body = bytes((sw1, sw2, sw3)) + data
    length = (len(body) + 1).to_bytes(2, "big")
    return PREAMBLE + length + body + bytes((xor_checksum(length + body),))


def parse_reply(frame: bytes) -> Reply:
    """Parse exactly one complete reply frame; raise FrameError if it is not one."""
    if not frame.startswith(PREAMBLE):
        raise FrameError(FrameErrorKind.PREAMBLE, "missing AA AA AA 96 69")
    if len(frame) < HEADER_LEN:
        raise FrameError(FrameErrorKind.TRUNCATED, f"{len(frame)} bytes")
    length = int.from_bytes(frame[5:7], "big")
    if length < MIN_REPLY_BODY or length > MAX_BODY_LEN:
        raise FrameError(FrameErrorKind.LENGTH, f"length field {length}")
    if len(frame) < HEADER_LEN + length:
        raise FrameError(FrameErrorKind.TRUNCATED, f"{len(frame)} of {HEADER_LEN + length} bytes")
    if len(frame) > HEADER_LEN + length:
        raise FrameError(FrameErrorKind.LENGTH, f"{len(frame) - HEADER_LEN - length} extra bytes")
    covered = frame[5:-1]
    if xor_checksum(covered) != frame[-1]:
        raise FrameError(FrameErrorKind.CHECKSUM, "XOR mismatch")
    return Reply(frame[7], frame[8], frame[9], bytes(frame[10:-1]))


class FrameDecoder:
    """Incremental reply decoder with resynchronisation on noise.

    `feed()` returns every reply or FrameError found so far. Noise before a preamble
    is dropped silently (`skipped` counts it). A frame with a bad checksum or an
    impossible length is reported, and the decoder resumes searching one byte past
    that frame's start, so a fake preamble inside noise cannot swallow a real frame.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.skipped = 0

    @property
    def pending(self) -> int:
        return len(self._buf)

    def clear(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> list[Reply | FrameError]:
        self._buf += data
        out: list[Reply | FrameError] = []
        while True:
            start = self._buf.find(PREAMBLE)
            if start < 0:
                # Keep a tail that may be the beginning of a preamble.
                keep = _partial_preamble_tail(self._buf)
                self.skipped += len(self._buf) - keep
                del self._buf[: len(self._buf) - keep]
                return out
            if start:
                self.skipped += start
                del self._buf[:start]
            if len(self._buf) < HEADER_LEN:
                return out
            length = int.from_bytes(self._buf[5:7], "big")
            if length < MIN_REPLY_BODY or length > MAX_BODY_LEN:
                out.append(FrameError(FrameErrorKind.LENGTH, f"length field {length}"))
                del self._buf[:1]
                continue
            if len(self._buf) < HEADER_LEN + length:
                return out
            frame = bytes(self._buf[: HEADER_LEN + length])
            try:
                reply = parse_reply(frame)
            except FrameError as err:
                out.append(err)
                del self._buf[:1]
                continue
            del self._buf[: HEADER_LEN + length]
            out.append(reply)


def _partial_preamble_tail(buf: bytearray) -> int:
    for n in range(min(len(PREAMBLE) - 1, len(buf)), 0, -1):
        if buf[-n:] == PREAMBLE[:n]:
            return n
    return 0


# --- read replies --------------------------------------------------------------------

TEXT_LEN = 256
PHOTO_LEN = 1024


@dataclass(frozen=True)
class CardRecord:
    """The raw parts of a read reply (all personal data: never log)."""

    text: bytes
    photo: bytes
    fingerprint: bytes = b""

    def __repr__(self) -> str:
        return (f"CardRecord(text={len(self.text)}B, photo={len(self.photo)}B, "
                f"fingerprint={len(self.fingerprint)}B)")


def parse_read_data(data: bytes, with_fingerprint: bool = False) -> CardRecord:
    """Split the data of a READ_BASE / READ_FULL reply into text, photo and fingerprint."""
    n_lengths = 3 if with_fingerprint else 2
    head = 2 * n_lengths
    if len(data) < head:
        raise FrameError(FrameErrorKind.LENGTH, f"read reply of {len(data)} bytes")
    lengths = [int.from_bytes(data[i:i + 2], "big") for i in range(0, head, 2)]
    text_len, photo_len = lengths[0], lengths[1]
    fp_len = lengths[2] if with_fingerprint else 0
    if text_len != TEXT_LEN:
        raise FrameError(FrameErrorKind.LENGTH, f"text length {text_len}")
    if photo_len not in (0, PHOTO_LEN):
        raise FrameError(FrameErrorKind.LENGTH, f"photo length {photo_len}")
    if fp_len not in (0, 512, 1024):
        raise FrameError(FrameErrorKind.LENGTH, f"fingerprint length {fp_len}")
    if len(data) != head + text_len + photo_len + fp_len:
        raise FrameError(FrameErrorKind.LENGTH,
                         f"{len(data)} data bytes for {text_len}+{photo_len}+{fp_len}")
    text = data[head:head + text_len]
    photo = data[head + text_len:head + text_len + photo_len]
    fingerprint = data[head + text_len + photo_len:]
    return CardRecord(bytes(text), bytes(photo), bytes(fingerprint))
