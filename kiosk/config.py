"""Terminal configuration: embedded defaults, a TOML file, environment overrides.

Resolution order (later wins): the defaults below, the file named by `--config` or
`$KIOSK_CONFIG` (else `config/kiosk.toml` beside the source tree if present), then
`KIOSK_<SECTION>_<KEY>` environment variables (e.g. `KIOSK_BACKEND_URL`).

One schema checks the result: the frozen dataclasses below, whose annotations pydantic
validates. Types are strict (a quoted "90" in the file is a string, not a number; an
environment value is parsed to the key's type, since the environment only holds
strings), numbers are finite, timeouts positive, ranges and relations hold, unknown
sections and keys are refused. Every problem is reported at once in one ConfigError that
names the file and line (or the environment variable), the key and the reason, so the
terminal never starts on a half-valid configuration.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import tomllib
import typing
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter, ValidationError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = REPO_ROOT / "config" / "kiosk.toml"

_STRICT = ConfigDict(extra="forbid")  # unknown keys are errors, never ignored

Text = Annotated[str, Field(strict=True)]
Flag = Annotated[bool, Field(strict=True)]
Seconds = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]
SecondsOrOff = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]  # 0 disables
Megabytes = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]
Count = Annotated[int, Field(strict=True, ge=1)]


def _locale(value: str) -> str:
    from kiosk.i18n import LOCALES

    if value not in LOCALES:
        raise ValueError(f"must be one of {', '.join(LOCALES)}")
    return value


def _http_url(value: str, allowed: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be {allowed}")
    return value


def _platform_url(value: str) -> str:
    return value if value == "embedded" else _http_url(value, '"embedded" or an http(s):// URL')


def _repository_url(value: str) -> str:
    return value and _http_url(value, '"" (none) or an http(s):// URL')


def _broker_url(value: str) -> str:
    if not value:
        return value
    from kiosk.fleet.link import parse_broker_url  # paho only when a broker is configured

    parse_broker_url(value)
    return value


def _command_key(value: str) -> str:
    if not value:
        return value
    from kiosk.fleet.commands_protocol import CommandKeyError, load_public_key

    try:
        load_public_key(value)
    except CommandKeyError as exc:
        raise ValueError(f"not an Ed25519 public key: {exc}") from None
    return value


Locale = Annotated[str, Field(strict=True), AfterValidator(_locale)]
BrokerUrl = Annotated[str, Field(strict=True), AfterValidator(_broker_url)]
PlatformUrl = Annotated[str, Field(strict=True), AfterValidator(_platform_url)]
RepositoryUrl = Annotated[str, Field(strict=True), AfterValidator(_repository_url)]
CommandKey = Annotated[str, Field(strict=True), AfterValidator(_command_key)]


@dataclass(frozen=True)
class TerminalConfig:
    __pydantic_config__ = _STRICT

    # Goes into request signatures, MQTT topics and $REFBACKEND_TERMINALS ("id:secret,").
    id: Annotated[str, Field(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")] = \
        "DG-DEMO-0001"
    name: Text = "东莞市民服务中心 1号机"
    locale: Locale = "zh_CN"


@dataclass(frozen=True)
class BackendConfig:
    __pydantic_config__ = _STRICT

    # "embedded" starts the reference backend as a child process on 127.0.0.1.
    url: PlatformUrl = "embedded"
    # The terminal's shared secret is never stored in the config file itself.
    secret_env: Annotated[str, Field(strict=True, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = \
        "KIOSK_TERMINAL_SECRET"
    secret_file: Text = ""
    connect_timeout_s: Seconds = 3.0
    read_timeout_s: Seconds = 10.0
    # PEM of the root the platform's e-seals chain to (docs/sealing.md). Certificates are
    # sealed and verified before printing when it is set; "" with url = "embedded": the
    # embedded platform's demo root (<data_dir>/seal/root.pem).
    seal_root: Text = ""


@dataclass(frozen=True)
class DevicesConfig:
    __pydantic_config__ = _STRICT

    idcard: Text = "sim://?card=chen&delay_ms=600"
    sscard: Text = "sim://"
    receipt: Text = "sim://"
    a4: Text = "sim://"
    scanner: Text = "sim://"
    camera: Text = "sim://"
    doccam: Text = ""  # document camera (高拍仪); "" = not fitted (docs/doccam.md)
    microphone: Text = "sim://"  # remote help's voice (docs/assist.md); "" = not fitted
    speaker: Text = "sim://"  # the agent's voice during remote help; "" = not fitted


@dataclass(frozen=True)
class SessionConfig:
    __pydantic_config__ = _STRICT

    idle_timeout_s: Seconds = 60.0
    countdown_s: Seconds = 15.0  # the last part of idle_timeout_s, shown as a countdown


@dataclass(frozen=True)
class UiConfig:
    __pydantic_config__ = _STRICT

    fullscreen: Flag = True
    width: Annotated[int, Field(strict=True, ge=1, le=16384)] = 1920
    height: Annotated[int, Field(strict=True, ge=1, le=16384)] = 1080
    hide_cursor: Flag = False
    # Spoken guidance (espeak-ng); citizens can switch it off per visit.
    voice: Flag = True
    voice_rate: Annotated[int, Field(strict=True, ge=80, le=450)] = 150  # espeak-ng's range


@dataclass(frozen=True)
class MaintenanceConfig:
    """Technician access (kiosk/maintenance): PIN lockout, technician cards, gesture."""

    __pydantic_config__ = _STRICT

    # wrong PINs in a row before the PIN pad locks
    pin_max_failures: Annotated[int, Field(strict=True, ge=1, le=100)] = 5
    pin_lockout_s: Seconds = 300.0  # first lock; doubles with each further lock (max 24 h)
    # Entries printed by `kiosk maintenance card-entry` (salted scrypt of the card number;
    # the number itself is never stored). A list, or comma-separated in the environment.
    technician_cards: tuple[Text, ...] = ()
    idle_timeout_s: Seconds = 300.0  # leave maintenance mode after this long untouched
    # taps on the header's top-left corner ...
    gesture_taps: Annotated[int, Field(strict=True, ge=1, le=20)] = 5
    gesture_window_s: Seconds = 3.0  # ... within this many seconds open the PIN pad


@dataclass(frozen=True)
class HeartbeatConfig:
    __pydantic_config__ = _STRICT

    interval_s: SecondsOrOff = 60.0  # health published to the fleet channel this often; 0 off
    fault_poll_s: Seconds = 5.0  # device status polled this often for fault events


@dataclass(frozen=True)
class FleetConfig:
    """The fleet channel to the operations centre over MQTT (kiosk/fleet, docs/fleet.md).

    The terminal logs in as its terminal id; its password comes from `password_file` or
    the variable named by `password_env`, never from this file. Health goes out every
    `heartbeat.interval_s`, events the moment they happen (kept in an outbox meanwhile).
    """

    __pydantic_config__ = _STRICT

    broker_url: BrokerUrl = ""  # mqtt://host[:port] or mqtts://host[:port]; "" = off
    password_env: Annotated[str, Field(strict=True, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = \
        "KIOSK_FLEET_PASSWORD"
    password_file: Text = ""
    ca_file: Text = ""  # mqtts://: the CA that signed the broker's certificate ("" = system)
    keepalive_s: Annotated[int, Field(strict=True, ge=5, le=3600)] = 30
    connect_timeout_s: Seconds = 5.0
    ack_timeout_s: Seconds = 10.0  # wait this long for an event's PUBACK before resending
    reconnect_min_s: Seconds = 1.0  # backoff with full jitter between these
    reconnect_max_s: Seconds = 60.0
    reconnect_spread_s: SecondsOrOff = 5.0  # queued events go after a random delay up to this
    # The operations centre's Ed25519 public key that signs remote commands (issue 16):
    # a path to its PEM/base64 file or the base64 key itself; "" = none pinned, and every
    # command is refused (unknown_key).
    command_key: CommandKey = ""


@dataclass(frozen=True)
class AssistConfig:
    """Remote assisted service (远程帮办, docs/assist.md): video help from the hall's agents.

    Signalling goes to the operations centre's `/assist/terminal` WebSocket, logged in
    with the fleet channel's credentials (`fleet.password_env` / `password_file`).
    """

    __pydantic_config__ = _STRICT

    # ws://host:port or wss://host:port of the operations centre; "" = no help button
    centre_url: Annotated[str, Field(strict=True, pattern=r"^(|wss?://[^\s/]+(/[^\s]*)?)$")] = ""
    ca_file: Text = ""  # wss://: the CA of the centre's certificate ("" = system)
    ring_timeout_s: Seconds = 60.0  # no answer by then: offer a call back or a queue ticket
    reconnect_s: Seconds = 20.0  # after a network drop, try this long for new media
    video_width: Annotated[int, Field(strict=True, ge=160, le=1920)] = 640
    video_height: Annotated[int, Field(strict=True, ge=120, le=1080)] = 480
    video_fps: Annotated[int, Field(strict=True, ge=1, le=30)] = 15
    max_bitrate_kbps: Annotated[int, Field(strict=True, ge=64, le=4000)] = 600
    mirror_max_width: Annotated[int, Field(strict=True, ge=160, le=1280)] = 540


@dataclass(frozen=True)
class OperationsConfig:
    """24/7 operation: lockdown, nightly restart between sessions, log rotation."""

    __pydantic_config__ = _STRICT

    lockdown: Flag = True  # `kiosk run`: no window close, no keyboard escapes
    # local HH:MM; empty disables
    nightly_restart: Annotated[str, Field(strict=True,
                                          pattern=r"^(|([01]?\d|2[0-3]):[0-5]\d)$")] = "03:30"
    # restart only inside [time, time+window) and when idle
    nightly_window_min: Annotated[int, Field(strict=True, ge=1, le=1440)] = 120
    log_file: Text = ""  # empty: <data_dir>/logs/kiosk.log
    log_max_mb: Megabytes = 10.0
    log_backups: Annotated[int, Field(strict=True, ge=0, le=1000)] = 10


@dataclass(frozen=True)
class StorageConfig:
    __pydantic_config__ = _STRICT

    data_dir: Annotated[str, Field(strict=True, min_length=1)] = "~/.local/share/guanjia-kiosk"


@dataclass(frozen=True)
class PackagesConfig:
    __pydantic_config__ = _STRICT

    # Directory of the built-in flow package; empty means the one shipped with the app.
    builtin_dir: Text = ""
    # Ops package repository (TUF) this terminal polls; empty = built-in package only.
    repository_url: RepositoryUrl = ""
    # The root.json pinned at installation (trust anchor for the repository).
    trusted_root: Text = ""
    # rollout ring: 0 lab, 1 pilot, ... 9 everyone else
    ring: Annotated[int, Field(strict=True, ge=0, le=9)] = 9
    poll_interval_s: Seconds = 300.0
    # Comma-separated builder public keys; when set, packages need a valid detached signature.
    signer_keys: Text = ""


@dataclass(frozen=True)
class OfflineConfig:
    __pydantic_config__ = _STRICT

    # Outbox bound; policy in offline_cache/outbox.py: telemetry is dropped oldest-first,
    # citizen submissions are never dropped but refused at high_water of the bound or
    # when the disk has less than min_free_mb free.
    max_items: Count = 50_000
    max_mb: Megabytes = 128.0
    high_water: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0, le=1)] = 0.9
    min_free_mb: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)] = 32.0
    batch_size: Annotated[int, Field(strict=True, ge=1, le=10_000)] = 100
    backoff_base_s: Seconds = 1.0
    backoff_cap_s: Seconds = 300.0
    probe_interval_s: Seconds = 15.0
    probe_backoff_cap_s: Seconds = 60.0
    reconnect_spread_s: SecondsOrOff = 10.0


PLATFORM_ID = r"^[a-z][a-z0-9_-]{0,31}$"  # as flows and manifests name it (`platform = "gz"`)


@dataclass(frozen=True)
class PlatformConfig:
    """One other platform a flow may name (`[platforms.<id>]`; docs/platforms.md). The
    terminal's own platform is `[backend]` (the implicit "" of a flow)."""

    __pydantic_config__ = _STRICT

    # "embedded": the reference city platform, started beside the embedded backend.
    base_url: PlatformUrl = "embedded"
    # hmac: the terminal's own signing (id + secret of [backend]); oauth2: client credentials
    auth: Literal["hmac", "oauth2"] = "hmac"
    token_url: Text = ""  # oauth2: the token endpoint ("" = <base_url>/oauth/token)
    client_id: Text = ""
    # The client secret is never written here: the variable it is in, or a 0600 file.
    client_secret_env: Annotated[str, Field(strict=True,
                                            pattern=r"^(|[A-Za-z_][A-Za-z0-9_]*)$")] = ""
    client_secret_file: Text = ""
    scope: Text = ""
    connect_timeout_s: Seconds = 3.0
    timeout_s: Seconds = 30.0  # a whole call: connect, send, answer, redirects
    max_answer_bytes: Annotated[int, Field(strict=True, ge=1024)] = 8 * 1024 * 1024
    requests_per_minute: Annotated[int, Field(strict=True, ge=0)] = 0  # 0: no limit
    health_path: Annotated[str, Field(strict=True, pattern=r"^/")] = "/health"


