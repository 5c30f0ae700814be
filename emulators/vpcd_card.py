"""A virtual social-security card that plugs into pcscd's `vsmartcard-vpcd` reader driver.

The vpcd driver (in pcscd) listens on a TCP port; a virtual card "is inserted" by
connecting to it and "removed" by closing the connection. Every message is a 2-byte
big-endian length and a payload; a 1-byte payload is a control code (0 power off,
1 power on, 2 reset, 4 get ATR — answered with the ATR), anything longer is a command
APDU, answered with the response APDU.

The card holds the SSSE application (`sx1.sh.社会保障`) with EF05 (card information) and
EF06 (holder) for the synthetic citizens, behaves like a T=0 card (`61 xx` after
SELECT, `6C xx` for a wrong Le) and misbehaves on request. Independent of
`kiosk.devices`.

Issuers address the records of an EF in different ways; `--layout` picks the issuer:
- `tag`: record number = the item's tag (READ RECORD P2 = 04, or by SFI in P2);
- `position`: record number = position in the EF (EF06: 1 = item 08, 2 = item 09, …);
- `identifier`: the tag as record identifier (P2 = 00, first occurrence);
- `none`: an issuer whose records are addressed in none of those ways.
Each answers only its own way: a record it does not have is `6A83`, the other P2 mode
`6A81` (function not supported). Each issuer's cards have their own ATR (historical
bytes), as real batches do.

    python -m emulators.vpcd_card --port 35963 --card li [--not-ss] [--name-len 32]
                                  [--layout tag|position|identifier|none]

prints `READY` and takes commands on stdin, one per line, answering `OK`:
    insert KEY | remove | t0 on|off | not_ss on|off | name_len N | layout NAME |
    fail CLA-INS-P1 SWHEX [TIMES] | pull_after N | garbage | reset | quit
and `apdus` answers `OK` and the command APDUs of the current insertion in hex.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date

from synthetic.citizens import BY_KEY, Citizen

SSSE_AID = b"sx1.sh." + "社会保障".encode("gbk")
ATR_T0 = bytes.fromhex("3B021450")  # T=0 only, two historical bytes
LAYOUTS = ("tag", "position", "identifier", "none")
# One ATR per issuer: the same chip, another second historical byte.
ATRS = {"tag": ATR_T0, "position": bytes.fromhex("3B021451"),
        "identifier": bytes.fromhex("3B021452"), "none": bytes.fromhex("3B021453")}
CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4


def bcd(digits: str, size: int) -> bytes:
    return bytes.fromhex(digits.ljust(size * 2, "F")[: size * 2])


def padded(raw: bytes, size: int, pad: bytes = b"\x00") -> bytes:
    return (raw + pad * size)[:size]


def files_for(c: Citizen, name_len: int = 30) -> dict[int, dict[int, bytes]]:
    """EF05 and EF06 records (tag -> value) for a citizen's social-security card."""
    issued = date(max(c.insured_since.year, 2023), 6, 18)  # third-generation cards, valid 10 years
    expires = date(issued.year + 10, issued.month, issued.day)
    ef05 = {
        0x01: bcd(f"{c.region}D156000005{c.seq:03d}7{c.birth:%y%m}", 16),
        0x02: b"3",
        0x03: b"3.00",
        0x04: bcd(f"{c.region}000000000000000000", 12),
        0x05: bcd(f"{issued:%Y%m%d}", 4),
        0x06: bcd(f"{expires:%Y%m%d}", 4),
        0x07: padded(c.ss_card_no.encode("ascii"), 9, b" "),
    }
    ef06 = {
        0x08: c.id_number.encode("ascii"),
        0x09: padded(c.name.encode("gbk"), name_len),
        0x0A: c.gender.encode("ascii"),
        0x0B: bcd(c.ethnicity, 1),
        0x0C: bcd(c.region, 3),
        0x0D: bcd(f"{c.birth:%Y%m%d}", 4),
    }
    return {0xEF05: ef05, 0xEF06: ef06}


@dataclass
class Behaviour:
    t0: bool = True
    not_ss: bool = False
    name_len: int = 30
    fails: dict[bytes, list[int]] = field(default_factory=dict)  # CLA INS P1 -> [sw, times]
    pull_after: int = 0  # remove the card instead of answering the Nth APDU
    garbage: bool = False  # answer the next APDU with a 1-byte (invalid) response
    layout: str = "tag"  # how the issuer addresses records (LAYOUTS)


