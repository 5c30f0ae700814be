"""SAM frames as byte vectors: every command, every reply shape, every SW3 status."""

from __future__ import annotations

import pytest

from kiosk.devices.idcard.sam_protocol import (
    STATUS_MEANINGS,
    Command,
    Fault,
    FrameDecoder,
    FrameError,
    FrameErrorKind,
    Reply,
    Sw3,
    build_frame,
    build_reply,
    meaning_of,
    parse_read_data,
    parse_reply,
    xor_checksum,
)

# Host frames, from the protocol reference (computed and cross-checked there).
COMMAND_VECTORS = [
    (Command.RESET, "AA AA AA 96 69 00 03 10 FF EC"),
    (Command.SAM_STATUS, "AA AA AA 96 69 00 03 11 FF ED"),
    (Command.SAM_ID, "AA AA AA 96 69 00 03 12 FF EE"),
    (Command.FIND_CARD, "AA AA AA 96 69 00 03 20 01 22"),
    (Command.SELECT_CARD, "AA AA AA 96 69 00 03 20 02 21"),
    (Command.READ_BASE, "AA AA AA 96 69 00 03 30 01 32"),
    (Command.READ_ADDRESS, "AA AA AA 96 69 00 03 30 03 30"),
    (Command.READ_FULL, "AA AA AA 96 69 00 03 30 10 23"),
]


@pytest.mark.parametrize("command,hexframe", COMMAND_VECTORS, ids=lambda v: getattr(v, "name", ""))
def test_command_frames(command: Command, hexframe: str) -> None:
    assert build_frame(command) == bytes.fromhex(hexframe)


def test_every_command_has_a_vector() -> None:
    assert {c for c, _ in COMMAND_VECTORS} == set(Command)


def test_command_with_data_counts_it_in_length_and_checksum() -> None:
    # "set max RF bytes" 61 FF + 50, from the reference: ... 00 04 61 FF 50 CA
    frame = build_frame(Command.RESET, b"\x50")
    assert frame[5:7] == b"\x00\x04"
    assert frame[-1] == xor_checksum(frame[5:-1])


# Replies seen on real modules (reference §1.4).
REPLY_VECTORS = [
    ("find ok", "AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97", Reply(0, 0, 0x9F, bytes(4))),
    ("find: no card", "AA AA AA 96 69 00 04 00 00 80 84", Reply(0, 0, 0x80)),
    ("select ok", "AA AA AA 96 69 00 0C 00 00 90" + " 00" * 8 + " 9C", Reply(0, 0, 0x90, bytes(8))),
    ("select failed", "AA AA AA 96 69 00 04 00 00 81 85", Reply(0, 0, 0x81)),
    ("read failed", "AA AA AA 96 69 00 04 00 00 41 45", Reply(0, 0, 0x41)),
    ("status ok", "AA AA AA 96 69 00 04 00 00 90 94", Reply(0, 0, 0x90)),
    ("card status forwarded", "AA AA AA 96 69 00 04 6A 82 31 " + f"{0x04 ^ 0x6A ^ 0x82 ^ 0x31:02X}",
     Reply(0x6A, 0x82, 0x31)),
]


@pytest.mark.parametrize("name,hexframe,expected", REPLY_VECTORS, ids=[v[0] for v in REPLY_VECTORS])
def test_reply_vectors(name: str, hexframe: str, expected: Reply) -> None:
    frame = bytes.fromhex(hexframe)
    assert parse_reply(frame) == expected
    assert build_reply(expected.sw3, expected.data, expected.sw1, expected.sw2) == frame


def test_read_reply_is_1295_bytes_with_length_0508() -> None:
    data = (256).to_bytes(2, "big") + (1024).to_bytes(2, "big") + bytes(256) + bytes(1024)
    frame = build_reply(0x90, data)
    assert len(frame) == 1295 and frame[5:7] == b"\x05\x08"
    rec = parse_read_data(parse_reply(frame).data)
    assert len(rec.text) == 256 and len(rec.photo) == 1024 and rec.fingerprint == b""


