"""Short-lived TURN credentials in coturn's `use-auth-secret` (TURN REST API) scheme:
username `<expiry-unix>:<call>`, credential base64(HMAC-SHA1(secret, username)). coturn
checks them with the same shared secret; nothing is stored per call."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path
from typing import Any


class TurnError(ValueError):
    pass


def read_secret(path: str) -> str:
    """The shared secret from its file ("" when no file is configured)."""
    if not path:
        return ""
    try:
        secret = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TurnError(f"turn_secret_file {path}: {exc.strerror}") from None
    if not secret:
        raise TurnError(f"turn_secret_file {path}: empty")
    return secret


def credentials(secret: str, call: str, ttl_s: int, now: float | None = None
                ) -> tuple[str, str]:
    """(username, credential) valid for `ttl_s` seconds from `now`."""
    expiry = int(now if now is not None else time.time()) + int(ttl_s)
    username = f"{expiry}:{call}"
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(mac).decode()


def ice_servers(urls: tuple[str, ...], secret: str, call: str, ttl_s: int,
                now: float | None = None) -> list[dict[str, Any]]:
    """The RTCIceServer list for one call: TURN with fresh credentials, or none."""
    if not urls or not secret:
        return []
    username, credential = credentials(secret, call, ttl_s, now)
    return [{"urls": list(urls), "username": username, "credential": credential}]
