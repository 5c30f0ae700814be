"""Card-reader benchmarks: SAM frame/text decoding, a whole ID-card read over a pty against
the SAM emulator (zero-latency peer: our software time), social-security record decoding."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable


def _median_us(fn: Callable[[], object], repeat: int) -> float:
    fn()
    samples = []
    for _ in range(max(repeat, 20)):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return round(statistics.median(samples) * 1e6, 1)


def measure(repeat: int) -> dict[str, float]:
    from emulators.sam_emulator import SamEmulator, photo_of, reply_frame, text_block
    from emulators.vpcd_card import files_for
    from kiosk.devices.idcard.card_text import decode_text_block
    from kiosk.devices.idcard.sam_protocol import FrameDecoder, parse_read_data, parse_reply
    from kiosk.devices.registry import create_device
    from kiosk.devices.sscard.apdu import decode_ef05, decode_ef06
    from synthetic.cards import CARDS
    from synthetic.citizens import BY_KEY

    card = CARDS["chen"]
    frame = reply_frame(0x90, (256).to_bytes(2, "big") + (1024).to_bytes(2, "big")
                        + text_block(card) + photo_of(card))

    def decode_read() -> object:
        return decode_text_block(parse_read_data(parse_reply(frame).data).text)

    noisy = (b"\x00\xaa\x13" * 50 + frame) * 40

    def stream() -> None:
        dec = FrameDecoder()
        for i in range(0, len(noisy), 64):
            dec.feed(noisy[i:i + 64])

    t0 = time.perf_counter()
    stream()
    stream_mb_s = len(noisy) / (time.perf_counter() - t0) / 1e6

    files = files_for(BY_KEY["chen"])

    def decode_ss() -> object:
        return decode_ef05(files[0xEF05]), decode_ef06(files[0xEF06])

    out = {"idcard_read_decode_us": _median_us(decode_read, repeat),
           "idcard_stream_decode_mb_s": round(stream_mb_s, 2),
           "sscard_records_decode_us": _median_us(decode_ss, repeat)}

    with SamEmulator(card="chen") as emu:
        reader = create_device("idcard", f"sam+serial://{emu.port}")
        reader.open()
        cancel = threading.Event()
        samples = []
        for _ in range(max(repeat, 10)):
            t0 = time.perf_counter()
            reader.read_identity(2.0, cancel)  # type: ignore[attr-defined]
            samples.append(time.perf_counter() - t0)
        reader.close()
    out["idcard_pty_read_ms"] = round(statistics.median(samples) * 1000, 2)
    return out
