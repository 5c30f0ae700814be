"""The centre's configuration file (`kiosk-ops serve --config FILE`, TOML).

```toml
[alerts]                      # thresholds; every key has a default
offline_after_s = 30          # offline for longer than this
outbox_depth_max = 500        # items waiting in a terminal's outbox
outbox_age_max_s = 3600       # age of its oldest item
clock_skew_max_s = 120
clear_hold_s = 120            # a condition must stay clear this long before its alert closes
reopen_window_s = 900         # a condition back within this after a close reopens the alert
disabled = ["clock_skew"]     # rules not evaluated
[alerts.hold_s]               # how long a condition must last before its alert opens
device_fault = 30

[notify]
console_url = "https://ops.example.org"
webhooks = ["https://chat.example.org/hook/ops"]
email_to = ["ops@example.org"]
smtp_host = "smtp.example.org"
smtp_port = 587
smtp_security = "starttls"    # none | starttls | tls
smtp_from = "kiosk-ops@example.org"
smtp_user = "kiosk-ops"
smtp_password_env = "KIOSK_OPS_SMTP_PASSWORD"   # never the password itself
max_attempts = 8

[rollouts]                    # guarded package rollouts (opscentre.rollouts)
repository = "/srv/kiosk-repo"          # the TUF repository folder the centre writes
keys = "/etc/kiosk-ops/package-keys"    # online keys: targets, snapshot, timestamp
repository_url = "https://packages.example.gov.cn/kiosk"
inbox = "/srv/kiosk-inbox"              # signed archives the console may start from
waves = [0, 5, 25, 100]                 # 0 = ring 0 (lab terminals), then percentages
soak_s = 1800                           # a wave stays healthy this long before the next
max_rejected = 0.05                     # rates in a wave that halt the rollout
max_rolled_back = 0.02
max_error_screens = 0.05                # error screens per citizen session
min_sessions = 20

[assist]                      # remote help (docs/assist.md)
terminal_password_file = "/etc/mosquitto/passwd"   # terminals log in as on the fleet channel
turn_urls = ["turn:turn.example.org:3478?transport=udp"]
turn_secret_file = "/etc/kiosk-ops/turn-secret"     # coturn's static-auth-secret
turn_ttl_s = 3600
ice_policy = "all"                                  # all | relay
expected_handle_s = 180                             # wait estimate before there is history
reconnect_grace_s = 20                              # a terminal's dropped socket may rejoin
```

Unknown keys are refused with the file, the key and the reason (a misspelt threshold
must not silently fall back to its default).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

RULES = ("offline", "device_fault", "paper_out", "paper_low", "outbox", "package",
         "clock_skew")


class SettingsError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlertRules(_Strict):
    offline_after_s: float = Field(default=30.0, ge=0)
    outbox_depth_max: int = Field(default=500, ge=1)
    outbox_age_max_s: float = Field(default=3600.0, gt=0)
    clock_skew_max_s: float = Field(default=120.0, gt=0)
    clear_hold_s: float = Field(default=120.0, ge=0)
    reopen_window_s: float = Field(default=900.0, ge=0)
    hold_s: dict[Literal["device_fault", "paper_out", "paper_low", "outbox", "package",
                         "clock_skew"], float] = Field(default_factory=dict)
    disabled: tuple[Literal["offline", "device_fault", "paper_out", "paper_low", "outbox",
                            "package", "clock_skew"], ...] = ()

    def hold(self, rule: str) -> float:
        default = {"device_fault": 30.0, "paper_out": 30.0, "paper_low": 60.0,
                   "clock_skew": 300.0}.get(rule, 0.0)
        return float(self.hold_s.get(rule, default))  # type: ignore[call-overload]

    def enabled(self, rule: str) -> bool:
        return rule not in self.disabled


class NotifySettings(_Strict):
    console_url: str = ""
    webhooks: tuple[str, ...] = ()
    email_to: tuple[str, ...] = ()
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_from: str = "kiosk-ops@localhost"
    smtp_user: str = ""
    smtp_password_env: str = "KIOSK_OPS_SMTP_PASSWORD"
    timeout_s: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    backoff_s: float = Field(default=5.0, gt=0)
    backoff_max_s: float = Field(default=3600.0, gt=0)

    def smtp_password(self) -> str:
        return os.environ.get(self.smtp_password_env, "") if self.smtp_user else ""


class RolloutSettings(_Strict):
    """Guarded package rollouts (`opscentre.rollouts`): the TUF repository the centre
    writes, its online keys, and the defaults of a rollout (each may be set per rollout)."""

    repository: str = ""  # the repository folder (as written by `kiosk pack root`)
    keys: str = ""  # online keys (targets, snapshot, timestamp) and signer*.pub: not in it
    repository_url: str = ""  # where terminals fetch it (shown; the simulator's default)
    inbox: str = ""  # built and signed archives (.kpkg + .sig) the console can start from
    serve_repository: bool = False  # the console serves the folder at /repo (the stack)
    waves: tuple[int, ...] = (0, 5, 25, 100)  # 0: ring 0 (lab); then percent of buckets
    soak_s: float = Field(default=1800.0, ge=0)  # a wave stays healthy this long
    min_reported: float = Field(default=0.9, gt=0, le=1)  # share of a wave that reported
    max_rejected: float = Field(default=0.05, ge=0, le=1)  # rates that halt a rollout
    max_rolled_back: float = Field(default=0.02, ge=0, le=1)
    max_error_screens: float = Field(default=0.05, ge=0, le=1)  # per citizen session
    min_sessions: int = Field(default=20, ge=1)  # before the error-screen rate counts
    evaluate_every_s: float = Field(default=2.0, gt=0)
    refresh_timestamp_s: float = Field(default=6 * 3600.0, gt=0)  # re-sign freshness


class AssistSettings(_Strict):
    """Remote help (issue 19, docs/assist.md): who may call, TURN, the wait estimate."""

    terminal_password_file: str = ""  # the broker's Mosquitto password file ("": no calls)
    turn_urls: tuple[str, ...] = ()  # e.g. ("turn:turn.example.org:3478?transport=udp",)
    turn_secret_file: str = ""  # coturn's static-auth-secret, in a file of its own
    turn_ttl_s: int = Field(default=3600, ge=60)  # lifetime of the TURN credentials
    ice_policy: Literal["all", "relay"] = "all"  # relay: every call through TURN
    expected_handle_s: float = Field(default=180.0, gt=0)  # wait estimate before history
    reconnect_grace_s: float = Field(default=20.0, ge=0)  # a dropped terminal may rejoin


class CentreSettings(_Strict):
    alerts: AlertRules = AlertRules()
    notify: NotifySettings = NotifySettings()
    rollouts: RolloutSettings = RolloutSettings()
    assist: AssistSettings = AssistSettings()


def load(path: str | os.PathLike[str] | None) -> CentreSettings:
    """The settings in `path` (defaults when None); SettingsError names file, key, reason."""
    if path is None:
        return CentreSettings()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"{p}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{p}: not TOML ({exc})") from None
    try:
        return CentreSettings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(x) for x in first["loc"])
        raise SettingsError(f"{p}: {key}: {first['msg']}") from None
