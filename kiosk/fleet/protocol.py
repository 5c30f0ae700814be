"""The fleet channel's topics and messages: one place, shared by terminal and centre.

Topics (all under `guanjia/v1/terminals/<terminal id>/`):

- `state` (terminal → centre, QoS 1, retained): online on connect; the broker publishes
  the last will (offline) when the link dies.
- `health` (terminal → centre, QoS 1): the periodic health snapshot (heartbeat).
- `events` (terminal → centre, QoS 1): fault / warning / recovered / package events,
  queued in the outbox while the link is down.
- `commands` (centre → terminal, QoS 1): signed, expiring commands (issue 16).
- `results` (terminal → centre, QoS 1): command results (issue 16).

Every message is one JSON object (UTF-8, at most `MAX_MESSAGE_BYTES`) in an envelope:
`{"v": 1, "id": "<unique>", "terminal": "<id>", "at": <unix time>, "type": "<kind>",
"body": {...}}`. `id` makes delivery idempotent: QoS 1 may deliver twice, the centre
applies each id once. `terminal` must equal the topic's terminal id (the broker's ACL
already keeps a terminal to its own topics; the centre checks again).

Nothing personal ever goes on this channel: `check_private` refuses a body holding
anything shaped like a resident ID number (masked ones, `4419**********1234`, pass).
Centre instances share the ingest with MQTT shared subscriptions (`share()`), which
EMQX, VerneMQ, HiveMQ and Mosquitto (≥ 2.0, MQTT 5) all implement.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PREFIX = "guanjia/v1/terminals"
VERSION = 1
KINDS = ("state", "health", "events", "commands", "results")
QOS: Mapping[str, int] = dict.fromkeys(KINDS, 1)
RETAIN: Mapping[str, bool] = {k: k == "state" for k in KINDS}
TERMINAL_TO_CENTRE = ("state", "health", "events", "results")
MAX_MESSAGE_BYTES = 64 * 1024
MAX_DEPTH = 16
TERMINAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# A full resident ID number (GB 11643: 17 digits and a check digit or X).
FULL_ID_NUMBER = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])")


class ProtocolError(ValueError):
    """A message that is not ours to apply: `reason` is a short, countable word."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


def topic(terminal: str, kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown fleet topic kind {kind!r}")
    if not TERMINAL_ID.match(terminal):
        raise ValueError(f"terminal id {terminal!r} cannot be a topic level")
    return f"{PREFIX}/{terminal}/{kind}"


def parse_topic(name: str) -> tuple[str, str] | None:
    """(terminal id, kind) of a fleet topic, or None for anything else."""
    head, _, rest = name.rpartition("/")
    prefix, _, terminal = head.rpartition("/")
    if prefix != PREFIX or rest not in KINDS or not TERMINAL_ID.match(terminal):
        return None
    return terminal, rest


def subscription(kind: str, terminal: str = "+") -> str:
    return f"{PREFIX}/{terminal}/{kind}"


def share(topic_filter: str, group: str = "opscentre") -> str:
    """The shared-subscription form: each message goes to one member of `group`."""
    return f"$share/{group}/{topic_filter}"


@dataclass(frozen=True)
class Envelope:
    terminal: str
    type: str
    body: Mapping[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    at: float = field(default_factory=time.time)
    v: int = VERSION

    def to_json(self) -> dict[str, Any]:
        return {"v": self.v, "id": self.id, "terminal": self.terminal, "at": self.at,
                "type": self.type, "body": dict(self.body)}


def check_private(body: Any, path: str = "body") -> None:
    """Refuse a body with a full resident ID number anywhere in it (keys and values)."""
    if isinstance(body, Mapping):
        for k, v in body.items():
            check_private(k, f"{path}.key")
            check_private(v, f"{path}.{k}")
    elif isinstance(body, list | tuple):
        for i, v in enumerate(body):
            check_private(v, f"{path}[{i}]")
    elif isinstance(body, str) and any(_looks_like_id(m.group())
                                       for m in FULL_ID_NUMBER.finditer(body)):
        raise ProtocolError("personal_data", f"an ID number in {path}")


def _looks_like_id(run: str) -> bool:
    """An 18-character run that could be a resident ID number: a birth date (1900-2099) in
    its place. The check character is not asked for: a mistyped number is still personal.
    A hex digest (a screenshot's sha256) holds an 18-digit run now and then (about 1 in
    800): refusing it lost a command's result; with the date asked, about 1 in a million."""
    from datetime import date

    year = int(run[6:10])
    if not 1900 <= year <= 2099:
        return False
    try:
        date(year, int(run[10:12]), int(run[12:14]))
    except ValueError:
        return False
    return True


def encode(env: Envelope) -> bytes:
    """The message's bytes; refuses personal data and anything too large."""
    check_private(env.body)
    data = json.dumps(env.to_json(), ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode()
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", f"{len(data)} bytes")
    return data


def _depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of a decoded JSON value (a scalar is 1), counted level by level and
    given up past `limit`. (Exact types: json.loads makes only dict and list containers;
    level lists instead of a stack of tuples: ~7x faster on a health body.)"""
    level, depth = [value], 0
    while level:
        depth += 1
        if depth > limit:
            return depth
        below: list[Any] = []
        for v in level:
            t = type(v)
            if t is dict:
                below.extend(v.values())
            elif t is list:
                below.extend(v)
        level = below
    return depth


def decode(topic_name: str, payload: bytes) -> Envelope:
    """The envelope of a message received on `topic_name`, or ProtocolError."""
    where = parse_topic(topic_name)
    if where is None:
        raise ProtocolError("bad_topic", topic_name[:200])
    terminal, kind = where
    if len(payload) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", f"{len(payload)} bytes")
    if kind == "state" and payload == b"":
        raise ProtocolError("cleared", "retained state cleared")
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError("not_json", type(exc).__name__) from None
    if not isinstance(data, dict):
        raise ProtocolError("not_object")
    if _depth(data) > MAX_DEPTH:
        raise ProtocolError("too_deep")
    if data.get("v") != VERSION:
        raise ProtocolError("version", str(data.get("v"))[:20])
    if data.get("terminal") != terminal:
        raise ProtocolError("impersonation", f"{str(data.get('terminal'))[:64]} on {terminal}")
    mid, at, body, typ = data.get("id"), data.get("at"), data.get("body", {}), data.get("type")
    if not isinstance(mid, str) or not 1 <= len(mid) <= 128:
        raise ProtocolError("bad_id")
    if not isinstance(at, int | float) or isinstance(at, bool) or not math.isfinite(at):
        raise ProtocolError("bad_time")
    if not isinstance(typ, str) or not 1 <= len(typ) <= 64:
        raise ProtocolError("bad_type")
    if not isinstance(body, dict):
        raise ProtocolError("bad_body")
    return Envelope(terminal=terminal, type=typ, body=body, id=mid, at=float(at))