@dataclass(frozen=True)
class Config:
    __pydantic_config__ = _STRICT

    terminal: TerminalConfig = field(default_factory=TerminalConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    devices: DevicesConfig = field(default_factory=DevicesConfig)
    session: SessionConfig = field(default_factory=SessionConfig)
    ui: UiConfig = field(default_factory=UiConfig)
    maintenance: MaintenanceConfig = field(default_factory=MaintenanceConfig)
    heartbeat: HeartbeatConfig = field(default_factory=HeartbeatConfig)
    fleet: FleetConfig = field(default_factory=FleetConfig)
    assist: AssistConfig = field(default_factory=AssistConfig)
    operations: OperationsConfig = field(default_factory=OperationsConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    packages: PackagesConfig = field(default_factory=PackagesConfig)
    offline: OfflineConfig = field(default_factory=OfflineConfig)
    # Other platforms by id (`[platforms.gz]`); keys checked in _relation_problems.
    platforms: dict[str, PlatformConfig] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return Path(os.path.expanduser(self.storage.data_dir))

    def with_section(self, section: str, /, **changes: Any) -> Config:
        """Return a copy with some keys of one section replaced (not validated: code, tests
        and the demo use it; `validate_config` checks a result when that matters)."""
        return replace(self, **{section: replace(getattr(self, section), **changes)})


# -- errors -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One thing wrong: where it came from (file:line or variable), the key, the reason."""

    source: str
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.key}: {self.reason}" if self.key else \
            f"{self.source}: {self.reason}"


class ConfigError(ValueError):
    """The configuration is unusable; `problems` lists everything found, not just the first."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        head = "invalid configuration" + (f" ({count} problems)" if count > 1 else "")
        super().__init__("\n  ".join([f"{head}:", *map(str, self.problems)]))


# -- schema helpers -----------------------------------------------------------------------
# Sections of fixed keys ([platforms] is a table of tables, checked on its own).
SECTIONS: dict[str, type] = {f.name: f.default_factory for f in fields(Config)  # type: ignore[misc]
                             if f.name != "platforms"}


@cache
def _adapter() -> TypeAdapter[Config]:
    return TypeAdapter(Config)


@cache
def _key_types(section: str) -> dict[str, Any]:
    """Key -> plain Python type (float, int, bool, str, tuple) of one section."""
    hints = typing.get_type_hints(SECTIONS[section], include_extras=True)
    out = {}
    for name, hint in hints.items():
        while typing.get_origin(hint) is Annotated:
            hint = typing.get_args(hint)[0]
        out[name] = typing.get_origin(hint) or hint
    return out


def _closest(word: str, choices: list[str]) -> str:
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.7)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _shown(value: Any) -> str:
    """A value as it would be written in TOML (strings in quotes)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return repr(value) if not isinstance(value, dict) else "a table"


_TYPE_WORDS = {"float_type": "a number", "int_type": "a whole number",
               "bool_type": "true or false", "string_type": "a string (in quotes)",
               "tuple_type": "a list of strings", "dataclass_type": "a table"}
_PATTERN_HINTS = {"nightly_restart": 'must be "HH:MM" (24-hour clock) or "" to disable',
                  "id": "must be 1-64 letters, digits, '.', '_' or '-' (starting with a "
                        "letter or digit)",
                  "secret_env": "must be the name of an environment variable",
                  "password_env": "must be the name of an environment variable"}


def _quoted(kind: str, text: str) -> bool:
    """Would this string be right without its quotes ("90" for a number)?"""
    try:
        if kind == "float_type":
            return math.isfinite(float(text))
        if kind == "int_type":
            int(text)
            return True
    except ValueError:
        return False
    return kind == "bool_type" and text in ("true", "false")


def _reason(err: Any, key: str) -> str:
    """A technician's sentence for one pydantic error."""
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if kind == "unexpected_keyword_argument":
        return "unknown"
    if kind in _TYPE_WORDS:
        text = f"must be {_TYPE_WORDS[kind]}, got {_shown(value)}"
        if isinstance(value, str) and _quoted(kind, value):
            text += " — a string, because of the quotes; write it without them"
        return text
    if kind == "finite_number":
        return f"must be a finite number, got {_shown(value)}"
    for bound, words in (("gt", "greater than"), ("ge", "at least"), ("lt", "less than"),
                         ("le", "at most")):
        if bound in ctx:
            return f"must be {words} {ctx[bound]:g}, got {_shown(value)}"
    if kind == "string_pattern_mismatch":
        return f"{_PATTERN_HINTS.get(key, 'has the wrong form')}, got {_shown(value)}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "value_error":
        return f"{ctx.get('error', err['msg'])}, got {_shown(value)}"
    return f"{err['msg']}, got {_shown(value)}"


# -- reading the file ---------------------------------------------------------------------
_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)?)\s*\]")
_KEY = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=")


