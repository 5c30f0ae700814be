"""Request signing: HMAC-SHA256 over method, path, timestamp, nonce and body hash.

Canonical string (UTF-8, lines joined by LF):

    METHOD
    /path?query
    unix-seconds
    nonce (32 hex chars)
    sha256-hex(body)

Headers: X-Terminal-Id, X-Timestamp, X-Nonce, X-Signature (lower-case hex).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time


def canonical(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), path, timestamp, nonce,
                      hashlib.sha256(body).hexdigest()]).encode()


def sign_headers(terminal_id: str, secret: bytes, method: str, path: str, body: bytes,
                 *, now: float | None = None, nonce: str | None = None) -> dict[str, str]:
    ts = str(int(now if now is not None else time.time()))
    nonce = nonce or secrets.token_hex(16)
    sig = hmac.new(secret, canonical(method, path, ts, nonce, body), hashlib.sha256).hexdigest()
    return {"X-Terminal-Id": terminal_id, "X-Timestamp": ts, "X-Nonce": nonce,
            "X-Signature": sig}
