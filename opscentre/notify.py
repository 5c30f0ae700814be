"""Notifications of alerts: a webhook (HTTP POST, JSON) and e-mail (SMTP).

A notification is a row (`models.Notification`) written in the transaction that opened or
closed its alert, so it exists exactly when the alert change does. `Notifier` sends due
rows: it claims a batch (moving `next_try` past a lease, so another instance or a crash
mid-send leads to a retry, not a loss), sends each outside any transaction, then records
the outcome: delivered, or the error and the next try after an exponential backoff. After
`max_attempts` a notification is `failed`: kept and shown, never dropped silently.
Receivers may see a notification twice (after a crash between sending and recording);
its `id` in the payload lets them tell.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from opscentre.db import utcnow
from opscentre.models import Alert, Notification, NotificationState
from opscentre.settings import NotifySettings

log = logging.getLogger(__name__)

LEASE_S = 120.0  # a claimed notification is retried after this if its sender vanished


class DeliveryError(Exception):
    pass


def alert_payload(alert: Alert, event: str, console_url: str = "") -> dict[str, Any]:
    def iso(t: dt.datetime | None) -> str | None:
        return t.isoformat() if t else None

    return {"event": event, "alert": {
        "id": alert.id, "rule": alert.rule, "terminal": alert.terminal_id,
        "subject": alert.subject, "severity": alert.severity, "state": alert.state,
        "message": alert.message, "opened_at": iso(alert.opened_at),
        "closed_at": iso(alert.closed_at), "flaps": alert.flaps},
        "url": f"{console_url.rstrip('/')}/alerts/{alert.id}" if console_url else ""}


def enqueue(session: Session, alert: Alert, event: str, cfg: NotifySettings,
            now: dt.datetime | None = None) -> int:
    """Queue one notification per configured channel for `alert`'s `event`, due `now`."""
    now = now or utcnow()
    payload = alert_payload(alert, event, cfg.console_url)
    targets = [("webhook", url) for url in cfg.webhooks]
    if cfg.email_to:
        targets.append(("email", ",".join(cfg.email_to)))
    rows = [Notification(alert_id=alert.id, channel=channel, target=target[:512],
                         payload=payload, next_try=now, created_at=now)
            for channel, target in targets]
    session.add_all(rows)
    return len(rows)


# -- channels -------------------------------------------------------------------------------
def send_webhook(target: str, payload: dict[str, Any], cfg: NotifySettings) -> None:
    try:
        r = requests.post(target, json=payload, timeout=cfg.timeout_s,
                          allow_redirects=False,
                          headers={"User-Agent": "kiosk-ops", "Idempotency-Key":
                                   f"notification-{payload.get('id', '')}"})
    except requests.RequestException as exc:
        raise DeliveryError(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    if not 200 <= r.status_code < 300:
        raise DeliveryError(f"HTTP {r.status_code}")


def subject_of(payload: dict[str, Any]) -> str:
    a = payload.get("alert", {})
    word = {"opened": "ALERT", "closed": "RESOLVED"}.get(payload.get("event", ""), "NOTE")
    subject = f" {a.get('subject')}" if a.get("subject") else ""
    return f"[kiosk-ops] {word} {a.get('severity', '')} {a.get('rule')} " \
           f"{a.get('terminal')}{subject}"


def send_email(target: str, payload: dict[str, Any], cfg: NotifySettings) -> None:
    a = payload.get("alert", {})
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = cfg.smtp_from, target, subject_of(payload)
    msg["Message-ID"] = f"<kiosk-ops-notification-{payload.get('id', '')}@kiosk-ops>"
    lines = [f"{k}: {a.get(k)}" for k in ("terminal", "rule", "subject", "severity", "state",
                                          "message", "opened_at", "closed_at")]
    if payload.get("url"):
        lines.append(f"console: {payload['url']}")
    msg.set_content("\n".join(lines) + "\n")
    try:
        smtp_cls = smtplib.SMTP_SSL if cfg.smtp_security == "tls" else smtplib.SMTP
        with smtp_cls(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout_s) as smtp:
            if cfg.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if cfg.smtp_user:
                smtp.login(cfg.smtp_user, cfg.smtp_password())
            refused = smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    if refused:
        raise DeliveryError(f"refused recipients: {', '.join(sorted(refused))[:200]}")


Sender = Callable[[str, dict[str, Any], NotifySettings], None]
CHANNELS: dict[str, Sender] = {"webhook": send_webhook, "email": send_email}


# -- the sender loop ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    target: str
    payload: dict[str, Any]
    attempts: int


def backoff_s(attempts: int, cfg: NotifySettings) -> float:
    return float(min(cfg.backoff_s * 2 ** max(0, attempts - 1), cfg.backoff_max_s))


class Notifier:
    def __init__(self, sessions: sessionmaker[Session], cfg: NotifySettings,
                 channels: dict[str, Sender] | None = None) -> None:
        self.sessions = sessions
        self.cfg = cfg
        self.channels = channels or CHANNELS
        self.delivered = 0
        self.failed = 0

    def claim(self, now: dt.datetime, limit: int = 20) -> list[Claimed]:
        with self.sessions.begin() as s:
            q = (select(Notification)
                 .where(Notification.state == NotificationState.PENDING.value,
                        Notification.next_try <= now)
                 .order_by(Notification.next_try).limit(limit))
            if s.get_bind().dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            rows = s.scalars(q).all()
            for n in rows:
                n.next_try = now + dt.timedelta(seconds=LEASE_S)
            return [Claimed(n.id, n.channel, n.target, {**n.payload, "id": n.id}, n.attempts)
                    for n in rows]

    def run_once(self, now: dt.datetime | None = None) -> int:
        """Send what is due; returns how many were tried."""
        now = now or utcnow()
        claimed = self.claim(now)
        for c in claimed:
            self._record(c, self._send(c), now)
        return len(claimed)

    def _send(self, c: Claimed) -> str:
        send = self.channels.get(c.channel)
        if send is None:
            return f"unknown channel {c.channel}"
        try:
            send(c.target, c.payload, self.cfg)
        except DeliveryError as exc:
            return str(exc) or "failed"
        except Exception as exc:  # any sender fault is one failed attempt
            log.exception("notification %s: sender failed", c.id)
            return f"{type(exc).__name__}"
        return ""

    def _record(self, c: Claimed, error: str, now: dt.datetime) -> None:
        with self.sessions.begin() as s:
            n = s.get(Notification, c.id)
            if n is None:
                return
            n.attempts = c.attempts + 1
            if not error:
                n.state, n.delivered_at, n.last_error = \
                    NotificationState.DELIVERED.value, now, ""
                self.delivered += 1
                return
            n.last_error = error[:1000]
            if n.attempts >= self.cfg.max_attempts:
                n.state = NotificationState.FAILED.value
                self.failed += 1
                log.error("notification %s (%s to %s) failed for good after %d attempts: %s",
                          c.id, c.channel, c.target[:80], n.attempts, error)
            else:
                n.next_try = now + dt.timedelta(seconds=backoff_s(n.attempts, self.cfg))
                log.warning("notification %s (%s) attempt %d failed: %s; next try in %.0f s",
                            c.id, c.channel, n.attempts, error,
                            backoff_s(n.attempts, self.cfg))

    def loop(self, stop: threading.Event, every_s: float = 1.0) -> None:
        while not stop.is_set():
            try:
                while self.run_once() and not stop.is_set():
                    pass
            except DBAPIError as exc:
                log.warning("notifier: database unavailable (%s)", type(exc).__name__)
            stop.wait(every_s)
