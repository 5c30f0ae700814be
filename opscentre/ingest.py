"""The centre's ingest: fleet topics from the MQTT broker into the database.

- Subscriptions: `health`, `events` and `results` through a shared subscription
  (`$share/<group>/…`), so several `kiosk-ops serve` instances split them; `state` as a
  plain subscription on every instance (state messages are few, applying one twice
  changes nothing, and MQTT 5 never sends retained messages to a shared subscription: a
  centre that starts must still learn who is online now).
- Acknowledgement after commit: paho's manual acks. A message is acknowledged (PUBACK) only
  once the transaction that applied it committed; while the database is down the batch is
  retried with backoff and nothing is acknowledged, so the broker stops sending at the
  receive maximum and keeps the rest. A crash loses nothing the broker delivered.
- A persistent session per instance (`client id` = `opscentre-<instance>`, session expiry
  of a day by default): a killed instance that comes back under the same name is given
  again what it had not acknowledged, and what the broker queued for it meanwhile. (No
  broker-specific redistribution of a dead member's share is relied upon.)
- Bad messages (malformed, oversized, impersonating, personal data) are dropped,
  acknowledged, counted by (topic kind, reason) in `ingest_counters` and logged (a few
  lines per reason and minute, never the payload): they never stop the ingest.
- Offline detection beyond the broker's last will: a terminal silent for `stale_factor`
  times its health interval is marked offline (`stale`), for brokers that lose the will.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from kiosk.fleet import protocol
from kiosk.fleet.link import parse_broker_url
from opscentre.apply import Applier, BatchResult, Message, SamplePolicy, compact
from opscentre.db import from_unix, utcnow
from opscentre.models import Terminal

log = logging.getLogger(__name__)

SHARED_KINDS = ("health", "events", "results")
_ID_BYTES = re.compile(protocol.FULL_ID_NUMBER.pattern.encode())
STATE_KIND = "state"


@dataclass(frozen=True)
class IngestSettings:
    broker: str  # mqtt://host:port or mqtts://host:port
    username: str = ""
    password: str = ""
    ca_file: str = ""
    instance: str = "1"  # the same name after a restart resumes the same broker session
    group: str = "opscentre"
    session_expiry_s: int = 86400
    receive_maximum: int = 1000  # unacknowledged messages the broker may send ahead
    batch_max: int = 500
    batch_wait_s: float = 0.05  # the longest a batch waits to fill
    batch_gap_s: float = 0.005  # a pause this long in the stream ends it sooner
    stale_factor: float = 3.0
    stale_check_s: float = 5.0
    # after (re)connecting, wait this long before calling anyone silent: while the centre
    # itself was cut off, every terminal looked silent
    stale_grace_s: float = 180.0
    compact_every_s: float = 3600.0
    policy: SamplePolicy = field(default_factory=SamplePolicy)


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    mid: int
    qos: int
    at: float  # centre clock
    generation: int  # the connection it came on: acks never cross a reconnect


@dataclass
class IngestStats:
    received: int = 0
    applied: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    dropped: Counter[tuple[str, str]] = field(default_factory=Counter)
    batches: int = 0
    last_batch_at: float = 0.0  # when the last batch was committed (unix time)
    db_errors: int = 0
    paused: bool = False
    connected: bool = False
    stale_marked: int = 0


class Decoder:
    """Topic and payload to a `Message`, or a (kind, reason) to count."""

    @staticmethod
    def decode(r: Received) -> Message | tuple[str, str]:
        where = protocol.parse_topic(r.topic)
        kind = where[1] if where else "other"
        if kind not in protocol.TERMINAL_TO_CENTRE:
            return kind, "bad_topic"
        try:
            env = protocol.decode(r.topic, r.payload)
            if _may_be_private(r.payload):
                protocol.check_private(env.body)
        except protocol.ProtocolError as exc:
            return kind, exc.reason
        return Message(kind, env, from_unix(r.at))


def _may_be_private(payload: bytes) -> bool:
    """Could `check_private` refuse this message? Only if an ID-number-shaped run shows in
    the raw JSON, or an escape (\\u…) could spell one. Walking every body costs more than
    the rest of the ingest together; this regex over the bytes decides for nearly all."""
    return b"\\u" in payload or _ID_BYTES.search(payload) is not None



class DropLog:
    """Logs dropped messages: the first few per reason and minute, then a count."""

    def __init__(self, per_minute: int = 5) -> None:
        self.per_minute = per_minute
        self._window = 0
        self._seen: Counter[tuple[str, str]] = Counter()

    def note(self, kind: str, reason: str, topic: str, size: int) -> None:
        window = int(time.monotonic() // 60)
        if window != self._window:
            suppressed = sum(max(0, n - self.per_minute) for n in self._seen.values())
            if suppressed:
                log.warning("ingest: %d more dropped messages not logged", suppressed)
            self._window, self._seen = window, Counter()
        self._seen[kind, reason] += 1
        if self._seen[kind, reason] <= self.per_minute:
            # the topic names the terminal; the payload is never logged (it may be anything)
            log.warning("ingest: dropped a %s message (%s) on %r, %d bytes",
                        kind, reason, topic[:160], size)


class Ingest:
    """MQTT subscriber + one writer thread that applies batches and then acknowledges."""

    def __init__(self, settings: IngestSettings, sessions: sessionmaker[Session],
                 *, on_batch: Callable[[BatchResult], None] | None = None) -> None:
        self.settings = settings
        self.sessions = sessions
        self.on_batch = on_batch
        self.applier = Applier(settings.policy)
        self.stats = IngestStats()
        self.drops = DropLog()
        self._queue: queue.Queue[Received] = queue.Queue()
        self._generation = 0
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self._last_stale = 0.0
        self._last_compact = time.monotonic()
        self.subscribed = threading.Event()  # set once the broker granted the subscriptions
        self._connected_at = 0.0  # monotonic time of the current connection
        self.address = parse_broker_url(settings.broker)
        self.client = self._make_client()

    # -- MQTT ------------------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        s = self.settings
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"opscentre-{s.instance}",
                        protocol=MQTTProtocolVersion.MQTTv5, manual_ack=True)
        if s.username:
            c.username_pw_set(s.username, s.password)
        if self.address.tls:
            import ssl

            c.tls_set(ca_certs=s.ca_file or None, cert_reqs=ssl.CERT_REQUIRED,
                      tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.reconnect_delay_set(1, 30)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        c.suppress_exceptions = True  # a bug in a callback must not end the network loop
        return c

    def _connect_properties(self) -> Properties:
        p = Properties(PacketTypes.CONNECT)
        p.SessionExpiryInterval = self.settings.session_expiry_s
        p.ReceiveMaximum = self.settings.receive_maximum
        return p

    def _on_connect(self, client: mqtt.Client, _u: Any, _flags: Any, reason: ReasonCode,
                    _props: Any) -> None:
        if reason.is_failure:
            log.error("ingest: broker %s refused the centre: %s", self.address.url, reason)
            return
        self._generation += 1
        self._connected_at = time.monotonic()
        self.stats.connected = True
        subs = [(protocol.share(protocol.subscription(k), self.settings.group), 1)
                for k in SHARED_KINDS]
        subs.append((protocol.subscription(STATE_KIND), 1))
        client.subscribe(subs)
        log.info("ingest: connected to %s as %s", self.address.url, client._client_id.decode())

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, granted: list[ReasonCode],
                      _props: Any) -> None:
        refused = [str(g) for g in granted if g.is_failure]
        if refused:
            log.error("ingest: the broker refused subscriptions: %s (the centre's user needs "
                      "read access to the fleet topics)", ", ".join(refused))
            return
        self.subscribed.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _flags: Any, reason: ReasonCode,
                       _props: Any) -> None:
        self.stats.connected = False
        if not self._stop.is_set():
            log.warning("ingest: lost the broker (%s); reconnecting", reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.stats.received += 1
        self._queue.put(Received(msg.topic, bytes(msg.payload), msg.mid, msg.qos, time.time(),
                                 self._generation))

    def _ack(self, batch: list[Received]) -> None:
        for r in batch:
            # A message from an earlier connection is sent again by the broker (with the
            # same packet id) after the reconnect; acking the old copy could ack another.
            if r.qos > 0 and r.generation == self._generation:
                self.client.ack(r.mid, r.qos)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Ingest:
        a = self.address
        self.client.connect_async(a.host, a.port, keepalive=30, clean_start=False,
                                  properties=self._connect_properties())
        self.client.loop_start()
        self._writer = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._writer.start()
        return self

    def wait_ready(self, timeout_s: float = 15.0) -> bool:
        return self.subscribed.wait(timeout_s)

    def stop(self, timeout_s: float = 10.0, *, leave: bool = False) -> None:
        """Apply and acknowledge what is queued, then disconnect. The broker keeps this
        instance's session (and queues its share) for when it comes back, unless `leave`:
        an instance retired for good ends its session, so its share goes to the others."""
        self._stop.set()
        if self._writer is not None:
            self._writer.join(timeout_s)
        props = None
        if leave:
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0
        self.client.disconnect(properties=props)
        self.client.loop_stop()

    # -- writer ---------------------------------------------------------------------------------
    def _take(self) -> list[Received]:
        s = self.settings
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + s.batch_wait_s
        # Collect while messages keep coming (a gap of batch_gap_s ends the batch): the
        # broker sends at most its in-flight window before our acks, so waiting for a
        # fuller batch would only stall the pipe.
        while len(batch) < s.batch_max:
            left = min(deadline - time.monotonic(), s.batch_gap_s)
            try:
                batch.append(self._queue.get(timeout=left) if left > 0
                             else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch:
                self._apply_until_done(batch)
            elif self._stop.is_set():
                return
            self._housekeeping()

    def _apply_until_done(self, batch: list[Received]) -> None:
        messages: list[Message] = []
        dropped: Counter[tuple[str, str]] = Counter()
        for r in batch:
            out = Decoder.decode(r)
            if isinstance(out, Message):
                messages.append(out)
            else:
                dropped[out] += 1
                self.drops.note(out[0], out[1], r.topic, len(r.payload))
        delay, races = 0.2, 0
        while True:
            try:
                result = self._apply(messages, dropped)
                break
            except (OperationalError, InterfaceError) as exc:  # the database is away
                self._paused(exc)
            except DBAPIError as exc:
                self.applier.forget()
                if isinstance(exc, IntegrityError) and races < 3:
                    races += 1  # another instance inserted the same row first: again
                    continue
                # a message the database refuses: apply them one by one, drop that one
                result = self._apply_singly(messages, dropped, exc)
                break
            if self._stop.wait(delay):
                return  # stopping with the database down: the broker keeps the batch
            delay = min(delay * 2, 10.0)
        if self.stats.paused:
            log.warning("ingest: database back; resuming")
            self.stats.paused = False
        self._ack(batch)
        self.stats.last_batch_at = time.time()
        self.stats.batches += 1
        self.stats.dropped.update(dropped)
        self.stats.applied.update(result.applied)
        self.stats.ignored.update(result.ignored)
        if self.on_batch is not None:
            try:
                self.on_batch(result)
            except Exception:
                log.exception("ingest: batch listener failed")

    def _paused(self, exc: Exception) -> None:
        self.applier.forget()
        self.stats.db_errors += 1
        if not self.stats.paused:
            log.error("ingest: database unavailable (%s); pausing, nothing is acknowledged",
                      type(exc.__cause__ or exc).__name__)
            self.stats.paused = True

    def _apply(self, messages: list[Message], dropped: Counter[tuple[str, str]]) -> BatchResult:
        with self.sessions.begin() as session:
            return self.applier.apply(session, messages, dropped)

    def _apply_singly(self, messages: list[Message], dropped: Counter[tuple[str, str]],
                      first: Exception) -> BatchResult:
        """Find the message(s) the database refuses; apply the rest, count those dropped."""
        log.warning("ingest: a batch was refused (%s); applying its messages one by one",
                    type(first.__cause__ or first).__name__)
        self.applier.forget()
        total = BatchResult()
        self._apply([], dropped)  # may raise OperationalError: the caller retries all
        for m in messages:
            try:
                r = self._apply([m], Counter())
            except (OperationalError, InterfaceError):
                raise
            except DBAPIError as exc:
                self.applier.forget()
                log.warning("ingest: dropped a %s message of %s the database refused (%s)",
                            m.kind, m.env.terminal, type(exc.__cause__ or exc).__name__)
                self._apply([], Counter({(m.kind, "refused"): 1}))
                dropped[m.kind, "refused"] += 1
                continue
            total.applied.update(r.applied)
            total.ignored.update(r.ignored)
            total.changed |= r.changed
        return total

    # -- periodic ----------------------------------------------------------------------------------
    def _housekeeping(self) -> None:
        now = time.monotonic()
        listening = self.stats.connected and \
            now - self._connected_at >= self.settings.stale_grace_s
        if listening and now - self._last_stale >= self.settings.stale_check_s:
            self._last_stale = now
            try:
                self.stats.stale_marked += mark_stale(self.sessions, self.settings.stale_factor)
            except (OperationalError, InterfaceError) as exc:
                self._paused(exc)
        if now - self._last_compact >= self.settings.compact_every_s:
            self._last_compact = now
            try:
                with self.sessions.begin() as s:
                    n = compact(s, self.settings.policy)
                log.info("ingest: rolled up %d health samples", n)
            except DBAPIError as exc:
                log.warning("ingest: health roll-up failed (%s); next time",
                            type(exc.__cause__ or exc).__name__)


def mark_stale(sessions: sessionmaker[Session], factor: float,
               now: dt.datetime | None = None) -> int:
    """Mark offline (`stale`) every online terminal silent for `factor` health intervals."""
    now = now or utcnow()
    with sessions.begin() as s:
        rows = s.execute(select(Terminal.id, Terminal.last_seen, Terminal.health_interval_s)
                         .where(Terminal.online.is_(True))).all()
        stale = [r.id for r in rows if r.last_seen is not None
                 and (now - r.last_seen).total_seconds() > factor * (r.health_interval_s or 60)]
        if stale:
            s.execute(update(Terminal).where(Terminal.id.in_(stale),
                                             Terminal.online.is_(True))
                      .values(online=False, offline_reason="stale", state_at=now))
            log.info("ingest: %d terminal(s) silent too long, marked offline", len(stale))
    return len(stale)