def _key_lines(text: str) -> dict[tuple[str, str], int]:
    """(section, key) -> line number, and (section, "") -> the table's line (best effort)."""
    lines: dict[tuple[str, str], int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), 1):
        if table := _TABLE.match(line):
            section = table.group(1)
            lines.setdefault((section, ""), number)
            lines.setdefault((section.partition(".")[0], ""), number)  # [platforms.gz]
        elif key := _KEY.match(line):
            name = key.group(1)
            if not section and "." in name:  # a dotted key at the top: section.key = ...
                head, _, name = name.partition(".")
                lines.setdefault((head, name), number)
            else:
                lines.setdefault((section, name), number)
    return lines


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _read_file(file: Path) -> tuple[dict[str, Any], dict[tuple[str, str], int], list[Problem]]:
    """Parse the TOML file; return its data, key lines and any problem (file + line)."""
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        return {}, {}, [Problem(str(file), "", "config file not found")]
    except OSError as exc:
        return {}, {}, [Problem(str(file), "", f"cannot read: {exc.strerror}")]
    try:
        text = data.decode("utf-8-sig")  # a BOM from a Windows editor is harmless
    except UnicodeDecodeError as exc:
        line = _line_of(data, exc.start)
        return {}, {}, [Problem(f"{file}:{line}", "",
                                f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the "
                                "file as UTF-8")]
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(where.group(1)) if where else len(text.splitlines()) or 1  # end of document
        reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
        return {}, {}, [Problem(f"{file}:{line}", "", f"not valid TOML: {reason}")]
    except RecursionError:
        return {}, {}, [Problem(str(file), "", "not valid TOML: nested too deeply")]
    return doc, _key_lines(text), []


