"""Shared fixtures. Area-specific fixtures live in conftest.py files of sub-folders."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

# Qt without a display, and never a real user's data folder.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A test that runs `kiosk.cli.main` installs the kiosk's log handlers on the root
    logger, bound to that test's captured stderr; put the root logger back afterwards
    so later tests neither write to a closed stream nor lose pytest's own handlers."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
            if getattr(h, "kiosk_owned", False):
                h.close()
    for h in handlers:
        if h not in root.handlers:
            root.addHandler(h)
    root.setLevel(level)


@pytest.fixture(scope="session")
def backend() -> Iterator[object]:
    """The reference backend over HTTP on 127.0.0.1, with a fresh terminal secret."""
    from kiosk.backend.embedded import EmbeddedBackend

    admin = secrets.token_hex(8)
    os.environ["REFBACKEND_ADMIN_TOKEN"] = admin
    be = EmbeddedBackend("DG-TEST-0001").start()
    try:
        assert be.wait_ready(30), "reference backend did not start"
        be.admin_token = admin  # type: ignore[attr-defined]
        yield be
    finally:
        be.stop()


@pytest.fixture(scope="session")
def dns_sd() -> Iterator[None]:
    """D-Bus and avahi-daemon, which ippeveprinter needs even with `-r off`.

    Started once for the whole run if they do not answer (asked over the bus, with a
    bounded wait and an error naming what did not come up), and stopped at its end
    unless another test run on the machine still uses them (a shared lease).
    """
    from emulators.ippeve_peer import available, ensure_dns_sd, hold_lease, stop_started

    if not available():
        pytest.skip("ippeveprinter / avahi-daemon / dbus-daemon not installed")
    lease = hold_lease()
    try:
        ensure_dns_sd()
        yield
    finally:
        stop_started(lease=lease)  # all this process started, if nobody else needs them


@pytest.fixture
def client(backend):  # type: ignore[no-untyped-def]
    from kiosk.backend.client import BackendClient

    return BackendClient(backend.url, backend.terminal_id, backend.secret)


@pytest.fixture
def make_runtime(backend, tmp_path):  # type: ignore[no-untyped-def]
    """Build a Runtime on simulated devices against the shared reference backend."""
    from kiosk.backend.client import BackendClient
    from kiosk.config import Config
    from kiosk.runtime import Runtime

    made: list[Runtime] = []

    def make(**devices: str) -> Runtime:
        cfg = Config().with_section(
            "devices",
            **{"idcard": "sim://?card=chen", "sscard": "sim://",
               "a4": f"sim://?spool={tmp_path / 'a4'}",
               "receipt": f"sim://?spool={tmp_path / 'receipt'}", **devices})
        cfg = cfg.with_section("storage", data_dir=str(tmp_path / "data"))
        cfg = cfg.with_section("terminal", id=backend.terminal_id)
        rt = Runtime.create(cfg)
        rt.open_devices()
        rt.backend = BackendClient(backend.url, backend.terminal_id, backend.secret)
        rt.backend_ready.set()
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.close()
