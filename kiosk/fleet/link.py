"""One terminal's MQTT connection to the fleet broker, and the thread that drives links.

`FleetLink` wraps one paho-mqtt 2.x client (callback API version 2):
- it logs in with its own credentials: username = terminal id (the broker's ACL keys the
  terminal's topics to it, `%u`), the password handed in (never from the config file);
- `mqtt://host[:port]` or `mqtts://host[:port]` (TLS; the CA file if given, else the
  system's CAs);
- MQTT 5 first; a broker that refuses protocol 5 (CONNACK "unsupported protocol version",
  which is also how paho reads a 3.1.1 broker's return code 1) gets 3.1.1 from then on;
- a last will on `state` (retained, offline) set for every connection, and a retained
  online `state` as soon as the broker accepts the connection; a goodbye (offline) on a
  clean stop;
- the PUBACK's reason code is kept per message id, so a publish the broker refused
  (MQTT 5 "not authorized", "quota exceeded") is never taken for a delivery;
- messages on its commands topic are decoded by the protocol; anything malformed is
  dropped and counted by reason, never raised into the network loop.

`LinkDriver` is one thread that runs the network side of any number of links over one
selector (`loop_read`/`loop_write`/`loop_misc`), and (re)connects each with exponential
backoff and full jitter, so a fleet that lost its broker does not return in lock-step.
The terminal runs one driver for its one link; the simulator a few drivers for
thousands. Other threads only queue (publish, disconnect): the driver writes, so a
caller never waits on the network.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import math
import random
import selectors
import socket
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from kiosk.fleet import protocol
from offline_cache.replay import Backoff

log = logging.getLogger(__name__)

UNSUPPORTED_PROTOCOL = 0x84  # CONNACK reason: the broker does not speak MQTT 5
MISC_INTERVAL_S = 0.5  # keepalive bookkeeping (PINGREQ, dead-link detection) this often


class BrokerUrlError(ValueError):
    pass


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    """`mqtt://host[:port]` (1883) or `mqtts://host[:port]` (8883); nothing else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BrokerUrlError(f"not a broker URL: {exc}") from None
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise BrokerUrlError("must be mqtt://host[:port] or mqtts://host[:port]")
    if parts.username or parts.password:
        raise BrokerUrlError("must not hold credentials (use password_file or password_env)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BrokerUrlError("must not have a path, query or fragment")
    tls = parts.scheme == "mqtts"
    return BrokerAddress(parts.hostname, port or (8883 if tls else 1883), tls)


@dataclass(frozen=True)
class LinkSettings:
    address: BrokerAddress
    password: str
    ca_file: str = ""
    keepalive_s: int = 30
    connect_timeout_s: float = 5.0
    max_queued: int = 200  # messages paho may hold for a link (health is skipped offline)


class FleetLink:
    """The MQTT session of one terminal (thread-safe to publish from any thread)."""

    def __init__(self, terminal: str, settings: LinkSettings, *,
                 online_body: Callable[[], dict[str, Any]] | None = None,
                 on_command: Callable[[protocol.Envelope], None] | None = None) -> None:
        protocol.topic(terminal, "state")  # refuses an id that cannot be a topic level
        self.terminal = terminal
        self.settings = settings
        self.online_body = online_body or dict
        self.on_command = on_command
        self.protocol_version = 5
        self.driver: LinkDriver | None = None
        self.connected = False
        self.listening = False  # the broker acknowledged the commands subscription
        self.closing = False
        self.attempts = 0  # failed connection attempts since the last success
        self.connects = 0
        self.last_problem = ""
        self.dropped: Counter[str] = Counter()  # malformed commands by reason
        self.commands = 0
        self.session = ""
        self.hold_until = 0.0  # monotonic time before which no reconnect is tried (cut())
        self._refused: dict[int, str] = {}  # mid -> PUBACK failure reason
        self._listeners: list[Callable[[bool], None]] = []
        self._lock = threading.Lock()
        self.client = self._make_client()

    # -- paho client ---------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        v5 = self.protocol_version == 5
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.terminal,
                        protocol=MQTTProtocolVersion.MQTTv5 if v5
                        else MQTTProtocolVersion.MQTTv311,
                        clean_session=None if v5 else True, reconnect_on_failure=False)
        c.username_pw_set(self.terminal, self.settings.password)
        if self.settings.address.tls:
            c.tls_set(ca_certs=self.settings.ca_file or None,
                      cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.connect_timeout = self.settings.connect_timeout_s
        c.max_queued_messages_set(self.settings.max_queued)
        c.suppress_exceptions = True  # a fault in a callback must not stop the loop
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        c.on_socket_open = self._on_socket
        c.on_socket_close = self._on_socket_close
        c.on_socket_register_write = self._on_socket
        c.on_socket_unregister_write = self._on_socket
        self._refused.clear()
        self._client_version = self.protocol_version
        return c

    def _on_socket(self, _c: mqtt.Client, _u: Any, _sock: Any) -> None:
        if self.driver is not None:
            self.driver.touch(self)

    def _on_socket_close(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        # Called while the socket is still open: forget it before its number is reused.
        if self.driver is not None:
            self.driver.forget(self, sock)

    def subscribe_link(self, listener: Callable[[bool], None]) -> None:
        """Call `listener(True/False)` when the link comes up or goes down."""
        self._listeners.append(listener)

    def _notify(self, up: bool) -> None:
        for cb in list(self._listeners):
            try:
                cb(up)
            except Exception:  # a listener must not break the link
                log.exception("fleet link listener failed")

    # -- connecting (driver thread) ------------------------------------------------------
    def state_envelope(self, online: bool, reason: str) -> protocol.Envelope:
        body = {"online": online, "reason": reason, "session": self.session,
                **({} if not online else self.online_body())}
        return protocol.Envelope(self.terminal, "state", body)

    def connect(self) -> None:
        """Open a connection (blocking TCP/TLS connect, bounded by connect_timeout_s)."""
        if self.client.socket() is not None:
            return
        self.session = uuid.uuid4().hex[:12]
        will = protocol.encode(self.state_envelope(False, "lost"))
        self.client.will_set(protocol.topic(self.terminal, "state"), will, qos=1, retain=True)
        a = self.settings.address
        if self.protocol_version == 5:
            self.client.connect(a.host, a.port, self.settings.keepalive_s, clean_start=True)
        else:
            self.client.connect(a.host, a.port, self.settings.keepalive_s)

    def _on_connect(self, client: mqtt.Client, _u: Any, _flags: Any, reason: ReasonCode,
                    _props: Any) -> None:
        if reason.is_failure:
            self.last_problem = f"refused: {reason}"
            if reason.value == UNSUPPORTED_PROTOCOL and self.protocol_version == 5:
                log.warning("fleet broker %s does not speak MQTT 5; using 3.1.1",
                            self.settings.address.url)
                self.protocol_version = 4
                self.attempts = -1  # the retry with 3.1.1 goes at once
            else:
                log.warning("fleet broker refused %s: %s", self.terminal, reason)
            return
        self.connected = True
        self.attempts = 0
        self.connects += 1
        self.last_problem = ""
        online = protocol.encode(self.state_envelope(True, "connected"))
        client.publish(protocol.topic(self.terminal, "state"), online, qos=1, retain=True)
        client.subscribe(protocol.topic(self.terminal, "commands"), qos=1)
        log.info("fleet link up: %s as %s (MQTT %s)", self.settings.address.url,
                 self.terminal, "5" if self.protocol_version == 5 else "3.1.1")
        self._notify(True)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, codes: list[ReasonCode],
                      _props: Any) -> None:
        self.listening = bool(codes) and not any(c.is_failure for c in codes)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _flags: Any, reason: ReasonCode,
                       _props: Any) -> None:
        was = self.connected
        self.connected = False
        self.listening = False
        if not self.closing and reason.is_failure and not self.last_problem.startswith("refused"):
            self.last_problem = f"lost: {reason}"
        if self.protocol_version != self._client_version:
            self.client = self._make_client()  # the fallback needs a client of 3.1.1
        if was:  # a goodbye's own disconnect is no news
            (log.info if self.closing else log.warning)("fleet link down: %s (%s)",
                                                        self.terminal, reason)
            self._notify(False)
        if self.driver is not None and not self.closing:
            self.driver.schedule(self)

    # -- publishing ----------------------------------------------------------------------
    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: ReasonCode,
                    _props: Any) -> None:
        # Set before paho marks the message published, so a waiter always sees it.
        if reason.is_failure:
            self._refused[mid] = str(reason)
        else:
            self._refused.pop(mid, None)

    def publish(self, kind: str, payload: bytes) -> mqtt.MQTTMessageInfo | None:
        """Queue one message on this terminal's `kind` topic; None when not connected."""
        if not self.connected:
            return None
        info = self.client.publish(protocol.topic(self.terminal, kind), payload,
                                   qos=protocol.QOS[kind], retain=protocol.RETAIN[kind])
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return None
        return info

    def refusal(self, info: mqtt.MQTTMessageInfo) -> str:
        """Why the broker refused a published message ("" if it accepted it)."""
        return self._refused.pop(info.mid, "")

    # -- commands (issue 16 acts on them; here they are checked and counted) -----------
    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            env = protocol.decode(msg.topic, bytes(msg.payload))
            if env.terminal != self.terminal:
                raise protocol.ProtocolError("bad_topic", msg.topic[:200])
        except protocol.ProtocolError as exc:
            self.dropped[exc.reason] += 1
            log.warning("fleet: dropped a message on %s: %s", msg.topic[:200], exc.reason)
            return
        self.commands += 1
        if self.on_command is not None:
            try:
                self.on_command(env)
            except Exception:  # a command handler's fault must not stop the link
                log.exception("fleet command handler failed")

    def cut(self, hold_s: float | None) -> None:
        """Cut the network under this link, as a pulled cable does (the simulator): the
        broker sees the connection die and publishes the will; no reconnect for `hold_s`
        seconds (None: never, a terminal that died)."""
        self.hold_until = math.inf if hold_s is None else time.monotonic() + hold_s
        sock = self.client.socket()
        if isinstance(sock, socket.socket):  # TLS sockets too
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self.driver is not None:
            self.driver.wake()

    # -- stopping --------------------------------------------------------------------------
    def goodbye(self, timeout_s: float = 2.0) -> bool:
        """Publish the retained offline state (a clean stop sends no will), then disconnect."""
        self.closing = True
        sent = False
        info = self.publish("state", protocol.encode(self.state_envelope(False, "stopped")))
        if info is not None:
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout_s)
            sent = info.is_published()
        self.client.disconnect()
        return sent


