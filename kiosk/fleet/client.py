"""The terminal's fleet client: health now, events never lost, on its own threads.

- Health (`publish_health`) goes out at once when the link is up (QoS 1) and is skipped
  while it is down: the next snapshot says everything the missed one would have.
- Events (`report_event`: fault, warning, recovered, …) go into a durable outbox of their
  own (`fleet-outbox.db` beside the platform's outbox, its own data key, stream
  `events`) and are published from there by the replay worker with QoS 1; an item leaves
  the outbox only once the broker's PUBACK for it arrived and did not refuse it
  (`MqttDeliverer`). The envelope id is the outbox key, so a resend after a lost PUBACK
  carries the same id and the centre applies it once.
- The link and the replay run on their own threads; nothing here ever waits on the
  network in a caller's thread (enqueue is a local SQLite write), so the kiosk serves
  citizens the same with the broker down.

The fleet outbox is separate from the platform's on purpose: the platform's replay
worker delivers every stream of its database to the platform, and one flock serialises
passes per database, so fleet events there would reach the wrong peer or wait on it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.fleet import protocol
from kiosk.fleet.link import FleetLink, LinkDriver, LinkSettings, parse_broker_url
from offline_cache.crypto import DataKeyFile
from offline_cache.db import StorageError
from offline_cache.outbox import Item, Outbox, OutboxPolicy
from offline_cache.replay import (
    Backoff,
    ItemResult,
    Outcome,
    ReplayWorker,
    TransientError,
)

log = logging.getLogger(__name__)

FLEET_OUTBOX_FILE = "fleet-outbox.db"
FLEET_OUTBOX_KEY_FILE = "fleet-outbox.key"
EVENTS_STREAM = "events"
# Events are small; a week of a flapping device fits many times over. Nothing here is
# telemetry that may be evicted: at the bound a new event is refused (and logged).
FLEET_POLICY = OutboxPolicy(max_items=20_000, max_bytes=32 * 1024 * 1024,
                            telemetry_streams=frozenset())


class FleetConfigError(ValueError):
    """The fleet channel is configured but cannot be used (key for the technician)."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(f"{key}: {detail}")
        self.key, self.detail = key, detail


def stream_kind(stream: str) -> str:
    """`events` or `events:<terminal>` (the simulator's shared outbox) -> `events`."""
    return stream.partition(":")[0]


class MqttDeliverer:
    """The replay worker's deliverer over MQTT: an item counts as delivered only after
    `wait_for_publish` saw its PUBACK, and only if the PUBACK did not refuse it."""

    def __init__(self, link_for: Callable[[str], FleetLink | None], *,
                 ack_timeout_s: float = 10.0) -> None:
        self.link_for = link_for
        self.ack_timeout_s = ack_timeout_s

    def deliver(self, items: Sequence[Item]) -> list[ItemResult]:
        stream = items[0].stream
        link = self.link_for(stream)
        kind = stream_kind(stream)
        if link is None or kind not in protocol.TERMINAL_TO_CENTRE:
            return [ItemResult(items[0].key, Outcome.REJECTED, 0,
                               f"no fleet link for stream {stream!r}")]
        if not link.connected:
            raise TransientError(f"broker not connected ({link.last_problem or 'connecting'})")
        sent = []
        for it in items:
            data = json.dumps(it.payload, ensure_ascii=False, separators=(",", ":")).encode()
            info = link.publish(kind, data)
            if info is None:
                break
            sent.append((it, info))
        results: list[ItemResult] = []
        for it, info in sent:
            try:
                info.wait_for_publish(self.ack_timeout_s)
            except (RuntimeError, ValueError):  # the link dropped it (connection lost)
                break
            if not info.is_published():
                break  # no PUBACK in time: it and what follows are sent again later
            refused = link.refusal(info)
            if refused:
                log.error("fleet: broker refused event %s: %s", it.key, refused)
                results.append(ItemResult(it.key, Outcome.REJECTED, 0, f"broker: {refused}"))
            else:
                results.append(ItemResult(it.key, Outcome.DELIVERED))
        if not results:
            raise TransientError("no PUBACK from the broker")
        return results


