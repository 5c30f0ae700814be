"""The emulator's decoder is a peer parser: any bytes decode without raising or hanging."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from emulators.escpos_decoder import decode
from emulators.escpos_printer import EmulatedPrinter

COMMANDS = st.sampled_from([b"\x1b", b"\x1c", b"\x1d", b"\x10", b"\x1b@", b"\x1c&", b"\x1d(k",
                            b"\x1dv0", b"\x10\x04", b"\x1dV", b"\n", "中文，".encode("gb18030")])


@given(st.lists(st.one_of(COMMANDS, st.binary(max_size=8)), max_size=40))
@settings(max_examples=300)
def test_decode_any_bytes(parts: list[bytes]) -> None:
    data = b"".join(parts)
    decode(data).render_text()
    printer = EmulatedPrinter()
    for i in range(0, len(data), 7):
        printer.feed(data[i:i + 7])
