"""The runtime's offline side: outbox, read cache, replay worker and network monitor.

Qt-free. `Runtime` owns one `OfflineServices`; the app starts it after the backend
client exists (threads, never on the UI thread's time), the UI subscribes to link
changes, flows record through `record()`.

If the outbox cannot be opened (disk full, unwritable folder, its data key file gone)
the terminal still starts: `error` says why (`error_detail` in full, for the
technician), citizen submissions are refused with that key, telemetry is dropped, and
every later `record()` tries to open the outbox again.

The outbox is sealed with its own data key (`outbox.key` beside `outbox.db`), not with
the terminal's signing secret, so rotating the secret loses nothing. The secret is still
asked for once per open, only to take over items that earlier builds sealed with a key
derived from it; `old_secrets` (the technician's `retry-dead --old-secret-file`) does
the same for items of a secret that was rotated before this build.

Platforms (issue 17): each other platform a flow may name has its own link state (its
own monitor probing its health, fed by its deliveries) and its own outbox streams,
`<stream>@<platform>` (`evaluation@gz`), delivered by that platform's connector. Streams
are independent in the replay worker, so one platform down holds none of another's
records; an item whose platform has no connector waits (only a positive
acknowledgement ends an item's life).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from kiosk.config import Config
from kiosk.network import LinkState, NetworkMonitor
from offline_cache.crypto import DataKeyFile, PayloadKey
from offline_cache.db import StorageError
from offline_cache.outbox import Item, Outbox, OutboxFull, OutboxPolicy, StreamClass
from offline_cache.readcache import Cached, ReadCache
from offline_cache.replay import Backoff, HttpDeliverer, ItemResult, ReplayWorker, TransientError

log = logging.getLogger(__name__)

OUTBOX_FILE = "outbox.db"
OUTBOX_KEY_FILE = "outbox.key"  # the outbox's data key (0600); back it up with the data
READCACHE_FILE = "readcache.db"
EMBEDDED_SECRET_FILE = "embedded-terminal.secret"


def platform_stream(stream: str, platform: str) -> str:
    """The outbox stream of `stream` records bound for `platform` ("" = the terminal's)."""
    return f"{stream}@{platform}" if platform else stream


def split_stream(stream: str) -> tuple[str, str]:
    """(stream as the platform knows it, platform id) of an outbox stream."""
    base, _, platform = stream.partition("@")
    return base, platform


class RoutedDeliverer:
    """Deliver each stream with its platform's deliverer; the platform sees its own stream
    name (`evaluation`, not `evaluation@gz`). A platform with no connector yet (its
    embedded server still starting, or not configured) is a transient failure: the items
    wait, they are never dropped."""

    def __init__(self) -> None:
        self.by_platform: dict[str, HttpDeliverer] = {}

    def deliver(self, items: Sequence[Item]) -> list[ItemResult]:
        base, platform = split_stream(items[0].stream)
        deliverer = self.by_platform.get(platform)
        if deliverer is None:
            raise TransientError(f"no connector for platform {platform!r}")
        return deliverer.deliver([replace(it, stream=base) for it in items])


def policy_from(config: Config) -> OutboxPolicy:
    o = config.offline
    return OutboxPolicy(max_items=o.max_items, max_bytes=int(o.max_mb * 1024 * 1024),
                        high_water=o.high_water, min_free_bytes=int(o.min_free_mb * 1024 * 1024))


def embedded_secret(data_dir: Path) -> bytes:
    """The demo terminal's secret, kept in its own 0600 file (never in the outbox DB)."""
    path = data_dir / EMBEDDED_SECRET_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret.hex())
    return secret


