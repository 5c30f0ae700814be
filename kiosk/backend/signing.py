"""Request signing: HMAC-SHA256 over method, request target, timestamp, nonce and body hash.

Canonical string (UTF-8, lines joined by LF):

    METHOD
    request target exactly as sent on the wire (path and query, percent-encoded)
    unix-seconds
    nonce (32 hex chars)
    sha256-hex(body)

Headers: X-Terminal-Id, X-Timestamp, X-Nonce, X-Signature (lower-case hex).

The target is signed as written, not decoded: `/api/v1/x` and `/api/v1/%78` are
different requests to the signature, so a signed request cannot be replayed under
another spelling of its path. `wire_target` gives the one spelling the client sends.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import time

_HEX = frozenset(string.hexdigits)
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
# Left as they are by both requests (requote_uri) and urllib3 (target encoding).
_PATH_SAFE = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_QUERY_SAFE = _PATH_SAFE | frozenset("?")


def wire_target(target: str) -> str:
    """The spelling of `target` (path?query) that goes on the wire, fixed by the HTTP stack:
    escapes of unreserved characters decoded, other escapes in upper case, every other
    character outside the safe set percent-encoded as UTF-8."""
    path, _, query = target.partition("?")
    return _quote(path, _PATH_SAFE) + ("?" + _quote(query, _QUERY_SAFE) if query else "")


def _quote(text: str, safe: frozenset[str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        pair = text[i + 1:i + 3]
        if ch == "%" and len(pair) == 2 and set(pair) <= _HEX:
            decoded = chr(int(pair, 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + pair.upper())
            i += 3
            continue
        out.append(ch if ch in safe else "".join(f"%{b:02X}" for b in ch.encode()))
        i += 1
    return "".join(out)


def canonical(method: str, target: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), target, timestamp, nonce,
                      hashlib.sha256(body).hexdigest()]).encode()


def sign_headers(terminal_id: str, secret: bytes, method: str, target: str, body: bytes,
                 *, now: float | None = None, nonce: str | None = None) -> dict[str, str]:
    """Signature headers for a request whose target on the wire is exactly `target`."""
    ts = str(int(now if now is not None else time.time()))
    nonce = nonce or secrets.token_hex(16)
    sig = hmac.new(secret, canonical(method, target, ts, nonce, body), hashlib.sha256).hexdigest()
    return {"X-Terminal-Id": terminal_id, "X-Timestamp": ts, "X-Nonce": nonce,
            "X-Signature": sig}