@dataclass(frozen=True)
class FleetSettings:
    terminal: str
    link: LinkSettings
    ack_timeout_s: float = 10.0
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    reconnect_spread_s: float = 5.0


def read_password(password_file: str, password_env: str,
                  environ: Any = None) -> str:
    """The terminal's broker password: from its file (first line) or its variable."""
    env = os.environ if environ is None else environ
    if password_file:
        path = Path(os.path.expanduser(password_file))
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise FleetConfigError("fleet.password_unreadable",
                                   f"{path}: {exc.strerror or exc}") from None
        if not text:
            raise FleetConfigError("fleet.password_missing", f"{path} is empty")
        return text.splitlines()[0]
    value = env.get(password_env, "") if password_env else ""
    if not value:
        raise FleetConfigError("fleet.password_missing",
                               f"set ${password_env} or fleet.password_file")
    return str(value)


def settings_from_config(config: Any, environ: Any = None) -> FleetSettings | None:
    """The fleet settings of a kiosk Config; None when no broker is configured."""
    f = config.fleet
    if not f.broker_url:
        return None
    try:
        address = parse_broker_url(f.broker_url)
    except ValueError as exc:
        raise FleetConfigError("fleet.bad_url", str(exc)) from None
    password = read_password(f.password_file, f.password_env, environ)
    link = LinkSettings(address, password, ca_file=os.path.expanduser(f.ca_file),
                        keepalive_s=f.keepalive_s, connect_timeout_s=f.connect_timeout_s)
    return FleetSettings(config.terminal.id, link, ack_timeout_s=f.ack_timeout_s,
                         reconnect_min_s=f.reconnect_min_s, reconnect_max_s=f.reconnect_max_s,
                         reconnect_spread_s=f.reconnect_spread_s)


def open_fleet_outbox(data_dir: Path) -> Outbox:
    data_dir.mkdir(parents=True, exist_ok=True)
    return Outbox(data_dir / FLEET_OUTBOX_FILE, DataKeyFile(data_dir / FLEET_OUTBOX_KEY_FILE),
                  FLEET_POLICY)


