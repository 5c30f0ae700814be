"""A hostile "platform" on 127.0.0.1: a real HTTP server that answers wrongly on purpose.

It stands where the government platform should be (or where a bank branch's captive
portal or a broken proxy sits) and records everything it is sent, so a test can show
what the terminal did and did not send. One action per request target (or a default):

- `Reply(status, body, headers)`: any answer, e.g. 200 with an empty body, `{"ok": true}`,
  a captive portal's HTML page (`PORTAL_PAGE`), a JSON ack naming other keys (`ack_others`);
- `Redirect(status, location)`: 301/302/303/307/308 to another host:port or the same origin;
- `Drip(interval_s, length, where)`: headers (or the status line) first, then one byte
  every `interval_s` seconds (`where="body"`), or the headers themselves a byte at a time
  (`where="headers"`);
- `Flood(size, declare)`: a body of `size` bytes (None: endless), with its
  Content-Length declared or not;
- `HugeLength(length)`: declares an enormous Content-Length, sends a little, then waits;
- `Forward(port)`: relays the request byte for byte to a real server (the reference
  backend) and its answer back, for redirects that end at the real platform.

Every connection is closed after one answer. `seen` lists the requests received (method,
raw target, headers, body); `sent` counts the answer bytes the kernel accepted, so a
test can tell a refused answer from one read whole.

    python -m emulators.hostile_platform --port 8780 --mode portal
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

PORTAL_PAGE = ("<!doctype html><html><head><title>Wi-Fi 登录</title></head><body>"
               "<h1>欢迎使用本网点访客网络</h1><p>请先登录后再上网。</p></body></html>").encode()


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Redirect:
    status: int
    location: str


@dataclass(frozen=True)
class Drip:
    interval_s: float = 2.0
    length: int = 1000  # declared Content-Length of the body dripped
    where: str = "body"  # or "headers"


@dataclass(frozen=True)
class Flood:
    size: int | None = 100 * 1024 * 1024  # None: endless
    declare: bool = True  # send a Content-Length


@dataclass(frozen=True)
class HugeLength:
    length: int = 10**12
    hold_s: float = 30.0


@dataclass(frozen=True)
class Forward:
    port: int
    host: str = "127.0.0.1"


Action = Reply | Redirect | Drip | Flood | HugeLength | Forward


@dataclass(frozen=True)
class Seen:
    method: str
    target: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes


def json_reply(data: object, status: int = 200) -> Reply:
    return Reply(status, json.dumps(data).encode(), {"Content-Type": "application/json"})


def portal_reply() -> Reply:
    return Reply(200, PORTAL_PAGE, {"Content-Type": "text/html; charset=utf-8"})


def ack_others(keys: Sequence[str] = ("someone-else-0001",)) -> Reply:
    """A well-formed acknowledgement, for keys the terminal did not send."""
    results = [{"key": k, "status": "applied", "id": i + 1} for i, k in enumerate(keys)]
    return json_reply(results[0] if len(results) == 1 else {"results": results})


class HostilePlatform:
    def __init__(self, default: Action | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.default: Action = default or Reply()
        self.routes: dict[str, Action] = {}  # exact raw target, or path without the query
        self.seen: list[Seen] = []
        self.sent = 0  # answer bytes accepted by the kernel, all connections
        self.aborted = 0  # answers the client stopped reading before their end
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(64)
        self.host, self.port = host, self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True, name="hostile-accept").start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def route(self, target: str, action: Action) -> None:
        self.routes[target] = action

    def close(self) -> None:
        self._stop.set()
        try:
            self._listener.close()
        except OSError:
            pass

    # -- serving -----------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            raw, seen = _read_request(conn)
            if seen is None:
                return
            with self._lock:
                self.seen.append(seen)
            action = self.routes.get(seen.target) or self.routes.get(
                seen.target.partition("?")[0]) or self.default
            self._act(conn, action, raw)
        except OSError:
            with self._lock:
                self.aborted += 1
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _send(self, conn: socket.socket, data: bytes) -> None:
        for i in range(0, len(data), 65536):
            piece = data[i:i + 65536]
            conn.sendall(piece)  # blocks while the client does not read
            with self._lock:
                self.sent += len(piece)

    def _act(self, conn: socket.socket, action: Action, raw: bytes) -> None:
        conn.settimeout(60)
        if isinstance(action, Reply):
            self._send(conn, _head(action.status, action.headers, len(action.body)) + action.body)
        elif isinstance(action, Redirect):
            self._send(conn, _head(action.status, {"Location": action.location}, 0))
        elif isinstance(action, Drip):
            self._drip(conn, action)
        elif isinstance(action, Flood):
            self._flood(conn, action)
        elif isinstance(action, HugeLength):
            self._send(conn, _head(200, {"Content-Type": "application/json"}, action.length)
                       + b"{" + b" " * 1024)
            self._hold(conn, action.hold_s)
        elif isinstance(action, Forward):
            self._send(conn, _forward(raw, action))

    def _hold(self, conn: socket.socket, hold_s: float) -> None:
        """Send nothing more; note it when the client gives up and closes."""
        conn.settimeout(hold_s)
        try:
            closed = conn.recv(1) == b""
        except TimeoutError:
            closed = False
        if closed:
            with self._lock:
                self.aborted += 1

    def _drip(self, conn: socket.socket, d: Drip) -> None:
        head = _head(200, {"Content-Type": "application/json"}, d.length)
        if d.where == "headers":
            self._send(conn, head[:17])  # "HTTP/1.1 200 OK\r\n"
            rest = head[17:]
        else:
            self._send(conn, head)
            rest = b" " * d.length
        for i in range(len(rest)):
            if self._stop.wait(d.interval_s):
                return
            self._send(conn, rest[i:i + 1])

    def _flood(self, conn: socket.socket, f: Flood) -> None:
        self._send(conn, _head(200, {"Content-Type": "application/json"},
                               f.size if f.declare else None))
        chunk = b"[" + b"0," * 32767 + b"0"  # 65536 bytes of a JSON array that never ends
        left = f.size
        while (left is None or left > 0) and not self._stop.is_set():
            piece = chunk if left is None or left >= len(chunk) else chunk[:left]
            self._send(conn, piece)
            if left is not None:
                left -= len(piece)


def _head(status: int, headers: Mapping[str, str], length: int | None) -> bytes:
    reason = http.client.responses.get(status, "Status")
    lines = [f"HTTP/1.1 {status} {reason}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _read_request(conn: socket.socket) -> tuple[bytes, Seen | None]:
    """One request: the bytes as received and what they say (None: closed early)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = conn.recv(65536)
        if not data:
            return buf, None
        buf += data
        if len(buf) > 1 << 20:
            return buf, None
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = [*lines[0].split(" ", 2), "", ""][:3]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(body) < length:
        data = conn.recv(65536)
        if not data:
            break
        body += data
    return head + b"\r\n\r\n" + body, Seen(method, target, headers, body)


