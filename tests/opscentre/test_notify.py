"""Notifications to a real HTTP receiver and a real SMTP server (aiosmtpd) on loopback:
delivered, retried with backoff from the database (a new notifier after a restart picks
them up), failed visibly after the last attempt, never lost."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from opscentre.alerts import AlertEngine
from opscentre.models import Notification, Terminal
from opscentre.notify import LEASE_S, Notifier, backoff_s
from opscentre.settings import AlertRules, NotifySettings

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


class Receiver(BaseHTTPRequestHandler):
    """A webhook peer: answers with the next status in `plan` (then 204), keeps bodies."""

    plan: ClassVar[list[int]] = []
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status = self.plan.pop(0) if self.plan else 204
        if status < 300:
            self.bodies.append(json.loads(body))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    Receiver.plan, Receiver.bodies = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, Mailbox]]:
    box = Mailbox()
    # port 0 will not do: aiosmtpd connects to its own port to see that it is up
    c = Controller(box, hostname="127.0.0.1", port=free_port())
    c.start()
    yield c, box
    c.stop()


def open_alert(sessions: Any, cfg: NotifySettings) -> None:
    with sessions.begin() as s:
        s.add(Terminal(id="DG-0042", online=True, state_at=T0, faults=["receipt"]))
    with sessions.begin() as s:
        AlertEngine(AlertRules(hold_s={"device_fault": 0}), cfg).evaluate(s, now=T0)


def rows(sessions: Any) -> list[Notification]:
    with sessions() as s:
        return list(s.scalars(select(Notification).order_by(Notification.id)))


def test_webhook_and_mail_are_delivered(centre_db, webhook: str, smtp) -> None:  # type: ignore[no-untyped-def]
    _, sessions = centre_db
    controller, box = smtp
    cfg = NotifySettings(webhooks=(webhook,), email_to=("ops@example.org", "duty@example.org"),
                         smtp_host="127.0.0.1", smtp_port=controller.port,
                         console_url="http://console.example")
    open_alert(sessions, cfg)
    n = Notifier(sessions, cfg)
    assert n.run_once(T0) == 2
    assert [r.state for r in rows(sessions)] == ["delivered", "delivered"]
    [body] = Receiver.bodies
    assert body["event"] == "opened" and body["alert"]["terminal"] == "DG-0042"
    assert body["alert"]["rule"] == "device_fault" and body["alert"]["subject"] == "receipt"
    assert body["url"].startswith("http://console.example/alerts/")
    assert body["id"] == rows(sessions)[0].id  # receivers can drop a repeat
    [(to, mail)] = box.messages
    assert to == ["ops@example.org", "duty@example.org"]
    assert mail["Subject"] == "[kiosk-ops] ALERT critical device_fault DG-0042 receipt"
    assert "terminal: DG-0042" in mail.get_payload()


def test_a_failing_webhook_is_retried_with_backoff_across_a_restart(  # type: ignore[no-untyped-def]
        centre_db, webhook: str) -> None:
    _, sessions = centre_db
    cfg = NotifySettings(webhooks=(webhook,), backoff_s=10, max_attempts=5)
    open_alert(sessions, cfg)
    Receiver.plan = [500, 503]
    first = Notifier(sessions, cfg)
    assert first.run_once(T0) == 1
    [r] = rows(sessions)
    assert (r.state, r.attempts, r.last_error) == ("pending", 1, "HTTP 500")
    assert r.next_try > T0 + dt.timedelta(seconds=backoff_s(1, cfg) - 1)
    assert first.run_once(T0 + dt.timedelta(seconds=5)) == 0  # not due yet
    # the centre restarts: a new notifier finds the same row in the database
    second = Notifier(sessions, cfg)
    assert second.run_once(T0 + dt.timedelta(seconds=11)) == 1  # HTTP 503
    assert second.run_once(T0 + dt.timedelta(seconds=11 + 19)) == 0  # backoff doubled
    assert second.run_once(T0 + dt.timedelta(seconds=11 + 21)) == 1
    [r] = rows(sessions)
    assert (r.state, r.attempts) == ("delivered", 3) and len(Receiver.bodies) == 1


def test_a_sender_that_vanished_mid_send_is_retried_after_its_lease(  # type: ignore[no-untyped-def]
        centre_db, webhook: str) -> None:
    _, sessions = centre_db
    cfg = NotifySettings(webhooks=(webhook,))
    open_alert(sessions, cfg)
    crashed = Notifier(sessions, cfg)
    assert len(crashed.claim(T0)) == 1  # claimed, then the process died before sending
    later = Notifier(sessions, cfg)
    assert later.run_once(T0 + dt.timedelta(seconds=LEASE_S / 2)) == 0  # another's lease
    assert later.run_once(T0 + dt.timedelta(seconds=LEASE_S + 1)) == 1
    assert rows(sessions)[0].state == "delivered" and len(Receiver.bodies) == 1


def test_after_the_last_attempt_a_notification_is_failed_not_gone(centre_db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = centre_db
    port = free_port()  # nobody listens: every attempt is refused
    cfg = NotifySettings(email_to=("ops@example.org",), smtp_host="127.0.0.1",
                         smtp_port=port, max_attempts=3, backoff_s=1, timeout_s=2)
    open_alert(sessions, cfg)
    n = Notifier(sessions, cfg)
    for minutes in range(5):
        n.run_once(T0 + dt.timedelta(minutes=minutes))
    [r] = rows(sessions)
    assert (r.state, r.attempts) == ("failed", 3)
    assert "ConnectionRefused" in r.last_error
    assert n.failed == 1
