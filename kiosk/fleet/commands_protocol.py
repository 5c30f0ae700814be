"""Remote commands on the fleet channel: the shared contract of terminal and centre.

Pure and Qt-free (the operations centre imports it too). A command travels on a
terminal's `commands` topic in the fleet envelope (`kiosk.fleet.protocol`) with
`type = "command"` and the body

    {"command": {"id", "terminal", "action", "args", "operator", "issued_at", "expires_at"},
     "signature": base64(Ed25519 over canonical(command)), "key_id": key_id(public key)}

`canonical` is the command object as JSON with sorted keys, no spaces, UTF-8 (non-ASCII
kept), no NaN: both sides sign and verify the bytes of the object as it travelled (the
terminal re-serialises the dict it received, never a dataclass it rebuilt, so a field
it does not know could not be slipped past the signature). Times are Unix seconds.

The terminal answers on `results` with `type = "command_result"` and
`result_body(...)`: `{"command_id", "state", "reason", "detail", "result"}`, several per
command (received -> pending -> running -> done/failed, or refused / expired). Large
results (a screenshot, the log bundle) are cut into chunks (`chunk_attachment`), each
its own message with state `done` and `result = {"attachment": {...chunk n of m...}}`;
the centre puts them back together with `Reassembly` (any order, duplicates ignored,
checked against the sha256 every chunk carries).

Refusal reasons are short keys (`REFUSALS`); `verify` raises `CommandRefused(reason)`.
Check order: unsigned / malformed -> unknown_key -> bad_signature (nothing in an unsigned
or wrongly signed command is believed) -> wrong_terminal -> not_yet_valid / expired /
lifetime_too_long -> replayed -> unknown_action / bad_args.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import time
import uuid
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

COMMAND_TYPE = "command"
RESULT_TYPE = "command_result"
# A command may not live longer than this: the terminal keeps every id it has seen until
# the command's expiry, so the lifetime bounds that set (and a stolen command's use).
MAX_LIFETIME_S = 7 * 24 * 3600.0
# A terminal's clock may run behind the centre's by this much (NTP not yet synced after
# a power cut) before a freshly issued command is called not yet valid.
CLOCK_SKEW_S = 300.0
# Raw bytes per chunk: base64 (x4/3) plus the envelope stays far below the 64 KiB limit.
CHUNK_BYTES = 36 * 1024
MAX_ID = 128
MAX_OPERATOR = 128
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
LANGUAGES = ("zh_CN", "zh_HK", "en")
MAX_MESSAGE_CHARS = 200
DEVICES = ("idcard", "sscard", "receipt", "a4", "scanner", "camera", "doccam", "microphone",
           "speaker")
PRINTERS = ("receipt", "a4")
SCREENSHOT_FORMATS = ("png", "jpeg")


class Action(str, Enum):
    SCREENSHOT = "screenshot"
    SELFTEST = "selftest"
    PRINT_TEST = "print_test"
    LOGS = "logs"
    RESTART = "restart"
    OUT_OF_SERVICE = "out_of_service"
    IN_SERVICE = "in_service"
    POLL_PACKAGES = "poll_packages"
    SET_VOLUME = "set_volume"
    SCREEN_SCHEDULE = "screen_schedule"


ACTIONS = tuple(a.value for a in Action)
# Actions that would disturb a citizen at the terminal: they wait (state `pending`) until
# the session ends, and expire at their time limit if it never does. A screenshot does
# not wait (the citizen's area is blanked); a schedule is only stored (the screen goes
# dark between citizens); in_service only gives back what out_of_service took.
WAITS_FOR_SESSION = frozenset({Action.RESTART, Action.OUT_OF_SERVICE, Action.SET_VOLUME,
                               Action.PRINT_TEST, Action.SELFTEST})


class State(str, Enum):
    RECEIVED = "received"
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    REFUSED = "refused"
    FAILED = "failed"
    EXPIRED = "expired"


FINAL_STATES = frozenset({State.DONE, State.REFUSED, State.FAILED, State.EXPIRED})

# `too_many`: the terminal's replay store is full (it never forgets an unexpired id).
REFUSALS = ("malformed", "unsigned", "unknown_key", "bad_signature", "wrong_terminal",
            "not_yet_valid", "expired", "lifetime_too_long", "replayed", "unknown_action",
            "bad_args", "too_many")


class CommandRefused(ValueError):
    """A command the terminal will not run; `reason` is one of REFUSALS."""

    def __init__(self, reason: str, detail: str = "", command_id: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail, self.command_id = reason, detail, command_id


# -- the command ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    id: str
    terminal: str
    action: str
    args: Mapping[str, Any]
    operator: str
    issued_at: float
    expires_at: float

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "terminal": self.terminal, "action": self.action,
                "args": dict(self.args), "operator": self.operator,
                "issued_at": self.issued_at, "expires_at": self.expires_at}

    @property
    def waits_for_session(self) -> bool:
        return self.action in {a.value for a in WAITS_FOR_SESSION}


def new_command(terminal: str, action: str, args: Mapping[str, Any] | None = None, *,
                operator: str, ttl_s: float = 600.0, now: float | None = None,
                command_id: str | None = None) -> Command:
    """A fresh command (arguments checked now: the centre refuses what a terminal would)."""
    # Whole seconds: the canonical form of an integer is the same in every language.
    issued = int(time.time() if now is None else now)
    cmd = Command(command_id or uuid.uuid4().hex, terminal, action, dict(args or {}),
                  operator, issued, issued + int(ttl_s))
    problem = check_args(action, cmd.args)
    if problem is not None:
        raise CommandRefused(*problem, command_id=cmd.id)
    return cmd


def canonical(command: Mapping[str, Any] | Command) -> bytes:
    """The signed bytes: sorted keys, no spaces, UTF-8 with non-ASCII kept, no NaN."""
    obj = command.to_json() if isinstance(command, Command) else dict(command)
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


class CommandKeyError(ValueError):
    """A command key that cannot be read (the pinned `[fleet] command_key`, the centre's)."""


class BadResult(ValueError):
    """A result body or attachment chunk that is not in the contract's shape."""


# -- keys ------------------------------------------------------------------------------------
def key_id(public: Ed25519PublicKey) -> str:
    """A short, stable name of a public key: sha256 of its 32 raw bytes, 16 hex digits."""
    return hashlib.sha256(public_raw(public)).hexdigest()[:16]


def public_raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_b64(public: Ed25519PublicKey) -> str:
    """The pinnable form for `[fleet] command_key`: base64 of the 32 raw bytes."""
    return base64.b64encode(public_raw(public)).decode("ascii")


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def private_pem(private: Ed25519PrivateKey) -> bytes:
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())