# -- environment --------------------------------------------------------------------------
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def env_name(section: str, key: str) -> str:
    return f"KIOSK_{section.upper()}_{key.upper()}"


def _from_env(text: str, kind: Any) -> Any:
    """Parse an environment string to the key's type; ValueError with a reason if not."""
    value = text.strip()
    if kind is bool:
        if value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise ValueError(f"must be true or false (1/0, yes/no, on/off), got {_shown(text)}")
    if kind is int:
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"must be a whole number, got {_shown(text)}") from None
    if kind is float:
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"must be a number, got {_shown(text)}") from None
    if kind is tuple:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    return text


# -- validation ---------------------------------------------------------------------------
class _Sources:
    """Where each value came from, to name it in an error."""

    def __init__(self) -> None:
        self.file = ""
        self.lines: dict[tuple[str, str], int] = {}
        self.env: dict[tuple[str, str], str] = {}
        self.fallback = "built-in defaults"

    def __call__(self, section: str, key: str = "") -> str:
        if (section, key) in self.env:
            return f"{self.env[section, key]} (environment)"
        if self.file:
            line = self.lines.get((section, key)) or self.lines.get((section, ""))
            return f"{self.file}:{line}" if line else self.file
        return self.fallback


def _unknown_section(name: str, sources: _Sources) -> Problem:
    if (name, "") in sources.lines:  # a [table] nobody knows
        return Problem(sources(name), f"[{name}]",
                       "unknown section" + _closest(name, [*SECTIONS, "platforms"]))
    home = next((s for s in SECTIONS if name in _key_types(s)), "")  # a key outside a table
    line = sources.lines.get(("", name))
    return Problem(f"{sources.file}:{line}" if line else sources(name), name,
                   "key outside any [section]" + (f" (belongs in [{home}])" if home else ""))


