"""Verify terminal request signatures, timestamps and nonces (written independently of
the terminal's client so that a bug in one is caught by the other).

The signature covers the request target exactly as it arrived (`request_target`: the
raw path and query bytes of the ASGI scope), never the decoded path: `/api/v1/x` signed
is refused when sent as `/api/v1/%78` or `/api//v1/x`.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Mapping
from typing import Any

MAX_SKEW_S = 300


class AuthFailure(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def request_target(scope: Mapping[str, Any]) -> str:
    """The request target as received on the wire: raw path, then `?` and raw query."""
    raw = scope.get("raw_path")
    if not isinstance(raw, (bytes, bytearray)):  # a server that does not keep it: refuse
        raise AuthFailure("no_raw_target")
    path = bytes(raw).partition(b"?")[0]  # some servers keep the query in raw_path too
    query = bytes(scope.get("query_string") or b"")
    return (path + (b"?" + query if query else b"")).decode("latin-1")


class Verifier:
    def __init__(self, terminals: dict[str, bytes], max_skew: int = MAX_SKEW_S) -> None:
        self.terminals = terminals
        self.max_skew = max_skew
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def verify(self, method: str, path: str, headers: dict[str, str], body: bytes,
               now: float | None = None) -> str:
        """The terminal id, or AuthFailure. `path` is the raw request target
        (`request_target(scope)`), exactly as the terminal signed it."""
        now = time.time() if now is None else now
        tid = headers.get("x-terminal-id", "")
        ts = headers.get("x-timestamp", "")
        nonce = headers.get("x-nonce", "")
        sig = headers.get("x-signature", "")
        if not (tid and ts and nonce and sig):
            raise AuthFailure("missing_signature")
        secret = self.terminals.get(tid)
        if secret is None:
            raise AuthFailure("unknown_terminal")
        try:
            ts_num = int(ts)
        except ValueError:
            raise AuthFailure("bad_timestamp") from None
        if abs(now - ts_num) > self.max_skew:
            raise AuthFailure("stale_timestamp")
        message = f"{method.upper()}\n{path}\n{ts}\n{nonce}\n{hashlib.sha256(body).hexdigest()}"
        expected = hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, sig.lower()):
            raise AuthFailure("bad_signature")
        with self._lock:
            cutoff = now - 2 * self.max_skew
            if len(self._seen) > 10000:
                self._seen = {k: v for k, v in self._seen.items() if v > cutoff}
            if (tid, nonce) in self._seen:
                raise AuthFailure("replayed_nonce")
            self._seen[(tid, nonce)] = now
        return tid
