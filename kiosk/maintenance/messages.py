"""What a technician reads: translated errors that say what would have worked, and
translated device states, details and figures.

Shared by the `kiosk` command line and the maintenance screens, so a shell and the
touch screen say the same thing. The translation key always stays with the message
(`TechnicianError.key`, the `error` field of `--json`) for machines and the log.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.devices.base import DeviceError, DeviceUri
from kiosk.i18n import DEFAULT_LOCALE, LOCALES, Translator

LANG_ENV = "KIOSK_LANG"


def cli_locale(chosen: str | None = None) -> str:
    """The language of the command line: `--lang`, else $KIOSK_LANG, else zh_CN."""
    for value in (chosen, os.environ.get(LANG_ENV)):
        if value in LOCALES:
            return value
    return DEFAULT_LOCALE


def tr(t: Translator, prefix: str, value: str) -> str:
    """`prefix + value` translated, or `value` itself when there is no such string."""
    key = prefix + value
    return str(t(key)) if t.has(key) else value


def device_name(t: Translator, kind: str | None) -> str:
    return tr(t, "maintenance.device.", kind) if kind else t("technician.device.any")


def state_text(t: Translator, state: str) -> str:
    return tr(t, "maintenance.state.", state)


def detail_text(t: Translator, detail: str) -> str:
    return tr(t, "maintenance.detail.", detail)


def metric_text(t: Translator, name: str, value: Any) -> str:
    """One live figure (`reads`, `fps`, `last_read_at`, `frame`) as a translated phrase."""
    if name.endswith("_at") and isinstance(value, (int, float)) and value > 1e9:
        value = datetime.fromtimestamp(value).strftime("%H:%M:%S")
    elif isinstance(value, float):
        value = f"{value:.1f}"
    key = f"maintenance.metric.{name}"
    if t.has(key):
        return str(t(key, value=value))
    return f"{tr(t, 'maintenance.metric_name.', name)} {value}"


def phrase(t: Translator, text: str) -> str:
    """A driver's free text for a person: a translation key, or words that are all state
    or detail names (`user_error paper_out`), come out translated; anything else (a
    port name, a reason from the peer) stays as the driver wrote it."""
    text = text.strip()
    if not text:
        return ""
    if t.has(text):
        return str(t(text))
    words = text.split()
    names = []
    for w in words:
        for prefix in ("maintenance.state.", "maintenance.detail.", "maintenance.verdict."):
            if t.has(prefix + w):
                names.append(str(t(prefix + w)))
                break
        else:
            return text
    return str(t("technician.sep")).join(names)


def message_text(t: Translator, message: str) -> str:
    """A device status message: translated when it is a key, else the driver's reason."""
    return str(t(message)) if message and t.has(message) else message


def _schemes(kind: str | None) -> tuple[str, ...]:
    from kiosk.devices.registry import schemes

    return schemes(kind) if kind else ()


def _listing(items: Iterable[str], t: Translator) -> str:
    items = list(items)
    return t("technician.list_sep").join(items) if items else str(t("technician.none"))


@dataclass(frozen=True)
class TechnicianError:
    """A failed command, for a person (`message`) and for machines (`key`, lists)."""

    key: str
    message: str
    detail: str = ""
    valid_schemes: tuple[str, ...] = ()
    valid_parameters: tuple[str, ...] = ()
    did_you_mean: str = ""
    valid_cards: tuple[str, ...] = ()
    # The message says all the detail says (the detail is then only for the log and JSON).
    complete: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.key, "message": self.message,
                               "detail": self.detail,
                               "valid_schemes": [f"{s}://" for s in self.valid_schemes]}
        if self.valid_parameters:
            out["valid_parameters"] = list(self.valid_parameters)
        if self.did_you_mean:
            out["did_you_mean"] = self.did_you_mean
        if self.valid_cards:
            out["valid_cards"] = list(self.valid_cards)
        return out

    def render(self) -> str:
        """For a person: the message with its key at the end (to look up or search for),
        then the driver's detail on a line of its own unless the message says it all."""
        text = f"{self.message}  [{self.key}]"
        if self.detail and not self.complete and self.detail not in self.message:
            text += f"\n  {self.detail}"
        return text


