"""A TCP proxy in front of the reference backend that a test can cut (the network peer).

- `cut()`: drop every open connection and refuse new ones (connection reset);
- `restore()`: forward again;
- `cut_at(n)`: forward requests until the n-th HTTP request (counted from now), then cut
  before that request reaches the backend, and stay cut;
- `drop_response_at(n)`: forward the n-th request but close the client's connection
  when the backend answers it, so the answer is lost (lost acknowledgement).
"""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass, field

_REQUEST = re.compile(rb"^(GET|POST|PUT|DELETE|HEAD|PATCH|OPTIONS) (\S+) HTTP/1\.[01]\r\n")


@dataclass
class _Conn:
    client: socket.socket
    upstream: socket.socket
    drop_next_response: bool = False
    closed: bool = False


@dataclass
class TcpProxy:
    upstream_port: int
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._cut = False
        self._cut_at: int | None = None
        self._drop_at: int | None = None
        self._count = 0
        self._conns: list[_Conn] = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((self.host, 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- control ---------------------------------------------------------------------
    def cut(self) -> None:
        with self._lock:
            self._cut = True
            conns, self._conns = self._conns, []
        for c in conns:
            self._close(c)

    def restore(self) -> None:
        with self._lock:
            self._cut, self._cut_at, self._drop_at = False, None, None

    def cut_at(self, n: int) -> None:
        with self._lock:
            self._cut_at, self._count = n, 0

    def drop_response_at(self, n: int) -> None:
        with self._lock:
            self._drop_at, self._count = n, 0

    @property
    def is_cut(self) -> bool:
        return self._cut

    def close(self) -> None:
        self._stop = True
        self.cut()
        self._listener.close()

    # -- plumbing ----------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            conn = _Conn(client, upstream)
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._c2u, args=(conn,), daemon=True).start()
            threading.Thread(target=self._u2c, args=(conn,), daemon=True).start()

    def _c2u(self, conn: _Conn) -> None:
        while True:
            try:
                data = conn.client.recv(65536)
            except OSError:
                data = b""
            if not data:
                self._close(conn)
                return
            m = _REQUEST.match(data)
            if m:
                with self._lock:
                    self._count += 1
                    self.requests.append(f"{m.group(1).decode()} {m.group(2).decode()}")
                    if self._cut_at is not None and self._count >= self._cut_at:
                        self._cut = True
                    if self._drop_at is not None and self._count == self._drop_at:
                        conn.drop_next_response = True
                if self._cut:
                    self.cut()
                    _reset(conn.client)
                    return
            try:
                conn.upstream.sendall(data)
            except OSError:
                self._close(conn)
                return

    def _u2c(self, conn: _Conn) -> None:
        while True:
            try:
                data = conn.upstream.recv(65536)
            except OSError:
                data = b""
            if not data or conn.drop_next_response:
                self._close(conn)
                return
            try:
                conn.client.sendall(data)
            except OSError:
                self._close(conn)
                return

    def _close(self, conn: _Conn) -> None:
        if conn.closed:
            return
        conn.closed = True
        _reset(conn.client)
        try:
            conn.upstream.close()
        except OSError:
            pass


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): what a dropped link looks like to the client."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