class OfflineServices:
    def __init__(self, config: Config, secret: Callable[[], bytes], *,
                 old_secrets: Sequence[bytes] = ()) -> None:
        self.config = config
        self._secret = secret
        self._old_secrets = tuple(old_secrets)
        self.outbox: Outbox | None = None
        self.cache: ReadCache | None = None
        self.error = ""  # translation key while the outbox is unavailable
        self.error_detail = ""  # the same in full, for the log and `kiosk outbox status`
        self.monitor: NetworkMonitor | None = None
        self.worker: ReplayWorker | None = None
        self.deliverer = RoutedDeliverer()
        # Other platforms' link monitors, by platform id ("" is `monitor`).
        self.platform_monitors: dict[str, NetworkMonitor] = {}
        self._lock = threading.Lock()
        self._link_listeners: list[Callable[[LinkState], None]] = []

    # -- storage ------------------------------------------------------------------------
    def open(self) -> Outbox | None:
        """Open the outbox (idempotent); on failure remember why and return None."""
        with self._lock:
            if self.outbox is not None:
                return self.outbox
            data_dir = self.config.data_dir
            try:
                keys = DataKeyFile(data_dir / OUTBOX_KEY_FILE, self._legacy_keys())
                self.outbox = Outbox(data_dir / OUTBOX_FILE, keys, policy_from(self.config))
                self.error = self.error_detail = ""
            except StorageError as exc:
                self.error, self.error_detail = exc.key, str(exc)
                log.error("outbox unavailable: %s", exc)
                return None
            except OSError as exc:
                self.error, self.error_detail = "outbox.unavailable", str(exc)
                log.error("outbox unavailable: %s", exc)
                return None
            if self.outbox.incident is not None:
                log.error("outbox database was set aside: %s", self.outbox.incident)
            if self.worker is not None:
                self.worker.outbox = self.outbox
            return self.outbox

    def _legacy_keys(self) -> tuple[PayloadKey, ...]:
        """Keys earlier builds derived from the terminal secret (current, then old ones)."""
        secrets_: list[bytes] = []
        try:
            secrets_.append(self._secret())
        except (RuntimeError, OSError, ValueError) as exc:  # not needed to open the outbox
            log.warning("terminal secret unavailable (items of earlier builds stay "
                        "sealed): %s", exc)
        secrets_ += self._old_secrets
        return tuple(PayloadKey.derive(s, self.config.terminal.id) for s in secrets_ if s)

    def open_cache(self) -> ReadCache | None:
        if self.cache is None:
            try:
                self.cache = ReadCache(self.config.data_dir / READCACHE_FILE)
            except (StorageError, OSError) as exc:
                log.error("read cache unavailable: %s", exc)
        return self.cache

    def record(self, stream: str, payload: dict[str, Any], *, key: str | None = None
               ) -> str | None:
        """Queue a write durably. Raises StorageError (key for the UI) if a citizen
        submission cannot be accepted; telemetry that cannot be kept is dropped."""
        outbox = self.open()
        telemetry = policy_from(self.config).classify(stream) is StreamClass.TELEMETRY
        if outbox is None:
            if telemetry:
                return None
            raise StorageError(self.error or "outbox.unavailable")
        return outbox.enqueue(stream, payload, key=key)

    def accepting(self) -> str:
        """"" if citizen submissions are accepted now, else the refusal key."""
        outbox = self.open()
        if outbox is None:
            return self.error or "outbox.unavailable"
        try:
            return outbox.refusal()
        except Exception as exc:  # noqa: BLE001 - storage trouble reads as "not accepting"
            log.error("outbox refusal check failed: %s", exc)
            return "outbox.unavailable"

    # -- link and replay ------------------------------------------------------------------
    @property
    def link(self) -> LinkState:
        return self.monitor.state if self.monitor else LinkState.UNKNOWN

    @property
    def online(self) -> bool:
        return self.link is not LinkState.OFFLINE

    def platform_link(self, platform: str) -> LinkState:
        """A platform's link ("" the terminal's); OFFLINE for one that has no connector."""
        if not platform:
            return self.link
        monitor = self.platform_monitors.get(platform)
        return monitor.state if monitor is not None else LinkState.OFFLINE

    def platform_online(self, platform: str) -> bool:
        return self.platform_link(platform) is not LinkState.OFFLINE

    def start_platform(self, platform: str, client: Any,
                       ready: threading.Event | None = None) -> None:
        """Watch another platform's link and deliver its streams with `client`."""
        o = self.config.offline

        def probe() -> bool | None:
            if ready is not None and not ready.is_set():
                return None  # its embedded server is still starting: no verdict yet
            return bool(client.health(timeout=min(3.0, o.probe_interval_s)))

        monitor = NetworkMonitor(probe, interval_s=o.probe_interval_s,
                                 backoff_cap_s=o.probe_backoff_cap_s)
        monitor.subscribe(lambda state: self._on_platform_link(platform, state))
        self.platform_monitors[platform] = monitor
        self.deliverer.by_platform[platform] = HttpDeliverer(client)
        monitor.start()

    def _on_platform_link(self, platform: str, state: LinkState) -> None:
        log.warning("platform %s link: %s", platform, state.value)
        if state is LinkState.ONLINE and self.worker is not None:
            self.worker.reconnected(self.config.offline.reconnect_spread_s)
        for cb in list(self._link_listeners):  # the home screen redraws its tiles
            try:
                cb(state)
            except Exception:
                log.exception("link listener failed")

    def _stream_link(self, stream: str, ok: bool) -> None:
        """Delivery evidence for the link of the stream's platform."""
        platform = split_stream(stream)[1]
        monitor = self.monitor if not platform else self.platform_monitors.get(platform)
        if monitor is not None:
            monitor.report(ok)

    def subscribe_link(self, listener: Callable[[LinkState], None]) -> None:
        """Call `listener(state)` on every link change (on the monitor's thread)."""
        self._link_listeners.append(listener)

    def _on_link(self, state: LinkState) -> None:
        if state is LinkState.ONLINE and self.worker is not None:
            self.worker.reconnected(self.config.offline.reconnect_spread_s)
        for cb in list(self._link_listeners):
            try:
                cb(state)
            except Exception:
                log.exception("link listener failed")

    def start(self, client: Any, ready: threading.Event | None = None) -> None:
        """Start the network monitor and the replay worker (background threads)."""
        o = self.config.offline
        if self.monitor is None:
            def probe() -> bool | None:
                if ready is not None and not ready.is_set():
                    return None  # the embedded platform is still starting: no verdict yet
                return bool(client.health(timeout=min(3.0, o.probe_interval_s)))

            self.monitor = NetworkMonitor(probe, interval_s=o.probe_interval_s,
                                          backoff_cap_s=o.probe_backoff_cap_s)
            self.monitor.subscribe(self._on_link)
            self.monitor.start()
        outbox = self.open()
        self.deliverer.by_platform[""] = HttpDeliverer(client)
        if self.worker is None and outbox is not None:
            self.worker = ReplayWorker(outbox, self.deliverer, batch_size=o.batch_size,
                                       backoff=Backoff(o.backoff_base_s, o.backoff_cap_s),
                                       on_stream_link=self._stream_link)
            outbox.on_enqueue(self.worker.wake)
            self.worker.start()

    def reference(self, kind: str, key: str, load: Callable[[], Any]) -> Cached | None:
        """Fetch reference data through the read cache (None: neither platform nor cache)."""
        cache = self.open_cache()
        if cache is None:
            try:
                return Cached(load(), 0.0)
            except Exception:  # noqa: BLE001 - a reference that cannot load is simply not there
                return None
        try:
            return cache.fetch(kind, key, load)
        except Exception as exc:  # noqa: BLE001 - logged; the flow goes on without it
            log.warning("reference %s/%s unavailable and not cached: %s", kind, key, exc)
            return None

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"link": self.link.value, "error": self.error}
        if self.platform_monitors:
            out["platforms"] = {p: m.state.value for p, m in self.platform_monitors.items()}
        if self.error_detail:
            out["error_detail"] = self.error_detail
        if self.outbox is not None:
            out["outbox"] = self.outbox.status().as_dict()
        if self.cache is not None and self.cache.incident is not None:
            i = self.cache.incident
            out["readcache_incident"] = {"kind": i.kind, "path": i.path, "detail": i.detail}
        return out

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.monitor is not None:
            self.monitor.stop()
        for monitor in self.platform_monitors.values():
            monitor.stop()
        if self.outbox is not None:
            self.outbox.close()
        if self.cache is not None:
            self.cache.close()


__all__ = ["OUTBOX_KEY_FILE", "OfflineServices", "OutboxFull", "RoutedDeliverer",
           "embedded_secret", "platform_stream", "policy_from", "split_stream"]
