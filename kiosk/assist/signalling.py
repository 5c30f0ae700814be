"""The terminal's side of the assist signalling protocol (docs/assist.md), as pure functions.

Frames in and out are JSON objects with a `type`; incoming frames are checked and turned
into frozen messages so the engine never reads a field that was not there.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MAX_FRAME = 256 * 1024
HANGUP_REASONS = frozenset({"citizen", "no_answer", "session_end", "idle", "error"})
LANGS = frozenset({"zh_CN", "zh_HK", "en"})


class ProtocolError(ValueError):
    """A frame from the centre the terminal cannot use (logged, then ignored)."""


@dataclass(frozen=True)
class Queued:
    call: str
    position: int
    wait_s: int
    agents: int


@dataclass(frozen=True)
class Unavailable:
    reason: str


@dataclass(frozen=True)
class IceServer:
    urls: tuple[str, ...]
    username: str = ""
    credential: str = field(default="", repr=False)


@dataclass(frozen=True)
class Answered:
    agent: str
    ice_servers: tuple[IceServer, ...]
    ice_policy: str  # "all" | "relay"


@dataclass(frozen=True)
class Answer:
    sdp: str = field(repr=False)


@dataclass(frozen=True)
class Hold:
    pass


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class Transferring:
    to: str


@dataclass(frozen=True)
class Ended:
    reason: str


@dataclass(frozen=True)
class ErrorMessage:
    error: str


Incoming = Queued | Unavailable | Answered | Answer | Hold | Resume | Transferring | Ended | \
    ErrorMessage


def terminal_url(centre_url: str) -> str:
    """`ws://centre:8080` (or with a path prefix) -> `ws://centre:8080/assist/terminal`."""
    parts = urlsplit(centre_url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise ValueError(f"not a ws:// or wss:// URL: {centre_url!r}")
    path = parts.path.rstrip("/") + "/assist/terminal"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def basic_auth(terminal_id: str, password: str) -> str:
    token = base64.b64encode(f"{terminal_id}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def call_message(call: str, service: str, service_title: str, lang: str) -> str:
    return _dump({"type": "call", "call": call, "service": service,
                  "service_title": service_title, "lang": lang if lang in LANGS else "zh_CN"})


def offer_message(sdp: str, *, restart: bool) -> str:
    return _dump({"type": "offer", "sdp": sdp, "restart": restart})


def hangup_message(reason: str) -> str:
    return _dump({"type": "hangup", "reason": reason if reason in HANGUP_REASONS else "error"})


def _dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _str(obj: dict[str, Any], name: str, default: str | None = None) -> str:
    value = obj.get(name, default)
    if not isinstance(value, str):
        raise ProtocolError(f"{obj.get('type')}: {name} must be a string")
    return value


def _int(obj: dict[str, Any], name: str) -> int:
    value = obj.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            not math.isfinite(value) or abs(value) > 10**9:
        raise ProtocolError(f"{obj.get('type')}: {name} must be a number")
    return max(0, int(value))


def _ice_servers(value: Any) -> tuple[IceServer, ...]:
    if not isinstance(value, list):
        raise ProtocolError("answered: ice_servers must be a list")
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise ProtocolError("answered: an ice server must be an object")
        urls = item.get("urls")
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list) or not urls or \
                not all(isinstance(u, str) for u in urls):
            raise ProtocolError("answered: an ice server needs urls")
        out.append(IceServer(tuple(urls), _str(item, "username", ""),
                             _str(item, "credential", "")))
    return tuple(out)


def parse(text: str | bytes) -> Incoming | None:
    """One frame from the centre -> a message; None for a type this terminal ignores."""
    if len(text) > MAX_FRAME:
        raise ProtocolError("frame over 256 KiB")
    try:
        obj = json.loads(text)
    except ValueError:
        raise ProtocolError("not JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError("not an object")
    kind = obj.get("type")
    if kind == "queued":
        return Queued(_str(obj, "call", ""), _int(obj, "position"), _int(obj, "wait_s"),
                      _int(obj, "agents"))
    if kind == "unavailable":
        return Unavailable(_str(obj, "reason", "no_agent"))
    if kind == "answered":
        policy = _str(obj, "ice_policy", "all")
        if policy not in ("all", "relay"):
            raise ProtocolError(f"answered: ice_policy {policy!r}")
        return Answered(_str(obj, "agent", ""), _ice_servers(obj.get("ice_servers", [])),
                        policy)
    if kind == "answer":
        return Answer(_str(obj, "sdp"))
    if kind == "hold":
        return Hold()
    if kind == "resume":
        return Resume()
    if kind == "transferring":
        return Transferring(_str(obj, "to", ""))
    if kind == "ended":
        return Ended(_str(obj, "reason", "agent"))
    if kind == "error":
        return ErrorMessage(_str(obj, "error", ""))
    return None