@pytest.mark.parametrize("fp_len,total", [(0, 1297), (512, 1809), (1024, 2321)])
def test_full_read_sizes_with_fingerprint(fp_len: int, total: int) -> None:
    data = (256).to_bytes(2, "big") + (1024).to_bytes(2, "big") + fp_len.to_bytes(2, "big")
    data += bytes(range(256)) + b"\x11" * 1024 + b"\x22" * fp_len
    frame = build_reply(0x90, data)
    assert len(frame) == total
    rec = parse_read_data(parse_reply(frame).data, with_fingerprint=True)
    assert rec.text == bytes(range(256)) and rec.photo == b"\x11" * 1024
    assert rec.fingerprint == b"\x22" * fp_len


@pytest.mark.parametrize("data,problem", [
    (b"\x01", "short"),
    ((255).to_bytes(2, "big") + (1024).to_bytes(2, "big") + bytes(1279), "text length"),
    ((256).to_bytes(2, "big") + (1000).to_bytes(2, "big") + bytes(1256), "photo length"),
    ((256).to_bytes(2, "big") + (1024).to_bytes(2, "big") + bytes(1000), "too short"),
    ((256).to_bytes(2, "big") + (1024).to_bytes(2, "big") + bytes(1281), "too long"),
])
def test_read_data_with_wrong_lengths_is_a_typed_error(data: bytes, problem: str) -> None:
    with pytest.raises(FrameError) as exc:
        parse_read_data(data)
    assert exc.value.kind is FrameErrorKind.LENGTH


def test_fingerprint_length_must_be_known() -> None:
    data = (256).to_bytes(2, "big") + (1024).to_bytes(2, "big") + (100).to_bytes(2, "big")
    with pytest.raises(FrameError):
        parse_read_data(data + bytes(1380), with_fingerprint=True)


@pytest.mark.parametrize("frame,kind", [
    (b"\xaa\xaa\x96\x69\x00\x04\x00\x00\x90\x94", FrameErrorKind.PREAMBLE),
    (bytes.fromhex("AA AA AA 96 69 00"), FrameErrorKind.TRUNCATED),
    (bytes.fromhex("AA AA AA 96 69 00 04 00 00 90"), FrameErrorKind.TRUNCATED),
    (bytes.fromhex("AA AA AA 96 69 00 04 00 00 90 95"), FrameErrorKind.CHECKSUM),
    (bytes.fromhex("AA AA AA 96 69 00 02 00 00"), FrameErrorKind.LENGTH),
    (bytes.fromhex("AA AA AA 96 69 FF FF 00 00 90 94"), FrameErrorKind.LENGTH),
    (bytes.fromhex("AA AA AA 96 69 00 04 00 00 90 94 00"), FrameErrorKind.LENGTH),
])
def test_bad_frames_are_typed_errors(frame: bytes, kind: FrameErrorKind) -> None:
    with pytest.raises(FrameError) as exc:
        parse_reply(frame)
    assert exc.value.kind is kind


# Every SW3 status of the module: message key and who must act.
SW3_TABLE = [
    (0x90, "", None), (0x9F, "", None),
    (0x91, "idcard.item_absent", Fault.CITIZEN),
    (0x10, "idcard.reader_error", Fault.LINE), (0x11, "idcard.reader_error", Fault.LINE),
    (0x21, "idcard.reader_error", Fault.LINE), (0x23, "idcard.reader_error", Fault.DEVICE),
    (0x24, "idcard.reader_error", Fault.LINE),
    (0x31, "idcard.replace_card", Fault.CITIZEN), (0x32, "idcard.replace_card", Fault.CITIZEN),
    (0x33, "idcard.replace_card", Fault.CITIZEN), (0x40, "idcard.unsupported_card", Fault.CITIZEN),
    (0x41, "idcard.read_failed", Fault.CITIZEN), (0x47, "idcard.replace_card", Fault.CITIZEN),
    (0x60, "idcard.sam_fault", Fault.DEVICE), (0x66, "idcard.sam_unauthorised", Fault.DEVICE),
    (0x80, "idcard.no_card", Fault.CITIZEN), (0x81, "idcard.card_moved", Fault.CITIZEN),
    (0x55, "idcard.reader_error", Fault.DEVICE),  # not in the spec
]