class VirtualSsCard:
    """One card slot: connect = insert, close = remove."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.addr = (host, port)
        self.behaviour = Behaviour()
        self.citizen: Citizen | None = None
        self.apdus = 0
        self.log: list[bytes] = []  # command APDUs since the card was inserted
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._wanted = threading.Event()
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._files: dict[int, dict[int, bytes]] = {}
        self._df_selected = False
        self._ef: int | None = None
        self._pending: bytes = b""  # waiting for GET RESPONSE

    # -- slot -----------------------------------------------------------------------
    def insert(self, key: str, wait: float = 10.0) -> None:
        """Put the card in the reader; it stays there across reader/pcscd restarts."""
        citizen = BY_KEY[key]
        if not citizen.ss_card_no:
            raise KeyError(f"{key} has no social-security card")
        self.remove()
        self.citizen = citizen
        self._files = files_for(citizen, self.behaviour.name_len)
        self.log = []
        self._wanted.set()
        self._connected.clear()
        self._thread = threading.Thread(target=self._slot, daemon=True, name="vpcd-card")
        self._thread.start()
        if not self._connected.wait(wait):
            raise OSError(f"no vpcd reader listening on {self.addr[0]}:{self.addr[1]}")

    def remove(self) -> None:
        self._wanted.clear()
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(3)
        self._thread = None

    @property
    def inserted(self) -> bool:
        return self._wanted.is_set()

    def _slot(self) -> None:
        while self._wanted.is_set():
            try:
                sock = socket.create_connection(self.addr, timeout=1.0)
            except OSError:
                time.sleep(0.1)  # reader unplugged (pcscd down): try again
                continue
            sock.settimeout(None)
            # One message per segment, no Nagle wait for the driver's delayed ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
            self._reset_state()
            self._connected.set()
            self._serve(sock)
            try:
                sock.close()
            except OSError:
                pass
            self._sock = None

    def _reset_state(self) -> None:
        self._df_selected, self._ef, self._pending = False, None, b""

    # -- vpcd protocol --------------------------------------------------------------------
    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                head = _recv_exact(sock, 2)
                if head is None:
                    break
                msg = _recv_exact(sock, int.from_bytes(head, "big"))
                if msg is None:
                    break
                if len(msg) == 1:
                    if msg[0] == CTRL_ATR:
                        atr = ATRS[self.behaviour.layout]
                        sock.sendall(len(atr).to_bytes(2, "big") + atr)
                    elif msg[0] in (CTRL_ON, CTRL_RESET, CTRL_OFF):
                        self._reset_state()
                    continue
                answer = self._apdu(msg)
                if answer is None:  # pulled out mid-transaction
                    self._wanted.clear()
                    break
                sock.sendall(len(answer).to_bytes(2, "big") + answer)
        except OSError:
            pass

    def _apdu(self, apdu: bytes) -> bytes | None:
        with self._lock:
            self.apdus += 1
            self.log.append(bytes(apdu))
            b = self.behaviour
            if b.pull_after and self.apdus >= b.pull_after:
                b.pull_after = 0
                return None
            if b.garbage:
                b.garbage = False
                return b"\x6f"
            if len(apdu) < 4:
                return b"\x67\x00"
            fail = b.fails.get(apdu[:3])
            if fail:
                sw, times = fail
                if times <= 1:
                    del b.fails[apdu[:3]]
                else:
                    fail[1] = times - 1
                return sw.to_bytes(2, "big")
            return self._dispatch(apdu)

    def _dispatch(self, apdu: bytes) -> bytes:
        cla, ins, p1, p2 = apdu[:4]
        body = apdu[4:]
        if cla != 0x00:
            return b"\x6e\x00"
        if ins == 0xC0:
            return self._get_response(body)
        self._pending = b""
        if ins == 0xA4:
            return self._select(p1, body)
        if ins == 0xB2:
            return self._read_record(p1, p2, body)
        return b"\x6d\x00"

    def _respond(self, data: bytes) -> bytes:
        if self.behaviour.t0 and data:
            self._pending = data
            return bytes((0x61, len(data)))
        return data + b"\x90\x00"

    def _get_response(self, body: bytes) -> bytes:
        if not self._pending:
            return b"\x69\x85"
        le = body[0] if body else 0
        data, self._pending = self._pending, b""
        if le not in (0, len(data)):
            self._pending = data
            return bytes((0x6C, len(data)))
        return data + b"\x90\x00"

    def _select(self, p1: int, body: bytes) -> bytes:
        if not body or len(body) < 1 + body[0]:
            return b"\x67\x00"
        value = body[1:1 + body[0]]
        if p1 == 0x04:
            if value != SSSE_AID or self.behaviour.not_ss:
                return b"\x6a\x82"
            self._df_selected, self._ef = True, None
            fci = b"\x6f" + bytes((len(value) + 2,)) + b"\x84" + bytes((len(value),)) + value
            return self._respond(fci)
        if p1 in (0x00, 0x02) and len(value) == 2:
            fid = int.from_bytes(value, "big")
            if not self._df_selected or fid not in self._files:
                return b"\x6a\x82"
            self._ef = fid
            return b"\x90\x00"
        return b"\x6a\x86"

    def _read_record(self, p1: int, p2: int, body: bytes) -> bytes:
        sfi = p2 >> 3
        ef = {5: 0xEF05, 6: 0xEF06}.get(sfi) if sfi else self._ef
        if ef is None or not self._df_selected:
            return b"\x69\x86"  # command not allowed: no current EF
        mode = p2 & 0x07
        if mode not in (0x04, 0x00):
            return b"\x6a\x86"
        tag = self._find(self._files[ef], p1, by_identifier=mode == 0x00)
        if isinstance(tag, bytes):
            return tag  # the status word of a card that does not address records so
        value = self._files[ef][tag]
        record = bytes((tag, len(value))) + value
        le = body[0] if len(body) == 1 else -1
        if le == 0 and not self.behaviour.t0:
            return record + b"\x90\x00"  # Le 00: the whole record
        if le != len(record):
            return bytes((0x6C, len(record))) if self.behaviour.t0 else b"\x67\x00"
        return record + b"\x90\x00"

    def _find(self, records: dict[int, bytes], p1: int, by_identifier: bool) -> int | bytes:
        """The tag of the record P1 names in this issuer's layout, or the status word."""
        layout = self.behaviour.layout
        if layout == "none" or by_identifier != (layout == "identifier"):
            return b"\x6a\x83" if layout == "none" else b"\x6a\x81"
        if layout == "position":
            order = list(records)  # the EF's records in the order the issuer wrote them
            return order[p1 - 1] if 1 <= p1 <= len(order) else b"\x6a\x83"
        return p1 if p1 in records else b"\x6a\x83"


