"""Wire a terminal together from configuration: package, devices, backend, sessions.

Qt-free: the UI, the headless demo, the bench and tests all build a `Runtime`.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from dataclasses import replace
from pathlib import Path
from typing import Any

from kiosk.backend.client import BackendClient
from kiosk.backend.embedded import EmbeddedBackend, EmbeddedCity
from kiosk.config import Config, PlatformConfig
from kiosk.devices.registry import DeviceSet
from kiosk.flows.context import FlowContext, FlowResult, StepError
from kiosk.flows.engine import FlowEngine
from kiosk.flows.interaction import Interaction
from kiosk.flows.model import FlowPackage
from kiosk.network import LinkState
from kiosk.offline import OfflineServices, embedded_secret, platform_stream
from kiosk.session import Session

log = logging.getLogger(__name__)


class ConfigurationError(RuntimeError):
    pass


# Records a flow's steps make that belong to the flow's platform (a zone service's rating
# goes to that city's 好差评); the terminal's own records (print, audit, transaction)
# stay with the terminal's platform.
PLATFORM_STREAMS = frozenset({"evaluation"})


MMAP_THRESHOLD = 1 << 20  # bytes; see fixed_mmap_threshold()


def fixed_mmap_threshold() -> bool:
    """Have glibc serve every allocation of 1 MiB or more by mmap, given back on free.

    glibc raises its mmap threshold to the size of each large block freed, so after the
    first page bitmap or PDF of a few MiB, such blocks come from the heap, where they
    leave it grown: the resident size stepped up by ~4 MiB now and then over thousands of
    sessions and never came down. A fixed threshold turns that dynamic rule off. An
    operator's MALLOC_MMAP_THRESHOLD_ wins; elsewhere than glibc this does nothing.
    """
    import ctypes
    import platform

    if "MALLOC_MMAP_THRESHOLD_" in os.environ or platform.libc_ver()[0] != "glibc":
        return False
    try:
        return bool(ctypes.CDLL(None).mallopt(-3, MMAP_THRESHOLD))  # -3: M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


def read_secret(cfg: Config) -> bytes:
    if cfg.backend.secret_file:
        return Path(os.path.expanduser(cfg.backend.secret_file)).read_bytes().strip()
    value = os.environ.get(cfg.backend.secret_env, "")
    if not value:
        raise ConfigurationError(
            f"terminal secret missing: set ${cfg.backend.secret_env} or backend.secret_file")
    try:
        return bytes.fromhex(value)
    except ValueError:
        return value.encode()


class Runtime:
    def __init__(self, config: Config, package: FlowPackage, devices: DeviceSet) -> None:
        self.config = config
        self.package = package
        self.devices = devices
        self.backend: BackendClient | None = None
        self.embedded: EmbeddedBackend | None = None
        # Other platforms' connectors by id (kiosk.backend.connectors; issue 17), and the
        # reference city platforms started for `base_url = "embedded"`.
        self.connectors: dict[str, BackendClient] = {}
        self.embedded_cities: dict[str, EmbeddedCity] = {}
        self.backend_ready = threading.Event()
        self.engine = FlowEngine()
        # Outbox, read cache, replay worker, network monitor (issue 6).
        self.offline = OfflineServices(config, self.terminal_secret)
        self._reference: dict[str, Any] | None = None
        self.packages: Any = None  # kiosk.packages.manager.PackageManager
        self._package_poller: Any = None
        self._sessions: weakref.WeakSet[Session] = weakref.WeakSet()
        # Devices known to be faulted, as a translation key (device.receipt.paper_out):
        # from the status poll (heartbeat) and from what a print just showed.
        self.device_faults: dict[str, str] = {}
        self._device_lock = threading.Lock()
        self._device_listeners: list[Any] = []
        # Sessions, error screens and faults since the package set's activation, for the
        # centre's rollout health (kiosk.packages.reports.ActivationCounters).
        self.counters: Any = None
        # Out of service by a remote command (kiosk.fleet.commands): the message in each
        # language; every service is paused meanwhile.
        self.out_of_service: dict[str, str] | None = None

    @classmethod
    def create(cls, config: Config) -> Runtime:
        from kiosk.packages.manager import PackageManager

        fixed_mmap_threshold()  # 24/7: large transient buffers must not grow the heap

        # The active verified package set from the store (falls back to the built-in one).
        packages = PackageManager.from_config(config)
        package = packages.load_active()
        devices = DeviceSet.from_config(config.devices)
        rt = cls(config, package, devices)
        rt.packages = packages
        rt.counters = _counters(packages)
        return rt

    # -- flow packages (kiosk.packages) -------------------------------------------------
    def session_active(self) -> bool:
        return any(not s.ended for s in list(self._sessions))

    def apply_staged_packages(self) -> bool:
        """Swap to a staged package set, only while no citizen session is active."""
        if self.packages is None or self.session_active() or not self.packages.has_staged():
            return False
        pkg = self.packages.activate_staged()
        if pkg is None:
            return False
        self.package = pkg
        if self.backend is not None:  # a platform the new set names for the first time
            self.start_platforms()
        return True

    def start_package_updates(self) -> None:
        """Poll the ops repository in the background (if one is configured)."""
        from kiosk.packages.manager import start_polling

        if self.packages is not None and self.config.packages.repository_url:
            self._package_poller = start_polling(self.packages,
                                                 self.config.packages.poll_interval_s)

    def open_devices(self) -> dict[str, str]:
        """Open every configured device; return the failures (kind -> message key)."""
        failed = self.devices.open_all()
        for kind, key in failed.items():
            log.warning("device %s failed to open: %s", kind, key)
        return failed

    def start_backend(self, wait: bool = False) -> None:
        """Connect to the platform (or start the embedded reference backend)."""
        cfg = self.config
        if cfg.backend.url == "embedded":
            from kiosk.documents.verify import seal_dir

            # its demo CA and e-seals kept in the data folder: certificates stay verifiable
            self.embedded = EmbeddedBackend(
                cfg.terminal.id, secret=self.terminal_secret(),
                extra_args=["--seal-dir", str(seal_dir(cfg))]).start()
            self.backend = BackendClient(self.embedded.url, cfg.terminal.id, self.embedded.secret,
                                         connect_timeout=cfg.backend.connect_timeout_s,
                                         read_timeout=cfg.backend.read_timeout_s)

            def wait_embedded() -> None:
                assert self.embedded is not None
                try:
                    if self.embedded.wait_ready():
                        self.backend_ready.set()
                except RuntimeError:
                    log.exception("embedded backend failed to start")

            if wait:
                wait_embedded()
            else:
                threading.Thread(target=wait_embedded, daemon=True, name="backend-start").start()
        else:
            self.backend = BackendClient(cfg.backend.url, cfg.terminal.id, read_secret(cfg),
                                         connect_timeout=cfg.backend.connect_timeout_s,
                                         read_timeout=cfg.backend.read_timeout_s)
            self.backend_ready.set()
        self.start_platforms(wait=wait)
        self.start_offline()

    # -- other platforms (issue 17): connectors, link monitors, outbox routes ---------------
    def platform_config(self, platform: str) -> PlatformConfig | None:
        """`[platforms.<id>]`; on an embedded terminal an unconfigured platform the package
        names is the embedded reference city platform (OAuth2)."""
        cfg = self.config.platforms.get(platform)
        if cfg is None and self.config.backend.url == "embedded":
            cfg = PlatformConfig(base_url="embedded", auth="oauth2")
        return cfg

    def start_platforms(self, wait: bool = False) -> None:
        """A connector and a link monitor for every platform configured or named by the
        package; one named but not configured stays without (its services paused)."""
        from kiosk.backend.connectors import make_connector

        tid = self.config.terminal.id
        for pid in sorted(set(self.package.platforms) | set(self.config.platforms)):
            if pid in self.connectors:
                continue
            cfg = self.platform_config(pid)
            if cfg is None:
                log.error("platform %s is named by the package but has no [platforms.%s]: "
                          "its services stay paused", pid, pid)
                continue
            ready = threading.Event()
            if cfg.base_url == "embedded":
                city = EmbeddedCity(tid).start()
                self.embedded_cities[pid] = city
                waiter = threading.Thread(target=_wait_started, args=(city, ready, pid),
                                          daemon=True, name=f"platform-{pid}-start")
                waiter.start()
                if wait:
                    waiter.join()
                self.attach_city(pid, city, ready, cfg)
                continue
            conn = make_connector(pid, cfg, base_url=cfg.base_url, terminal_id=tid,
                                  secret=self.terminal_secret)
            ready.set()
            self.connectors[pid] = conn
            self.offline.start_platform(pid, conn, ready)

    def attach_city(self, platform: str, city: EmbeddedCity,
                    ready: threading.Event | None = None,
                    cfg: PlatformConfig | None = None) -> None:
        """Serve `platform` from a reference city platform already started (by
        `start_platforms`, or shared by the gallery and pack preview across runtimes)."""
        from kiosk.backend.connectors import make_connector

        if ready is None:
            ready = threading.Event()
            ready.set()
        cfg = cfg or self.config.platforms.get(platform) or PlatformConfig()
        conn = make_connector(platform, replace(cfg, auth="oauth2"), base_url=city.url,
                              terminal_id=self.config.terminal.id,
                              secret=self.terminal_secret, oauth_secret=_secret_of(city),
                              client_id=city.client_id)
        self.connectors[platform] = conn
        self.offline.start_platform(platform, conn, ready)

    # -- offline (issue 6): outbox, replay, link state, reference data ----------------------
    def terminal_secret(self) -> bytes:
        """The terminal's secret (embedded demo: a 0600 file in the data folder)."""
        if self.config.backend.url == "embedded":
            return embedded_secret(self.config.data_dir)
        return read_secret(self.config)

    def start_offline(self) -> None:
        """Start the network monitor and replay worker (threads; never blocks the UI)."""
        if self.backend is None:
            return
        self.offline.subscribe_link(self._on_link)
        self.offline.start(self.backend, self.backend_ready)

    def _on_link(self, state: LinkState) -> None:
        if state is LinkState.ONLINE:
            self.refresh_reference()

    @property
    def online(self) -> bool:
        return self.offline.online

    def refresh_reference(self) -> None:
        """Fetch the platform's catalog data; fall back to the cached copy."""
        if self.backend is None:
            return
        backend = self.backend
        got = self.offline.reference("reference", "catalog",
                                     lambda: backend.get_json("/api/v1/reference/catalog"))
        if got is not None and isinstance(got.value, dict):
            self._reference = got.value

    def home_catalog(self) -> list[Any]:
        """Flows for the home screen: the package's catalog minus services the platform
        switched off (from the read cache when offline)."""
        if self._reference is None:
            cache = self.offline.open_cache()
            cached = cache.get("reference", "catalog") if cache is not None else None
            self._reference = cached.value if cached and isinstance(cached.value, dict) else {}
        disabled = set(self._reference.get("disabled", []))
        return [f for f in self.package.catalog() if f.id not in disabled]

    def flow_paused(self, flow: Any) -> bool:
        """A flow is paused while it cannot give the citizen its result: it needs live
        data and the platform is unreachable, or a device it needs is faulted."""
        return self.pause_reason(flow) is not None

    def pause_reason(self, flow: Any) -> str | None:
        """Why `flow` is paused, as a translation key for its tile; None if it is not."""
        if self.out_of_service is not None:
            return "remote.out_of_service.tile"
        # Each platform's own link: another city's platform down pauses its zone's
        # services only, and the terminal's platform down pauses only those that use it.
        platform = str(getattr(flow, "platform", "") or "")
        if bool(getattr(flow, "requires_online", True)) and \
                not self.offline.platform_online(platform):
            return "home.offline_tile"
        with self._device_lock:
            for kind in getattr(flow, "requires_devices", ()):
                if kind in self.device_faults:
                    return f"home.paused.{kind}"
        return None

    def note_device(self, kind: str, fault: str | None) -> None:
        """What a device just showed: a fault's key, or None when it works. Listeners
        (the home screen) hear of every change."""
        with self._device_lock:
            before = self.device_faults.get(kind)
            if fault is None:
                self.device_faults.pop(kind, None)
            else:
                self.device_faults[kind] = fault
            changed = before != fault
            listeners = list(self._device_listeners)
        if changed:
            log.warning("device %s: %s", kind, fault or "works again")
            for cb in listeners:
                try:
                    cb(kind)
                except Exception:
                    log.exception("device listener failed")

    def subscribe_devices(self, listener: Any) -> None:
        """Call `listener(kind)` when a device's fault state changes (any thread)."""
        self._device_listeners.append(listener)

    def poll_devices(self) -> None:
        """Ask every device for its status and note faults (the heartbeat does this on
        its thread; tests and the demo may call it)."""
        from kiosk.maintenance.health import device_fault_key

        for kind, dev in self.devices.devices.items():
            try:
                st = dev.status()
            except Exception as exc:  # noqa: BLE001 - a status call must never take the caller down
                log.warning("status of %s failed: %s", kind, type(exc).__name__)
                continue
            self.note_device(kind, device_fault_key(kind, st.state.value, st.details))

    def new_session(self, locale: str | None = None) -> Session:
        session = Session(locale or self.config.terminal.locale)
        self._sessions.add(session)
        self.count("sessions")
        return session

    def count(self, name: str) -> None:
        """One more session / error screen / fault since the package set's activation."""
        if self.counters is not None:
            self.counters.count(name)

    def context(self, flow_id: str, session: Session, ui: Interaction) -> FlowContext:
        flow = self.package.flows[flow_id]
        return FlowContext(flow=flow, package=self.package, session=session,
                           ui=_CountedScreens(ui, self.count),
                           devices=self.devices.devices, backend=self.backend,
                           connectors=self.connectors,
                           terminal={"id": self.config.terminal.id,
                                     "name": self.config.terminal.name,
                                     "seal_root": self.seal_root()},
                           recorder=self._recorder(flow.platform),
                           read_cache=self.offline.open_cache(),
                           device_state=self.note_device)

    def _recorder(self, platform: str) -> Any:
        """A flow's recorder: its platform's records go to that platform's streams."""
        if not platform:
            return self.record

        def record(stream: str, payload: dict[str, Any]) -> None:
            self.record(platform_stream(stream, platform) if stream in PLATFORM_STREAMS
                        else stream, payload)

        return record

    def seal_root(self) -> str:
        """The e-seals' trusted root ("": certificates are not sealed; docs/sealing.md)."""
        from kiosk.documents.verify import trusted_root

        root = trusted_root(self.config)
        return str(root) if root is not None else ""

    def record(self, stream: str, payload: dict[str, Any]) -> None:
        """A write that must reach the platform: queued durably in the outbox (with its
        local journal row, in one transaction); delivered by the replay worker."""
        from offline_cache.db import StorageError

        try:
            self.offline.record(stream, payload)
        except StorageError as err:
            raise StepError(err.key, err.detail, retry=False) from err

    def run_flow(self, flow_id: str, session: Session, ui: Interaction) -> FlowResult:
        ctx = self.context(flow_id, session, ui)
        refusal = self.offline.accepting()
        if refusal:  # at the high-water mark: refuse before anything is printed
            log.error("flow %s refused: %s", flow_id, refusal)
            from kiosk.flows.interaction import FlowCancelled

            try:
                FlowEngine._error_screen(ctx, StepError(refusal, retry=False))
            except FlowCancelled:
                pass
            return FlowResult("failed", refusal)
        result = self.engine.run(ctx)
        self._record_transaction(ctx, result)
        return result

    def _record_transaction(self, ctx: FlowContext, result: FlowResult) -> None:
        """One transaction record per flow run (no personal data)."""
        try:
            self.record("transaction", {
                "flow": ctx.flow.id, "outcome": result.outcome, "error": result.error_key,
                "steps": list(result.steps_run), "session": ctx.session.id,
                "terminal_id": self.config.terminal.id,
                "package": f"{self.package.id}@{self.package.version}"})
        except StepError as err:
            log.error("transaction record of %s not kept: %s", ctx.flow.id, err.key)

    def close(self) -> None:
        if self._package_poller is not None:
            self._package_poller.set()
        if self.counters is not None:
            self.counters.save()
        self.offline.close()
        self.devices.close_all()
        if self.embedded:
            self.embedded.stop()
        for city in self.embedded_cities.values():
            city.stop()


def _secret_of(city: EmbeddedCity) -> Any:
    return lambda: city.client_secret


def _wait_started(city: EmbeddedCity, ready: threading.Event, platform: str) -> None:
    try:
        if city.wait_ready():
            ready.set()
    except RuntimeError:
        log.exception("embedded platform %s failed to start", platform)


class _CountedScreens:
    """A flow's Interaction that counts the error screens it shows (a package version
    that shows citizens more of them than the last one is halted by the centre)."""

    def __init__(self, ui: Interaction, count: Any) -> None:
        self.ui, self._count = ui, count

    def show(self, screen: Any) -> Any:
        from kiosk.flows.screens import ScreenKind

        if screen.kind is ScreenKind.ERROR:
            self._count("error_screens")
        return self.ui.show(screen)


def _counters(packages: Any) -> Any:
    """The activation counters beside the package store, reset by every activation."""
    from kiosk.packages.reports import ActivationCounters

    counters = ActivationCounters(packages.data_dir / "counters.json", packages.activated_at)
    packages.listeners.append(
        lambda event: counters.reset() if event.state == "activated" else None)
    return counters