def explain(err: DeviceError, t: Translator, *, kind: str | None = None,
            uri: str = "") -> TechnicianError:
    """The technician's message for a device error raised by `kind` at `uri`."""
    if err.key == "device.unsupported_uri":
        return _unsupported_uri(err, t, kind, uri)
    if err.key == "device.unknown_parameter":
        return _unknown_parameter(err, t, kind, uri)
    if err.key == "device.unknown_card":
        return _unknown_card(err, t, uri)
    for key in (f"technician.{err.key}", err.key):
        if t.has(key):
            return TechnicianError(err.key, str(t(key)), err.detail)
    return TechnicianError(err.key, str(t("technician.error.other", code=err.key)), err.detail)


def _unsupported_uri(err: DeviceError, t: Translator, kind: str | None,
                     uri: str) -> TechnicianError:
    valid = _schemes(kind)
    scheme = uri.split("://", 1)[0] if "://" in uri else ""
    listed = _listing((f"{s}://" for s in valid), t)
    if scheme in valid:  # the scheme is right, something else in the address is not
        msg = t("technician.error.bad_uri", uri=uri, device=device_name(t, kind),
                detail=err.detail)
        return TechnicianError(err.key, str(msg), err.detail, valid, complete=True)
    msg = t("technician.error.unsupported_uri", uri=uri, device=device_name(t, kind),
            schemes=listed)
    return TechnicianError(err.key, str(msg), err.detail, valid, complete=True)


def _unknown_parameter(err: DeviceError, t: Translator, kind: str | None,
                       uri: str) -> TechnicianError:
    from kiosk.devices.registry import driver_class

    try:
        parsed = DeviceUri.parse(uri)
        accepted = driver_class(kind or "", parsed.scheme).accepted_params(parsed.scheme)
    except (DeviceError, ValueError):
        parsed, accepted = DeviceUri("", "", None, ""), None
    known = tuple(sorted(accepted or ()))
    unknown = [p for p in parsed.params if p not in known] or ["?"]
    close = difflib.get_close_matches(unknown[0], known, n=1, cutoff=0.6)
    msg = str(t("technician.error.unknown_parameter", uri=uri, param=unknown[0],
                device=device_name(t, kind), scheme=parsed.scheme,
                accepted=_listing(known, t)))
    if close:
        msg += str(t("technician.did_you_mean", name=close[0]))
    return TechnicianError(err.key, msg, err.detail, _schemes(kind), known,
                           close[0] if close else "", complete=bool(known))


def _unknown_card(err: DeviceError, t: Translator, uri: str) -> TechnicianError:
    from kiosk.devices.idcard.sim import card_keys

    card = getattr(err, "card", "")
    cards = card_keys()
    msg = t("technician.error.unknown_card", card=card, cards=_listing(cards, t))
    return TechnicianError(err.key, str(msg), err.detail, valid_cards=cards, complete=True)


# -- a device's status as one line -------------------------------------------------------
def status_line(t: Translator, kind: str, status: Mapping[str, Any]) -> str:
    """`凭条打印机：需要处理 · 缺纸 — <reason>` from a status or health dict."""
    parts = [state_text(t, str(status.get("state", "")))]
    parts += [detail_text(t, d) for d in status.get("details", ())]
    parts += [metric_text(t, k, v) for k, v in sorted(dict(status.get("metrics") or {}).items())]
    line = f"{device_name(t, kind)}{t('technician.colon')}{t('technician.sep').join(parts)}"
    message = message_text(t, str(status.get("message") or ""))
    return f"{line} — {message}" if message else line