class LinkDriver:
    """One thread running the network side of many links (selector, jittered reconnects)."""

    def __init__(self, name: str = "fleet-link", *, backoff: Backoff | None = None,
                 rng: random.Random | None = None) -> None:
        self.name = name
        self.backoff = backoff or Backoff(1.0, 60.0)
        self.rng = rng or random.Random()
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._links: dict[int, FleetLink] = {}
        self._registered: dict[int, tuple[Any, int]] = {}  # id(link) -> (sock, events)
        self._dirty: set[int] = set()
        self._due: list[tuple[float, int, int]] = []  # (when, seq, id(link))
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- from any thread -------------------------------------------------------------------
    def add(self, link: FleetLink, delay_s: float = 0.0) -> None:
        link.driver = self
        with self._lock:
            self._links[id(link)] = link
            heapq.heappush(self._due, (time.monotonic() + delay_s, next(self._seq), id(link)))
        self.wake()

    def schedule(self, link: FleetLink) -> None:
        """Try `link` again after its backoff (immediately after a protocol fallback)."""
        link.attempts += 1
        delay = 0.0 if link.attempts <= 0 else self.backoff.delay(link.attempts, self.rng)
        with self._lock:
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._seq), id(link)))
        self.touch(link)

    def touch(self, link: FleetLink) -> None:
        with self._lock:
            self._dirty.add(id(link))
        if threading.current_thread() is not self._thread:
            self.wake()

    def forget(self, link: FleetLink, sock: Any) -> None:
        """Stop watching a socket that is about to close (on the driver thread at once)."""
        if threading.current_thread() is not self._thread:
            self.touch(link)
            return
        old = self._registered.get(id(link))
        if old is not None and old[0] is sock:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._sel.unregister(sock)
            del self._registered[id(link)]
        self._dirty.add(id(link))

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\0")

    def start(self) -> LinkDriver:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        for link in list(self._links.values()):
            link.closing = True
            with contextlib.suppress(Exception):
                link.client.disconnect()
            with contextlib.suppress(Exception):
                link.client._sock_close()  # paho has no public close
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()

    def flush(self, links: list[FleetLink], timeout_s: float = 2.0) -> None:
        """Wait (bounded) until these links' queued packets are written or they closed."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(lk.client.socket() is None or not lk.client.want_write() for lk in links):
                return
            self.wake()
            time.sleep(0.01)

    # -- driver thread -----------------------------------------------------------------------
    def _run(self) -> None:
        next_misc = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                self._connect_due(now)
                self._sync()
                timeout = min(MISC_INTERVAL_S, max(0.0, next_misc - now), self._next_due(now))
                events = self._sel.select(timeout)
                for key, mask in events:
                    if key.data is None:
                        with contextlib.suppress(BlockingIOError, OSError):
                            self._wake_r.recv(4096)
                        continue
                    self._service(key.data, mask)
                if time.monotonic() >= next_misc:
                    next_misc = time.monotonic() + MISC_INTERVAL_S
                    for link in list(self._links.values()):
                        if link.client.socket() is not None:
                            link.client.loop_misc()
            except Exception:  # the fleet channel must outlive any one bad round
                log.exception("fleet link driver round failed")
                time.sleep(0.1)

    def _next_due(self, now: float) -> float:
        with self._lock:
            return max(0.0, self._due[0][0] - now) if self._due else MISC_INTERVAL_S

    def _connect_due(self, now: float) -> None:
        while True:
            with self._lock:
                if not self._due or self._due[0][0] > now:
                    return
                _, _, lid = heapq.heappop(self._due)
                link = self._links.get(lid)
            if link is None or link.closing or link.client.socket() is not None:
                continue
            if link.hold_until > now:  # a cut link stays down for its time
                if math.isfinite(link.hold_until):
                    with self._lock:
                        heapq.heappush(self._due, (link.hold_until, next(self._seq), lid))
                continue
            try:
                link.connect()
            except (OSError, ssl.SSLError, ValueError) as exc:
                link.last_problem = f"connect: {type(exc).__name__}: {exc}"[:300]
                log.info("fleet: %s cannot reach %s: %s", link.terminal,
                         link.settings.address.url, exc)
                with contextlib.suppress(Exception):
                    link.client._sock_close()  # a half-open TLS socket
                self.schedule(link)
            self._dirty.add(id(link))

    def _sync(self) -> None:
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        for lid in dirty:
            link = self._links.get(lid)
            sock = link.client.socket() if link is not None else None
            want = 0
            if sock is not None:
                want = selectors.EVENT_READ | (selectors.EVENT_WRITE
                                               if link is not None and link.client.want_write()
                                               else 0)
            old = self._registered.get(lid)
            if old is not None and (old[0] is not sock or old[1] != want):
                with contextlib.suppress(KeyError, ValueError, OSError):
                    self._sel.unregister(old[0])
                del self._registered[lid]
                old = None
            if old is None and sock is not None and want:
                self._register(lid, sock, want, link)

    def _register(self, lid: int, sock: Any, want: int, link: FleetLink | None) -> None:
        try:
            self._sel.register(sock, want, link)
        except KeyError:  # a closed socket of the same number is still on record
            stale = self._sel.get_map().get(sock.fileno())
            if stale is not None:
                self._sel.unregister(stale.fileobj)
                self._registered = {k: v for k, v in self._registered.items()
                                    if v[0] is not stale.fileobj}
            self._sel.register(sock, want, link)
        except (ValueError, OSError):
            log.warning("fleet: a link's socket could not be watched")
            return
        self._registered[lid] = (sock, want)

    def _service(self, link: FleetLink, mask: int) -> None:
        c = link.client
        if mask & selectors.EVENT_READ and c.socket() is not None:
            c.loop_read()
            sock = c.socket()
            # TLS may hold decrypted bytes that the selector cannot see
            while sock is not None and getattr(sock, "pending", lambda: 0)() > 0:
                c.loop_read()
                sock = c.socket()
        if mask & selectors.EVENT_WRITE and c.socket() is not None:
            c.loop_write()
        self._dirty.add(id(link))