def _schema_problems(exc: ValidationError, sources: _Sources) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        section, key = loc[0], loc[1] if len(loc) > 1 else ""
        if section == "platforms":
            problems.append(_platform_problem(err, loc, sources))
        elif section not in SECTIONS:
            problems.append(_unknown_section(section, sources))
        elif err["type"] == "unexpected_keyword_argument" and len(loc) == 2:
            problems.append(Problem(sources(section, key), f"{section}.{key}",
                                    "unknown key" + _closest(key, list(_key_types(section)))))
        else:
            name = ".".join(loc) if key else f"[{section}]"
            problems.append(Problem(sources(section, key), name, _reason(err, key)))
    return problems


def _platform_problem(err: Any, loc: list[str], sources: _Sources) -> Problem:
    """One problem inside [platforms.<id>] (pydantic's loc: platforms, id, key)."""
    if len(loc) < 3:
        return Problem(sources("platforms"), "[platforms]",
                       "must be tables [platforms.<id>] with base_url, auth, ...")
    pid, key = loc[1], loc[2]
    where = sources(f"platforms.{pid}", key)
    if err["type"] == "unexpected_keyword_argument":
        known = [f.name for f in fields(PlatformConfig)]
        hint = (" (the secret is never written here: client_secret_env or "
                "client_secret_file)") if key == "client_secret" else _closest(key, known)
        return Problem(where, f"platforms.{pid}.{key}", "unknown key" + hint)
    if err["type"] == "literal_error":
        return Problem(where, f"platforms.{pid}.{key}",
                       f"must be \"hmac\" or \"oauth2\", got {_shown(err.get('input'))}")
    return Problem(where, f"platforms.{pid}.{key}", _reason(err, key))