def load_private_pem(data: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise CommandKeyError("not an Ed25519 private key")
    return key


def parse_public_key(text: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (SubjectPublicKeyInfo) or base64 of 32 raw bytes."""
    data = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    data = data.strip()
    if data.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as exc:
            raise CommandKeyError(f"not a PEM public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise CommandKeyError("the PEM key is not Ed25519")
        return key
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise CommandKeyError("neither PEM nor base64") from None
    if len(raw) != 32:
        raise CommandKeyError(f"an Ed25519 public key has 32 bytes, this has {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def load_public_key(value: str) -> Ed25519PublicKey:
    """`[fleet] command_key`: a path to a PEM/base64 file, or the base64 key itself."""
    value = value.strip()
    if not value:
        raise CommandKeyError("empty")
    if value.startswith(("/", "~", ".")) or value.endswith((".pem", ".pub", ".b64")):
        path = Path(value).expanduser()
        try:
            return parse_public_key(path.read_bytes())
        except OSError as exc:
            raise CommandKeyError(f"{path}: {exc.strerror or exc}") from None
    return parse_public_key(value)


def pinned(keys: Iterable[Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    """The mapping `verify` takes: key id -> key."""
    return {key_id(k): k for k in keys}


# -- signing and verifying -------------------------------------------------------------------
def sign(command: Command | Mapping[str, Any], private: Ed25519PrivateKey) -> dict[str, Any]:
    """The body of a command envelope: the command, its signature and the key's id."""
    obj = command.to_json() if isinstance(command, Command) else dict(command)
    signature = private.sign(canonical(obj))
    return {"command": obj, "signature": base64.b64encode(signature).decode("ascii"),
            "key_id": key_id(private.public_key())}


def claimed_id(body: Any) -> str:
    """The command id a body claims (for a refusal's answer), "" if there is none usable."""
    cmd = body.get("command") if isinstance(body, Mapping) else None
    cid = cmd.get("id") if isinstance(cmd, Mapping) else None
    return cid if isinstance(cid, str) and _ID.match(cid) else ""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value)


def _parse(cmd: Mapping[str, Any]) -> Command:
    fields_ = ("id", "terminal", "action", "args", "operator", "issued_at", "expires_at")
    if set(cmd) != set(fields_):
        missing = sorted(set(fields_) - set(cmd))
        extra = sorted(set(cmd) - set(fields_))
        raise CommandRefused("malformed", f"fields: missing {missing}, unknown {extra}"[:200])
    if not isinstance(cmd["id"], str) or not _ID.match(cmd["id"]):
        raise CommandRefused("malformed", "id")
    for name in ("terminal", "action", "operator"):
        v = cmd[name]
        if not isinstance(v, str) or not 1 <= len(v) <= MAX_OPERATOR:
            raise CommandRefused("malformed", name)
    if not isinstance(cmd["args"], Mapping):
        raise CommandRefused("malformed", "args")
    if not _number(cmd["issued_at"]) or not _number(cmd["expires_at"]):
        raise CommandRefused("malformed", "times")
    return Command(cmd["id"], cmd["terminal"], cmd["action"], dict(cmd["args"]),
                   cmd["operator"], cmd["issued_at"], cmd["expires_at"])


def verify(body: Any, public_keys: Mapping[str, Ed25519PublicKey], *,
           terminal: str | None = None, now: float | None = None,
           seen: Container[str] = ()) -> Command:
    """The command of an envelope body, if it is signed by a pinned key, addressed to
    `terminal`, valid at `now`, not in `seen` and well-formed; else CommandRefused."""
    cid = claimed_id(body)
    try:
        return _verify(body, public_keys, terminal, time.time() if now is None else now, seen)
    except CommandRefused as exc:
        exc.command_id = exc.command_id or cid
        raise


def _verify(body: Any, public_keys: Mapping[str, Ed25519PublicKey], terminal: str | None,
            now: float, seen: Container[str]) -> Command:
    if not isinstance(body, Mapping) or not isinstance(body.get("command"), Mapping):
        raise CommandRefused("malformed", "no command object")
    sig_b64, kid = body.get("signature"), body.get("key_id")
    if not sig_b64 or not kid:
        raise CommandRefused("unsigned")
    if not isinstance(sig_b64, str) or not isinstance(kid, str):
        raise CommandRefused("malformed", "signature or key_id not a string")
    key = public_keys.get(kid)
    if key is None:
        raise CommandRefused("unknown_key", kid[:32])
    try:
        signature = base64.b64decode(sig_b64, validate=True)
        key.verify(signature, canonical(body["command"]))
    except (binascii.Error, ValueError, InvalidSignature):
        raise CommandRefused("bad_signature") from None
    cmd = _parse(body["command"])
    if terminal is not None and cmd.terminal != terminal:
        raise CommandRefused("wrong_terminal", cmd.terminal[:64])
    if cmd.expires_at - cmd.issued_at > MAX_LIFETIME_S or cmd.expires_at < cmd.issued_at:
        raise CommandRefused("lifetime_too_long", f"{cmd.expires_at - cmd.issued_at:.0f} s")
    if cmd.issued_at > now + CLOCK_SKEW_S:
        raise CommandRefused("not_yet_valid", f"issued {cmd.issued_at - now:.0f} s ahead")
    if now >= cmd.expires_at:
        raise CommandRefused("expired", f"{now - cmd.expires_at:.0f} s ago")
    if cmd.id in seen:
        raise CommandRefused("replayed")
    problem = check_args(cmd.action, cmd.args)
    if problem is not None:
        raise CommandRefused(*problem)
    return cmd


# -- actions and their arguments -------------------------------------------------------------
def _no_args(args: Mapping[str, Any]) -> str | None:
    return f"takes no arguments, got {sorted(args)}"[:200] if args else None


def _only(args: Mapping[str, Any], allowed: set[str]) -> str | None:
    extra = set(args) - allowed
    return f"unknown arguments {sorted(extra)}"[:200] if extra else None


def _screenshot(args: Mapping[str, Any]) -> str | None:
    if (p := _only(args, {"format"})) is not None:
        return p
    if "format" in args and args["format"] not in SCREENSHOT_FORMATS:
        return f"format must be one of {list(SCREENSHOT_FORMATS)}"
    return None


def _selftest(args: Mapping[str, Any]) -> str | None:
    if (p := _only(args, {"device"})) is not None:
        return p
    if "device" in args and args["device"] not in DEVICES:
        return f"device must be one of {list(DEVICES)}"
    return None


def _print_test(args: Mapping[str, Any]) -> str | None:
    if (p := _only(args, {"printer"})) is not None:
        return p
    if args.get("printer") not in PRINTERS:
        return f"printer must be one of {list(PRINTERS)}"
    return None


def _out_of_service(args: Mapping[str, Any]) -> str | None:
    if (p := _only(args, {"message"})) is not None:
        return p
    msg = args.get("message")
    if not isinstance(msg, Mapping) or set(msg) != set(LANGUAGES):
        return f"message must have exactly {list(LANGUAGES)}"
    for lang in LANGUAGES:
        text = msg[lang]
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE_CHARS:
            return f"message.{lang} must be 1-{MAX_MESSAGE_CHARS} characters"
    return None


def _set_volume(args: Mapping[str, Any]) -> str | None:
    if (p := _only(args, {"level"})) is not None:
        return p
    level = args.get("level")
    if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 100:
        return "level must be an integer 0-100"
    return None


def _screen_schedule(args: Mapping[str, Any]) -> str | None:
    if not args:
        return None  # clears the schedule
    if set(args) != {"off", "on"}:
        return "give both off and on (HH:MM), or nothing to clear"
    for k in ("off", "on"):
        if not isinstance(args[k], str) or not _HHMM.match(args[k]):
            return f"{k} must be HH:MM (00:00-23:59)"
    if args["off"] == args["on"]:
        return "off and on must differ"
    return None


ARG_CHECKS: Mapping[str, Callable[[Mapping[str, Any]], str | None]] = {
    Action.SCREENSHOT: _screenshot, Action.SELFTEST: _selftest,
    Action.PRINT_TEST: _print_test, Action.LOGS: _no_args, Action.RESTART: _no_args,
    Action.OUT_OF_SERVICE: _out_of_service, Action.IN_SERVICE: _no_args,
    Action.POLL_PACKAGES: _no_args, Action.SET_VOLUME: _set_volume,
    Action.SCREEN_SCHEDULE: _screen_schedule,
}


def check_args(action: str, args: Any) -> tuple[str, str] | None:
    """None if `action` is known and `args` fit it, else (reason, detail)."""
    if action not in ACTIONS:
        return "unknown_action", str(action)[:64]
    if not isinstance(args, Mapping):
        return "bad_args", "args must be an object"
    problem = ARG_CHECKS[Action(action)](args)
    return None if problem is None else ("bad_args", problem)


def parse_args_text(action: str, pairs: Iterable[str]) -> dict[str, Any]:
    """`key=value` words of a command line as args (`level=40`, `message.en=Closed`)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandRefused("bad_args", f"{pair!r} is not key=value")
        parsed: Any = int(value) if re.fullmatch(r"-?[0-9]+", value) else value
        head, dot, tail = key.partition(".")
        if dot:
            sub = out.setdefault(head, {})
            if not isinstance(sub, dict):
                raise CommandRefused("bad_args", f"{head} given twice")
            sub[tail] = value  # nested values (messages) stay text
        else:
            out[key] = parsed
    problem = check_args(action, out)
    if problem is not None:
        raise CommandRefused(*problem)
    return out


# -- results ---------------------------------------------------------------------------------
def result_body(command_id: str, state: State | str, *, reason: str = "", detail: str = "",
                result: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The body of a `command_result` envelope."""
    st = State(state)
    return {"command_id": command_id, "state": st.value, "reason": reason,
            "detail": detail[:500], "result": dict(result or {})}


def parse_result(body: Any) -> dict[str, Any]:
    """A result body checked for shape (the centre's ingest); BadResult otherwise."""
    if not isinstance(body, Mapping):
        raise BadResult("result body must be an object")
    cid, state = body.get("command_id"), body.get("state")
    if not isinstance(cid, str) or len(cid) > MAX_ID:
        raise BadResult("command_id")
    if state not in {s.value for s in State}:
        raise BadResult("state")
    reason, detail, result = body.get("reason", ""), body.get("detail", ""), \
        body.get("result", {})
    if not isinstance(reason, str) or not isinstance(detail, str) \
            or not isinstance(result, Mapping):
        raise BadResult("reason, detail or result")
    return {"command_id": cid, "state": state, "reason": reason, "detail": detail,
            "result": dict(result)}


@dataclass(frozen=True)
class Attachment:
    name: str  # screenshot.png, logs.zip
    media_type: str
    data: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def chunk_attachment(att: Attachment, chunk_bytes: int = CHUNK_BYTES) -> list[dict[str, Any]]:
    """The attachment as `result` objects of one message each: chunk n (1-based) of m."""
    if chunk_bytes <= 0:
        raise ValueError("chunk_bytes must be positive")
    pieces = [att.data[i:i + chunk_bytes] for i in range(0, len(att.data), chunk_bytes)] \
        or [b""]
    digest = att.sha256
    return [{"attachment": {"name": att.name, "media_type": att.media_type,
                            "size": len(att.data), "sha256": digest, "chunk": n,
                            "chunks": len(pieces),
                            "data": base64.b64encode(p).decode("ascii")}}
            for n, p in enumerate(pieces, start=1)]


class Reassembly:
    """Chunks of one command's attachment put back together (any order, duplicates ok)."""

    def __init__(self) -> None:
        self.meta: dict[str, Any] | None = None
        self.parts: dict[int, bytes] = {}

    def add(self, result: Mapping[str, Any]) -> Attachment | None:
        """Take one result object; the whole attachment once the last chunk is in."""
        a = result.get("attachment")
        if not isinstance(a, Mapping):
            raise BadResult("no attachment in this result")
        meta = {k: a.get(k) for k in ("name", "media_type", "size", "sha256", "chunks")}
        if not isinstance(meta["chunks"], int) or not 1 <= meta["chunks"] <= 100_000:
            raise BadResult("chunks")
        if self.meta is None:
            self.meta = meta
        elif meta != self.meta:
            raise BadResult("a chunk of another attachment")
        n = a.get("chunk")
        if not isinstance(n, int) or not 1 <= n <= meta["chunks"]:
            raise BadResult("chunk number")
        try:
            self.parts[n] = base64.b64decode(str(a.get("data", "")), validate=True)
        except (binascii.Error, ValueError):
            raise BadResult("chunk data is not base64") from None
        if len(self.parts) < meta["chunks"]:
            return None
        data = b"".join(self.parts[i] for i in range(1, meta["chunks"] + 1))
        if hashlib.sha256(data).hexdigest() != meta["sha256"] or len(data) != meta["size"]:
            raise BadResult("the joined attachment does not match its sha256 or size")
        return Attachment(str(meta["name"]), str(meta["media_type"]), data)


# -- package reports (events) ------------------------------------------------------------------
PACKAGE_EVENT = "package"


class PackageState(str, Enum):
    STAGED = "staged"
    ACTIVATED = "activated"
    REJECTED = "rejected"
    ROLLED_BACK = "rolled_back"
    WAITING_FOR_SESSION = "waiting_for_session"


def package_body(package: str, version: str, state: PackageState | str,
                 reason: str = "") -> dict[str, Any]:
    """The body of a `package` event on `events`."""
    return {"package": package, "version": version, "state": PackageState(state).value,
            "reason": reason[:300]}