def _forward(raw: bytes, fwd: Forward) -> bytes:
    """Relay one request as received to a real server; its whole answer, as bytes."""
    with socket.create_connection((fwd.host, fwd.port), timeout=30) as up:
        head, _, body = raw.partition(b"\r\n\r\n")
        kept = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"connection:")]
        up.sendall(b"\r\n".join([*kept, b"Connection: close"]) + b"\r\n\r\n" + body)
        out = b""
        while True:
            data = up.recv(65536)
            if not data:
                return out
            out += data


MODES: dict[str, Action] = {
    "empty": Reply(200), "ok": json_reply({"ok": True}), "portal": portal_reply(),
    "others": ack_others(), "drip": Drip(), "flood": Flood(), "endless": Flood(None, False),
    "huge-length": HugeLength(),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hostile_platform", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8780)
    ap.add_argument("--mode", choices=[*sorted(MODES), "redirect"], default="portal")
    ap.add_argument("--location", default="http://127.0.0.1:9/login",
                    help="where --mode redirect sends the client")
    args = ap.parse_args(argv)
    action = Redirect(302, args.location) if args.mode == "redirect" else MODES[args.mode]
    peer = HostilePlatform(action, port=args.port)
    print(f"hostile platform ({args.mode}) on {peer.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        peer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