def _platform_relations(cfg: Config, sources: _Sources) -> list[Problem]:
    out = []
    for pid, p in cfg.platforms.items():
        where = sources(f"platforms.{pid}")
        if not re.match(PLATFORM_ID, pid):
            out.append(Problem(where, f"[platforms.{pid}]", "the id must be 1-32 lower-case "
                               "letters, digits, '_' or '-', starting with a letter"))
        if p.auth != "oauth2":
            continue
        if p.base_url == "embedded":  # the embedded city platform hands its own client
            continue
        if not p.client_id:
            out.append(Problem(sources(f"platforms.{pid}", "client_id"),
                               f"platforms.{pid}.client_id", 'must be set when auth = "oauth2"'))
        if not (p.client_secret_env or p.client_secret_file):
            out.append(Problem(where, f"platforms.{pid}.client_secret_env",
                               'auth = "oauth2" needs client_secret_env or client_secret_file'))
        if p.token_url:
            try:
                _http_url(p.token_url, "an http(s):// URL")
            except ValueError as exc:
                out.append(Problem(sources(f"platforms.{pid}", "token_url"),
                                   f"platforms.{pid}.token_url",
                                   f"{exc}, got {_shown(p.token_url)}"))
    return out


def _relation_problems(cfg: Config, sources: _Sources) -> list[Problem]:
    """Rules that involve more than one key (checked once every key is valid)."""
    out = _platform_relations(cfg, sources)
    if cfg.session.countdown_s > cfg.session.idle_timeout_s:
        out.append(Problem(sources("session", "countdown_s"), "session.countdown_s",
                           f"must not exceed session.idle_timeout_s "
                           f"({cfg.session.countdown_s:g} > {cfg.session.idle_timeout_s:g})"))
    if cfg.offline.backoff_base_s > cfg.offline.backoff_cap_s:
        out.append(Problem(sources("offline", "backoff_base_s"), "offline.backoff_base_s",
                           f"must not exceed offline.backoff_cap_s "
                           f"({cfg.offline.backoff_base_s:g} > {cfg.offline.backoff_cap_s:g})"))
    if cfg.fleet.reconnect_min_s > cfg.fleet.reconnect_max_s:
        out.append(Problem(sources("fleet", "reconnect_min_s"), "fleet.reconnect_min_s",
                           f"must not exceed fleet.reconnect_max_s "
                           f"({cfg.fleet.reconnect_min_s:g} > {cfg.fleet.reconnect_max_s:g})"))
    if cfg.fleet.broker_url and "." in cfg.terminal.id:  # kiosk.fleet.protocol.TERMINAL_ID
        out.append(Problem(sources("terminal", "id"), "terminal.id",
                           "must not contain '.' when fleet.broker_url is set (it is an MQTT "
                           f"topic level and the broker username), got {_shown(cfg.terminal.id)}"))
    return out