@pytest.mark.parametrize("sw3,key,fault", SW3_TABLE, ids=[f"{v[0]:02X}" for v in SW3_TABLE])
def test_sw3_meanings(sw3: int, key: str, fault: Fault | None) -> None:
    if fault is None:
        assert Reply(0, 0, sw3).ok and sw3 not in STATUS_MEANINGS
        return
    m = meaning_of(sw3)
    assert (m.key, m.fault) == (key, fault)
    assert not Reply(0, 0, sw3).ok


def test_every_spec_status_is_in_the_table() -> None:
    assert {s.value for s in Sw3} - {0x90, 0x9F} == set(STATUS_MEANINGS)
    assert {v[0] for v in SW3_TABLE} >= {s.value for s in Sw3}


def test_every_status_key_is_translated() -> None:
    from kiosk.i18n import LOCALES, Translator

    keys = {m.key for m in STATUS_MEANINGS.values()} | {"device.idcard.offline",
                                                        "idcard.invalid_card"}
    for loc in LOCALES:
        t = Translator(loc)
        assert all(t.has(k) for k in keys), loc


# -- the incremental decoder ---------------------------------------------------------------

FIND_OK = bytes.fromhex("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")
NO_CARD = bytes.fromhex("AA AA AA 96 69 00 04 00 00 80 84")


def test_decoder_byte_by_byte() -> None:
    dec = FrameDecoder()
    out: list[object] = []
    for b in FIND_OK + NO_CARD:
        out += dec.feed(bytes((b,)))
    assert out == [Reply(0, 0, 0x9F, bytes(4)), Reply(0, 0, 0x80)]
    assert dec.pending == 0 and dec.skipped == 0


def test_decoder_skips_noise_and_partial_preambles() -> None:
    dec = FrameDecoder()
    noise = b"\x00\xff\xaa\xaa\x13\xaa\xaa\xaa\x96"  # includes broken preambles
    assert dec.feed(noise + FIND_OK) == [Reply(0, 0, 0x9F, bytes(4))]
    assert dec.skipped == len(noise)


def shapes(out: list[Reply | FrameError]) -> list[Reply | FrameErrorKind]:
    """Decoder output with errors reduced to their kind (exceptions do not compare)."""
    return [o.kind if isinstance(o, FrameError) else o for o in out]


def test_decoder_reports_bad_checksum_and_resyncs_on_the_next_frame() -> None:
    bad = FIND_OK[:-1] + bytes((FIND_OK[-1] ^ 1,))
    dec = FrameDecoder()
    out = dec.feed(bad + NO_CARD)
    assert shapes(out) == [FrameErrorKind.CHECKSUM, Reply(0, 0, 0x80)]
    # the bad frame's first byte was dropped with the error, the rest skipped as noise
    assert (dec.skipped, dec.pending) == (len(bad) - 1, 0)


def test_fake_preamble_with_huge_length_does_not_swallow_the_real_frame() -> None:
    fake = bytes.fromhex("AA AA AA 96 69 7F FF")
    dec = FrameDecoder()
    out = dec.feed(fake + NO_CARD)
    assert shapes(out) == [FrameErrorKind.LENGTH, Reply(0, 0, 0x80)]
    assert (dec.skipped, dec.pending) == (len(fake) - 1, 0)


def test_fake_preamble_with_plausible_length_still_finds_the_real_frame() -> None:
    # A fake header claiming 12 bytes swallows the first real frame whole; the decoder
    # must report it, resume one byte past the fake preamble and find BOTH real frames.
    fake = bytes.fromhex("AA AA AA 96 69 00 0C 00")
    dec = FrameDecoder()
    out = dec.feed(fake + NO_CARD + NO_CARD)
    assert shapes(out) == [FrameErrorKind.CHECKSUM, Reply(0, 0, 0x80), Reply(0, 0, 0x80)]
    assert (dec.skipped, dec.pending) == (len(fake) - 1, 0)


def test_reply_repr_shows_no_data() -> None:
    r = Reply(0, 0, 0x90, "陈晓梅".encode("utf-16-le"))
    assert "陈" not in repr(r) and "9" in repr(r)