_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
        if _QUICKACK is not None:
            # vpcd writes the length and the APDU separately; acknowledging at once
            # keeps its Nagle algorithm from holding the APDU for a delayed ACK (40 ms).
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
    return bytes(buf)


# --- process entry point -------------------------------------------------------------

def command(card: VirtualSsCard, line: str) -> str:
    parts = line.split()
    if not parts:
        return ""
    op, args = parts[0], parts[1:]
    b = card.behaviour
    if op == "insert":
        card.insert(args[0])
    elif op == "remove":
        card.remove()
    elif op == "t0":
        b.t0 = args[:1] != ["off"]
    elif op == "not_ss":
        b.not_ss = args[:1] != ["off"]
    elif op == "name_len":
        b.name_len = int(args[0])
    elif op == "fail":
        b.fails[bytes.fromhex(args[0].replace("-", ""))] = [
            int(args[1], 16), int(args[2]) if len(args) > 2 else 1]
    elif op == "pull_after":
        b.pull_after = card.apdus + int(args[0])
    elif op == "garbage":
        b.garbage = True
    elif op == "layout":
        if args[:1] == [] or args[0] not in LAYOUTS:
            return f"ERR layout is one of {', '.join(LAYOUTS)}"
        b.layout = args[0]
    elif op == "apdus":
        return "OK " + " ".join(a.hex().upper() for a in list(card.log))
    elif op == "reset":
        card.remove()
        card.behaviour = Behaviour()
    elif op == "quit":
        return "BYE"
    else:
        return f"ERR unknown command {op}"
    return "OK"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="virtual social-security card for vpcd")
    ap.add_argument("--port", type=int, default=0x8C7B, help="vpcd port (default 35963)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--card", default="", help="citizen key to insert at start")
    ap.add_argument("--not-ss", action="store_true", help="behave like a non-SS card (6A82)")
    ap.add_argument("--t1", action="store_true", help="no 61xx/6Cxx (T=1 style answers)")
    ap.add_argument("--name-len", type=int, default=30)
    ap.add_argument("--layout", choices=LAYOUTS, default="tag",
                    help="how the issuer addresses records (default: record number = tag)")
    args = ap.parse_args(argv)
    card = VirtualSsCard(args.port, args.host)
    card.behaviour.not_ss = args.not_ss
    card.behaviour.t0 = not args.t1
    card.behaviour.name_len = args.name_len
    card.behaviour.layout = args.layout
    if args.card:
        card.insert(args.card)
    print("READY", flush=True)
    try:
        for line in sys.stdin:
            try:
                reply = command(card, line.strip())
            except (KeyError, ValueError, IndexError, OSError) as exc:
                reply = f"ERR {exc}"
            if reply:
                print(reply, flush=True)
            if reply == "BYE":
                break
    except KeyboardInterrupt:
        pass
    finally:
        card.remove()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