def _check(data: dict[str, Any], sources: _Sources) -> tuple[Config | None, list[Problem]]:
    try:
        cfg = _adapter().validate_python(data)
    except ValidationError as exc:
        return None, _schema_problems(exc, sources)
    return cfg, _relation_problems(cfg, sources)


def validate_config(cfg: Config) -> Config:
    """Check a Config built in code (e.g. with `with_section`) against the same schema."""
    sources = _Sources()
    sources.fallback = "configuration"
    checked, problems = _check(asdict(cfg), sources)
    if problems or checked is None:
        raise ConfigError(problems)
    return checked


def load_config(path: str | os.PathLike[str] | None = None,
                environ: typing.Mapping[str, str] | None = None) -> Config:
    """Load the configuration (defaults, then file, then environment) and validate it all;
    raise one ConfigError listing every problem."""
    env = os.environ if environ is None else environ
    chosen = path or env.get("KIOSK_CONFIG")
    file = Path(chosen) if chosen else (DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.exists()
                                        else None)
    sources = _Sources()
    problems: list[Problem] = []
    data: dict[str, Any] = {}
    if file is not None:
        sources.file = str(file)
        data, sources.lines, problems = _read_file(file)
    for section in SECTIONS:
        for key, kind in _key_types(section).items():
            var = env_name(section, key)
            if var not in env:
                continue
            try:
                value = _from_env(env[var], kind)
            except ValueError as exc:
                problems.append(Problem(f"{var} (environment)", f"{section}.{key}", str(exc)))
                continue
            sources.env[section, key] = var
            table = data.setdefault(section, {})
            if isinstance(table, dict):
                table[key] = value
    cfg, found = _check(data, sources)
    problems.extend(found)
    if problems or cfg is None:
        raise ConfigError(problems)
    return cfg
