"""Terminal configuration: embedded defaults, a TOML file, environment overrides.

Resolution order (later wins): the defaults below, the file named by `--config` or
`$KIOSK_CONFIG` (else `config/kiosk.toml` beside the source tree if present), then
`KIOSK_<SECTION>_<KEY>` environment variables (e.g. `KIOSK_BACKEND_URL`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = REPO_ROOT / "config" / "kiosk.toml"


@dataclass(frozen=True)
class TerminalConfig:
    id: str = "DG-DEMO-0001"
    name: str = "东莞市民服务中心 1号机"
    locale: str = "zh_CN"


@dataclass(frozen=True)
class BackendConfig:
    # "embedded" starts the reference backend as a child process on 127.0.0.1.
    url: str = "embedded"
    # The terminal's shared secret is never stored in the config file itself.
    secret_env: str = "KIOSK_TERMINAL_SECRET"
    secret_file: str = ""
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0


@dataclass(frozen=True)
class DevicesConfig:
    idcard: str = "sim://?card=chen&delay_ms=600"
    sscard: str = "sim://"
    receipt: str = "sim://"
    a4: str = "sim://"
    scanner: str = "sim://"
    camera: str = "sim://"


@dataclass(frozen=True)
class SessionConfig:
    idle_timeout_s: float = 60.0
    countdown_s: float = 15.0


@dataclass(frozen=True)
class UiConfig:
    fullscreen: bool = True
    width: int = 1920
    height: int = 1080
    hide_cursor: bool = False
    # Spoken guidance (espeak-ng); citizens can switch it off per visit.
    voice: bool = True
    voice_rate: int = 150


@dataclass(frozen=True)
class MaintenanceConfig:
    """Technician access (kiosk/maintenance): PIN lockout, technician cards, gesture."""

    pin_max_failures: int = 5  # wrong PINs in a row before the PIN pad locks
    pin_lockout_s: float = 300.0  # first lock; doubles with each further lock (max 24 h)
    # Entries printed by `kiosk maintenance card-entry` (salted scrypt of the card number;
    # the number itself is never stored). A list, or comma-separated in the environment.
    technician_cards: tuple[str, ...] = ()
    idle_timeout_s: float = 300.0  # leave maintenance mode after this long untouched
    gesture_taps: int = 5  # taps on the header's top-left corner ...
    gesture_window_s: float = 3.0  # ... within this many seconds open the PIN pad


@dataclass(frozen=True)
class HeartbeatConfig:
    interval_s: float = 60.0  # health posted to the platform this often; 0 disables
    fault_poll_s: float = 5.0  # device status polled this often for fault events


@dataclass(frozen=True)
class OperationsConfig:
    """24/7 operation: lockdown, nightly restart between sessions, log rotation."""

    lockdown: bool = True  # `kiosk run`: no window close, no keyboard escapes
    nightly_restart: str = "03:30"  # local HH:MM; empty disables
    nightly_window_min: int = 120  # restart only inside [time, time+window) and when idle
    log_file: str = ""  # empty: <data_dir>/logs/kiosk.log
    log_max_mb: float = 10.0
    log_backups: int = 10


@dataclass(frozen=True)
class StorageConfig:
    data_dir: str = "~/.local/share/guanjia-kiosk"


@dataclass(frozen=True)
class PackagesConfig:
    # Directory of the built-in flow package; empty means the one shipped with the app.
    builtin_dir: str = ""
    # Ops package repository (TUF) this terminal polls; empty = built-in package only.
    repository_url: str = ""
    # The root.json pinned at installation (trust anchor for the repository).
    trusted_root: str = ""
    ring: int = 9  # rollout ring: 0 lab, 1 pilot, ... 9 everyone else
    poll_interval_s: float = 300.0
    # Comma-separated builder public keys; when set, packages need a valid detached signature.
    signer_keys: str = ""


@dataclass(frozen=True)
class OfflineConfig:
    # Outbox bound; policy in offline_cache/outbox.py: telemetry is dropped oldest-first,
    # citizen submissions are never dropped but refused at high_water of the bound or
    # when the disk has less than min_free_mb free.
    max_items: int = 50_000
    max_mb: float = 128.0
    high_water: float = 0.9
    min_free_mb: float = 32.0
    batch_size: int = 100
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 300.0
    probe_interval_s: float = 15.0
    probe_backoff_cap_s: float = 60.0
    reconnect_spread_s: float = 10.0


@dataclass(frozen=True)
class Config:
    terminal: TerminalConfig = field(default_factory=TerminalConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    devices: DevicesConfig = field(default_factory=DevicesConfig)
    session: SessionConfig = field(default_factory=SessionConfig)
    ui: UiConfig = field(default_factory=UiConfig)
    maintenance: MaintenanceConfig = field(default_factory=MaintenanceConfig)
    heartbeat: HeartbeatConfig = field(default_factory=HeartbeatConfig)
    operations: OperationsConfig = field(default_factory=OperationsConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    packages: PackagesConfig = field(default_factory=PackagesConfig)
    offline: OfflineConfig = field(default_factory=OfflineConfig)

    @property
    def data_dir(self) -> Path:
        return Path(os.path.expanduser(self.storage.data_dir))

    def with_section(self, section: str, /, **changes: Any) -> Config:
        """Return a copy with some keys of one section replaced."""
        return replace(self, **{section: replace(getattr(self, section), **changes)})


class ConfigError(ValueError):
    pass


def _coerce(value: str, like: Any) -> Any:
    if isinstance(like, bool):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(like, int):
        return int(value)
    if isinstance(like, float):
        return float(value)
    return value


def _apply(cfg: Config, data: dict[str, Any], origin: str) -> Config:
    for section_name, section_values in data.items():
        if not hasattr(cfg, section_name) or not isinstance(section_values, dict):
            raise ConfigError(f"{origin}: unknown section [{section_name}]")
        section = getattr(cfg, section_name)
        known = {f.name for f in fields(section)}
        unknown = set(section_values) - known
        if unknown:
            raise ConfigError(f"{origin}: unknown key(s) in [{section_name}]: {sorted(unknown)}")
        cfg = cfg.with_section(section_name, **section_values)
    return cfg


def load_config(path: str | os.PathLike[str] | None = None,
                environ: dict[str, str] | None = None) -> Config:
    """Load the configuration (defaults, then file, then environment)."""
    env = os.environ if environ is None else environ
    cfg = Config()
    chosen = path or env.get("KIOSK_CONFIG")
    file = Path(chosen) if chosen else (DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.exists() else None)
    if file is not None:
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {file}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: {exc}") from exc
        cfg = _apply(cfg, data, str(file))
    for f in fields(cfg):
        section = getattr(cfg, f.name)
        changes = {}
        for sf in fields(section):
            key = f"KIOSK_{f.name.upper()}_{sf.name.upper()}"
            if key in env:
                changes[sf.name] = _coerce(env[key], getattr(section, sf.name))
        if changes:
            cfg = cfg.with_section(f.name, **changes)
    return cfg
