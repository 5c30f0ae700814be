"""A resident ID card SAM reader on the far end of a pseudo-terminal (the *peer* of our driver).

It answers real SAM frames (`AA AA AA 96 69` …) for synthetic cards, and misbehaves on
request: no card, wrong checksum, card pulled mid-read, any SW3 status for any
command, garbage bytes on the line, or total silence (reader unplugged). It validates
the host's frames like a real module (SW3 10 checksum, 11 length, 21 command).

Independent of `kiosk.devices`: it has its own frame and text-block encoder.

In-process (tests):   emu = SamEmulator(card="chen").start(); emu.port -> "/dev/pts/N"
As a process (demo, training, technicians):
    python -m emulators.sam_emulator --card chen [--link /tmp/idcard]
prints `PORT /dev/pts/N` and then takes commands on stdin, one per line:
    place KEY | remove | fail CMDPARA SW3 [TIMES] | corrupt [TIMES] | garbage N |
    noise [TIMES] | pull | silent on|off | quit
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pty
import select
import signal
import sys
import threading
import time
import tty
from collections import deque
from dataclasses import dataclass
from datetime import date
from typing import Self

from synthetic.cards import CARDS, Card

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"

RESET, STATUS, SAM_ID = (0x10, 0xFF), (0x11, 0xFF), (0x12, 0xFF)
FIND, SELECT = (0x20, 0x01), (0x20, 0x02)
READ_BASE, READ_ADDRESS, READ_FULL = (0x30, 0x01), (0x30, 0x03), (0x30, 0x10)
LINE_ERRORS = {0x10, 0x11, 0x21, 0x24}
KNOWN = {RESET, STATUS, SAM_ID, FIND, SELECT, READ_BASE, READ_ADDRESS, READ_FULL}

SAM_SERIAL = bytes.fromhex("0501000420160823000000000a1b2c3d")


def xor(data: bytes) -> int:
    out = 0
    for b in data:
        out ^= b
    return out


def reply_frame(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0,
                corrupt: bool = False) -> bytes:
    body = bytes((sw1, sw2, sw3)) + data
    length = (len(body) + 1).to_bytes(2, "big")
    chk = xor(length + body) ^ (0x5A if corrupt else 0)
    return PREAMBLE + length + body + bytes((chk,))


# --- text block encoder ------------------------------------------------------------

def _put(block: bytearray, offset: int, size: int, text: str) -> None:
    raw = text.encode("utf-16-le")
    if len(raw) > size:
        raise ValueError(f"{text!r} does not fit {size} bytes at offset {offset}")
    raw += " ".encode("utf-16-le") * ((size - len(raw)) // 2)
    block[offset:offset + size] = raw


def _ymd(d: date | None) -> str:
    return "长期" if d is None else d.strftime("%Y%m%d")


def text_block(card: Card) -> bytes:
    """The 256-byte UCS-2LE block a real module returns for this card."""
    b = bytearray(" ".encode("utf-16-le") * 128)
    if card.flag in (" ", "J"):
        _put(b, 0, 30, card.name)
        _put(b, 30, 2, card.gender)
        _put(b, 32, 4, card.ethnicity)
        _put(b, 36, 16, _ymd(card.birth))
        _put(b, 52, 70, card.address)
        _put(b, 122, 36, card.number)
        _put(b, 158, 30, card.issuer)
        _put(b, 188, 16, _ymd(card.valid_from))
        _put(b, 204, 16, _ymd(card.valid_to))
        if card.flag == "J":
            _put(b, 220, 18, card.pass_number)
            _put(b, 238, 4, card.issue_count)
    elif card.flag == "I":
        _put(b, 0, 120, card.english_name)
        _put(b, 120, 2, card.gender)
        _put(b, 122, 30, card.number)
        _put(b, 152, 6, card.nationality)
        _put(b, 158, 30, card.name)
        _put(b, 188, 16, _ymd(card.valid_from))
        _put(b, 204, 16, _ymd(card.valid_to))
        _put(b, 220, 16, _ymd(card.birth))
        _put(b, 236, 4, card.card_version)
        _put(b, 240, 8, card.authority_code)
    elif card.flag == "Y":
        _put(b, 0, 30, card.name)
        _put(b, 30, 2, card.gender)
        _put(b, 32, 4, card.renewal_count)
        _put(b, 36, 16, _ymd(card.birth))
        _put(b, 52, 70, card.english_name[:35])
        _put(b, 122, 36, card.number)
        _put(b, 188, 16, _ymd(card.valid_from))
        _put(b, 204, 16, _ymd(card.valid_to))
        _put(b, 220, 22, card.english_name[35:46])
        _put(b, 242, 6, card.nationality)
        _put(b, 250, 6, card.previous_permit)
    else:
        raise ValueError(f"unknown card flag {card.flag!r}")
    _put(b, 248, 2, card.flag)
    return bytes(b)


def photo_of(card: Card) -> bytes:
    """1024 stand-in bytes for the WLT photo (deterministic per card)."""
    seed = card.number.encode()
    out = bytearray(b"WL")
    while len(out) < 1024:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return bytes(out[:1024])


# --- the emulator ------------------------------------------------------------------

@dataclass
class _Fail:
    command: tuple[int, int] | None  # None: any command
    sw3: int
    times: int


class SamEmulator:
    """One SAM module with a card slot, on a pty pair."""

    def __init__(self, card: str | None = None, cards: dict[str, Card] | None = None,
                 read_delay: float = 0.0, fingerprint: int = 0) -> None:
        self.cards = dict(cards or CARDS)
        self.card: str | None = None
        self.read_delay = read_delay
        self.fingerprint = fingerprint  # bytes of fingerprint data returned by 30 10
        self._state = "idle"  # idle -> found -> selected
        self._fails: deque[_Fail] = deque()
        self._corrupt: deque[tuple[int, int] | None] = deque()
        self._garbage = b""
        self._noise_only = 0
        self._pull = False
        self.silent = False
        self.received: list[tuple[int, int]] = []  # every command, for tests
        self.host_errors = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)  # binary-safe before the driver opens it
        self.port = os.ttyname(self.slave)
        if card:
            self.place(card)

    # -- scripting ----------------------------------------------------------------
    def place(self, key: str) -> None:
        if key not in self.cards:
            raise KeyError(f"unknown synthetic card {key!r}")
        with self._lock:
            self.card, self._state = key, "idle"

    def remove(self) -> None:
        with self._lock:
            self.card, self._state = None, "idle"

    def fail(self, sw3: int, command: tuple[int, int] | None = None, times: int = 1) -> None:
        """Answer `command` (or any command) with status `sw3`, `times` times."""
        with self._lock:
            self._fails.append(_Fail(command, sw3, times))

    def corrupt(self, times: int = 1, command: tuple[int, int] | None = None) -> None:
        """Send the next replies (to `command`, or to any command) with a wrong checksum."""
        with self._lock:
            self._corrupt.extend([command] * times)

    def garbage(self, data: bytes) -> None:
        """Put noise on the line before the next reply."""
        with self._lock:
            self._garbage += data

    def noise_instead_of_reply(self, times: int = 1) -> None:
        """Answer the next commands with line noise only (no frame at all)."""
        with self._lock:
            self._noise_only += times

    def pull_mid_read(self) -> None:
        """On the next read, send part of the reply and then lose the card."""
        with self._lock:
            self._pull = True

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> SamEmulator:
        self._thread = threading.Thread(target=self._run, daemon=True, name="sam-emulator")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(2)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        buf = bytearray()
        while not self._stop.is_set():
            r, _, _ = select.select([self.master], [], [], 0.05)
            if not r:
                continue
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            buf += chunk
            for frame in self._frames(buf):
                out = self._handle(frame)
                if out:
                    self._write(out)

    def _frames(self, buf: bytearray) -> list[bytes | None]:
        """Split complete host frames out of `buf`; None marks a frame with a bad length."""
        out: list[bytes | None] = []
        while True:
            i = buf.find(PREAMBLE)
            if i < 0:
                del buf[:max(0, len(buf) - 4)]
                return out
            del buf[:i]
            if len(buf) < 7:
                return out
            n = int.from_bytes(buf[5:7], "big")
            if n < 3 or n > 300:
                del buf[:7]
                out.append(None)
                continue
            if len(buf) < 7 + n:
                return out
            out.append(bytes(buf[:7 + n]))
            del buf[:7 + n]

    def _write(self, data: bytes) -> None:
        try:
            os.write(self.master, data)
        except OSError:
            pass

    def _handle(self, frame: bytes | None) -> bytes:
        with self._lock:
            if self.silent:
                return b""
            prefix, self._garbage = self._garbage, b""
            if frame is None:
                self.host_errors += 1
                return prefix + reply_frame(0x11)
            if xor(frame[5:-1]) != frame[-1]:
                self.host_errors += 1
                return prefix + reply_frame(0x10)
            cmd = (frame[7], frame[8])
            corrupt = bool(self._corrupt) and self._corrupt[0] in (None, cmd)
            if corrupt:
                self._corrupt.popleft()
            self.received.append(cmd)
            forced = self._forced(cmd)
            if forced is not None:
                if forced not in LINE_ERRORS:  # a damaged frame was never executed
                    self._state = "idle"
                return prefix + reply_frame(forced, corrupt=corrupt)
            if self._noise_only:
                self._noise_only -= 1
                return prefix + os.urandom(23).replace(b"\x96\x69", b"\x00\x00")
            sw3, data = self._answer(cmd)
            reply = reply_frame(sw3, data, corrupt=corrupt)
            if cmd in (READ_BASE, READ_FULL) and sw3 == 0x90 and self._pull:
                # The citizen lifts the card while the radio transfer is running.
                self._pull = False
                self.card, self._state = None, "idle"
                return prefix + reply[: len(reply) // 3]
        if cmd in (READ_BASE, READ_FULL) and self.read_delay:
            time.sleep(self.read_delay)
        return prefix + reply

    def _forced(self, cmd: tuple[int, int]) -> int | None:
        for f in list(self._fails):
            if f.command is None or f.command == cmd:
                f.times -= 1
                if f.times <= 0:
                    self._fails.remove(f)
                return f.sw3
        return None

    def _answer(self, cmd: tuple[int, int]) -> tuple[int, bytes]:
        if cmd not in KNOWN:
            return 0x21, b""
        if cmd in (RESET, STATUS):
            self._state = "idle"
            return 0x90, b""
        if cmd == SAM_ID:
            return 0x90, SAM_SERIAL
        if cmd == FIND:
            if self.card is None:
                self._state = "idle"
                return 0x80, b""
            self._state = "found"
            return 0x9F, b"\x00\x00\x00\x00"
        if cmd == SELECT:
            if self.card is None or self._state not in ("found", "selected"):
                self._state = "idle"
                return 0x81, b""
            self._state = "selected"
            return 0x90, bytes(8)
        if cmd == READ_ADDRESS:
            return (0x91, b"") if self._state == "selected" else (0x41, b"")
        # READ_BASE / READ_FULL
        if self.card is None or self._state != "selected":
            self._state = "idle"
            return 0x41, b""
        self._state = "idle"  # find and select again before the next read
        card = self.cards[self.card]
        text, photo = text_block(card), photo_of(card)
        if cmd == READ_BASE:
            return 0x90, (256).to_bytes(2, "big") + (1024).to_bytes(2, "big") + text + photo
        fp = bytes((i * 7) & 0xFF for i in range(self.fingerprint))
        return 0x90, ((256).to_bytes(2, "big") + (1024).to_bytes(2, "big")
                      + len(fp).to_bytes(2, "big") + text + photo + fp)


# --- process entry point -------------------------------------------------------------

def _command(emu: SamEmulator, line: str) -> bool:
    parts = line.split()
    if not parts:
        return True
    op, args = parts[0], parts[1:]
    if op == "place":
        emu.place(args[0])
    elif op == "remove":
        emu.remove()
    elif op == "fail":
        cp = bytes.fromhex(args[0])
        emu.fail(int(args[1], 16), (cp[0], cp[1]) if len(cp) == 2 else None,
                 int(args[2]) if len(args) > 2 else 1)
    elif op == "corrupt":
        emu.corrupt(int(args[0]) if args else 1)
    elif op == "garbage":
        emu.garbage(os.urandom(int(args[0])))
    elif op == "noise":
        emu.noise_instead_of_reply(int(args[0]) if args else 1)
    elif op == "pull":
        emu.pull_mid_read()
    elif op == "silent":
        emu.silent = args[:1] == ["on"]
    elif op == "quit":
        return False
    else:
        print(f"ERR unknown command {op}", flush=True)
        return True
    print("OK", flush=True)
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="SAM ID-card reader emulator on a pty")
    ap.add_argument("--card", default="", help=f"card placed at start: {', '.join(CARDS)}")
    ap.add_argument("--link", default="", help="also make a symlink to the pty at this path")
    ap.add_argument("--read-delay", type=float, default=0.0, help="seconds per read")
    ap.add_argument("--no-stdin", action="store_true",
                    help="ignore stdin and run until SIGTERM/SIGINT")
    args = ap.parse_args(argv)
    emu = SamEmulator(card=args.card or None, read_delay=args.read_delay).start()
    if args.link:
        try:
            os.unlink(args.link)
        except FileNotFoundError:
            pass
        os.symlink(emu.port, args.link)
    print(f"PORT {emu.port}", flush=True)
    try:
        if args.no_stdin:
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            threading.Event().wait()
        for line in sys.stdin:
            if not _command(emu, line.strip()):
                break
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        emu.stop()
        if args.link:
            try:
                os.unlink(args.link)
            except FileNotFoundError:
                pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