class FleetClient:
    """One terminal's fleet channel: a link, its driver, the events outbox and replay."""

    def __init__(self, settings: FleetSettings, outbox: Outbox | None, *,
                 online_body: Callable[[], dict[str, Any]] | None = None,
                 driver: LinkDriver | None = None, stream: str = EVENTS_STREAM,
                 worker: ReplayWorker | None = None) -> None:
        self.settings = settings
        self.terminal = settings.terminal
        self.link = FleetLink(settings.terminal, settings.link, online_body=online_body)
        self._own_driver = driver is None
        self.driver = driver or LinkDriver(
            f"fleet-link-{settings.terminal}",
            backoff=Backoff(settings.reconnect_min_s, settings.reconnect_max_s))
        self.outbox = outbox
        self.stream = stream
        self.health_sent = 0
        self.health_skipped = 0
        self.events_lost = 0
        self.last_problem = ""
        self._own_worker = worker is None and outbox is not None
        self.worker = worker
        if self.worker is None and outbox is not None:
            self.worker = ReplayWorker(
                outbox, MqttDeliverer(lambda _s: self.link, ack_timeout_s=settings.ack_timeout_s),
                batch_size=50, backoff=Backoff(settings.reconnect_min_s,
                                               settings.reconnect_max_s), idle_poll_s=30.0)
            outbox.on_enqueue(self.worker.wake)
        self.link.subscribe_link(self._on_link)

    @classmethod
    def from_config(cls, config: Any, *, online_body: Callable[[], dict[str, Any]] | None = None,
                    environ: Any = None) -> FleetClient | None:
        """The kiosk's client (None with no broker configured). The outbox is opened here;
        if it cannot be, events are published directly while the link is up (and lost
        while it is down), which the status says."""
        settings = settings_from_config(config, environ)
        if settings is None:
            return None
        try:
            outbox: Outbox | None = open_fleet_outbox(config.data_dir)
        except (StorageError, OSError) as exc:
            log.error("fleet outbox unavailable, events are not kept: %s", exc)
            outbox = None
        return cls(settings, outbox, online_body=online_body)

    # -- link ---------------------------------------------------------------------------
    def _on_link(self, up: bool) -> None:
        if up and self.worker is not None:
            self.worker.reconnected(self.settings.reconnect_spread_s)

    @property
    def connected(self) -> bool:
        return self.link.connected

    def start(self) -> FleetClient:
        self.driver.add(self.link)
        if self._own_driver:
            self.driver.start()
        if self._own_worker and self.worker is not None:
            self.worker.start()
        return self

    def stop(self, *, goodbye: bool = True, timeout_s: float = 3.0) -> None:
        """Say goodbye (retained offline state), then stop the threads."""
        if goodbye and self.link.connected:
            self.link.goodbye(timeout_s)
            self.driver.flush([self.link], timeout_s)
        self.link.closing = True
        if self._own_worker and self.worker is not None:
            self.worker.stop()
        if self._own_driver:
            self.driver.stop()
        if self._own_worker and self.outbox is not None:
            self.outbox.close()

    # -- messages -----------------------------------------------------------------------
    def publish_health(self, body: dict[str, Any]) -> bool:
        """Publish one health snapshot now; False (counted) while the link is down."""
        data = protocol.encode(protocol.Envelope(self.terminal, "health", body))
        if self.link.publish("health", data) is None:
            self.health_skipped += 1
            return False
        self.health_sent += 1
        return True

    def report_event(self, kind: str, body: dict[str, Any]) -> str | None:
        """Queue one event durably (published as soon as the link allows); its id."""
        return self._queue(self.stream, kind, body)

    def report_result(self, body: dict[str, Any]) -> str | None:
        """Queue one command result (`results` topic) durably, in order with the others."""
        return self._queue(self.results_stream, "command_result", body)

    @property
    def results_stream(self) -> str:
        """`results`, or `results:<terminal>` beside the simulator's `events:<terminal>`."""
        _, sep, rest = self.stream.partition(":")
        return f"results{sep}{rest}"

    def on_command(self, handler: Any) -> None:
        """Hand every decoded command envelope to `handler` (on the link's thread)."""
        self.link.on_command = handler

    def _queue(self, stream: str, kind: str, body: dict[str, Any]) -> str | None:
        env = protocol.Envelope(self.terminal, kind, body)
        protocol.encode(env)  # refuses personal data and oversize now, not at delivery
        if self.outbox is None:
            if self.link.publish(stream_kind(stream), protocol.encode(env)) is None:
                self.events_lost += 1
                self.last_problem = "fleet.outbox_unavailable"
                log.error("fleet: event %s lost (no outbox, link down)", env.id)
                return None
            return env.id
        try:
            self.outbox.enqueue(stream, env.to_json(), key=env.id)
        except StorageError as exc:
            self.events_lost += 1
            self.last_problem = exc.key
            log.error("fleet: event %s not kept: %s", env.id, exc)
            return None
        return env.id

    def pending(self) -> int:
        return self.outbox.depth() if self.outbox is not None else 0

    def status(self) -> dict[str, Any]:
        """What the health snapshot tells about the channel itself (no secrets)."""
        lk = self.link
        return {"broker": lk.settings.address.url, "connected": lk.connected,
                "mqtt": "5" if lk.protocol_version == 5 else "3.1.1",
                "connects": lk.connects, "last_problem": lk.last_problem or self.last_problem,
                "events_pending": self.pending(), "events_lost": self.events_lost,
                "health_skipped": self.health_skipped,
                "dropped_commands": dict(lk.dropped)}
