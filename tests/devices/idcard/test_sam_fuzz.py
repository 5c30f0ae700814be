"""Property-based fuzzing: the frame decoder and the text-block decoder never crash or
hang on random, truncated or noisy input; they return replies or typed errors only."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from emulators.sam_emulator import reply_frame, text_block
from kiosk.devices.idcard.card_text import TextBlockError, decode_text_block
from kiosk.devices.idcard.sam_protocol import (
    MAX_BODY_LEN,
    PREAMBLE,
    FrameDecoder,
    FrameError,
    Reply,
    parse_read_data,
    parse_reply,
)
from synthetic.cards import CARDS

# Random bytes biased towards the preamble so that the interesting paths are hit.
chunks = st.lists(st.one_of(st.binary(max_size=64), st.just(PREAMBLE),
                            st.just(PREAMBLE + b"\x00"), st.just(b"\xaa\xaa")), max_size=30)
FRAME_OVERHEAD = 11  # AA AA AA 96 69, length (2), SW1 SW2 SW3, checksum
replies = st.builds(lambda sw3, data: reply_frame(sw3, data), st.integers(0, 255),
                    st.binary(max_size=40))


@settings(max_examples=400, deadline=None)
@given(chunks)
def test_decoder_never_crashes_on_random_input(parts: list[bytes]) -> None:
    dec = FrameDecoder()
    fed = accounted = 0
    for part in parts:
        fed += len(part)
        for item in dec.feed(part):
            assert isinstance(item, (Reply, FrameError))
            # A reply consumes its whole frame (preamble, length, SW1-3, data, checksum);
            # an error gives up exactly one byte, the start of the frame that failed.
            accounted += FRAME_OVERHEAD + len(item.data) if isinstance(item, Reply) else 1
        # The buffer never holds more than one maximal frame: no unbounded growth.
        assert dec.pending <= 7 + MAX_BODY_LEN
        # Every byte fed is in a reply, an error, the noise count or still pending:
        # nothing is lost or counted twice (so a resync cannot skip a real frame).
        assert accounted + dec.skipped + dec.pending == fed


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=50), replies, st.binary(max_size=50), st.integers(1, 17))
def test_a_valid_reply_is_found_inside_noise_whatever_the_chunking(
        before: bytes, frame: bytes, after: bytes, step: int) -> None:
    dec = FrameDecoder()
    stream = before + frame + after
    found: list[Reply] = []
    for i in range(0, len(stream), step):
        found += [r for r in dec.feed(stream[i:i + step]) if isinstance(r, Reply)]
    assert parse_reply(frame) in found


@settings(max_examples=300, deadline=None)
@given(replies, st.data())
def test_truncated_frames_are_typed_errors(frame: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(frame) - 1))
    try:
        parse_reply(frame[:cut])
    except FrameError:
        pass
    else:
        raise AssertionError("a truncated frame was accepted")
    # and the streaming decoder just waits for more
    assert [r for r in FrameDecoder().feed(frame[:cut]) if isinstance(r, Reply)] == []


@settings(max_examples=300, deadline=None)
@given(replies, st.integers(0, 2000), st.integers(1, 255))
def test_any_single_byte_corruption_is_detected_or_harmless(frame: bytes, pos: int,
                                                            flip: int) -> None:
    pos %= len(frame)
    bad = bytearray(frame)
    bad[pos] ^= flip
    try:
        reply = parse_reply(bytes(bad))
    except FrameError:
        return
    # XOR catches every single-byte change in the covered part; only the preamble
    # is outside it, and that is rejected above. So nothing gets through.
    raise AssertionError(f"corruption at {pos} accepted as {reply!r}")


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=2400), st.booleans())
def test_read_data_never_crashes(data: bytes, fp: bool) -> None:
    try:
        parse_read_data(data, fp)
    except FrameError:
        pass


@settings(max_examples=500, deadline=None)
@given(st.binary(min_size=256, max_size=256))
def test_text_block_random_bytes_give_only_typed_errors(raw: bytes) -> None:
    try:
        decode_text_block(raw)
    except TextBlockError:
        pass


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(sorted(CARDS)), st.integers(0, 255), st.integers(0, 255),
       st.integers(1, 255))
def test_corrupted_real_blocks_give_only_typed_errors(key: str, pos: int, pos2: int,
                                                      flip: int) -> None:
    raw = bytearray(text_block(CARDS[key]))
    raw[pos] ^= flip
    raw[pos2] ^= flip
    try:
        decode_text_block(bytes(raw))
    except TextBlockError:
        pass
