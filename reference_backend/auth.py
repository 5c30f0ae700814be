"""Verify terminal request signatures, timestamps and nonces (written independently of
the terminal's client so that a bug in one is caught by the other)."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time

MAX_SKEW_S = 300


class AuthFailure(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Verifier:
    def __init__(self, terminals: dict[str, bytes], max_skew: int = MAX_SKEW_S) -> None:
        self.terminals = terminals
        self.max_skew = max_skew
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def verify(self, method: str, path: str, headers: dict[str, str], body: bytes,
               now: float | None = None) -> str:
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
