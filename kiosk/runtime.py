"""Wire a terminal together from configuration: package, devices, backend, sessions.

Qt-free: the UI, the headless demo, the bench and tests all build a `Runtime`.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from kiosk.backend.client import BackendClient
from kiosk.backend.embedded import EmbeddedBackend
from kiosk.config import Config
from kiosk.devices.registry import DeviceSet
from kiosk.flows.engine import FlowContext, FlowEngine, FlowResult
from kiosk.flows.interaction import Interaction
from kiosk.flows.package import FlowPackage, load_package
from kiosk.session import Session

log = logging.getLogger(__name__)


class ConfigurationError(RuntimeError):
    pass


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
        self.backend_ready = threading.Event()
        self.engine = FlowEngine()

    @classmethod
    def create(cls, config: Config) -> Runtime:
        from flowpacks import BUILTIN_DIR

        pkg_dir = Path(config.packages.builtin_dir) if config.packages.builtin_dir else BUILTIN_DIR
        package = load_package(pkg_dir)
        devices = DeviceSet.from_config(config.devices)
        return cls(config, package, devices)

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
            self.embedded = EmbeddedBackend(cfg.terminal.id).start()
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

    def new_session(self, locale: str | None = None) -> Session:
        return Session(locale or self.config.terminal.locale)

    def context(self, flow_id: str, session: Session, ui: Interaction) -> FlowContext:
        flow = self.package.flows[flow_id]
        return FlowContext(flow=flow, package=self.package, session=session, ui=ui,
                           devices=self.devices.devices, backend=self.backend,
                           terminal={"id": self.config.terminal.id,
                                     "name": self.config.terminal.name},
                           recorder=self.record)

    def record(self, stream: str, payload: dict[str, Any]) -> None:
        """A write that must reach the platform. (Issue 6 routes this to the outbox.)"""
        log.info("record %s: %s", stream, sorted(payload))

    def run_flow(self, flow_id: str, session: Session, ui: Interaction) -> FlowResult:
        return self.engine.run(self.context(flow_id, session, ui))

    def close(self) -> None:
        self.devices.close_all()
        if self.embedded:
            self.embedded.stop()
