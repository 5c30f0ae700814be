"""`kiosk demo`: the kiosk on embedded defaults (simulated devices, reference backend).

With a display it opens the full-screen kiosk. Without one (or with `--headless`) a
scripted citizen goes through a flow using the real widgets and leaves, in OUT:
a screenshot of every screen it passed, the printed A4 PDF, and the receipt (ESC/POS
bytes plus a readable text rendering). Either way it logs, masked, to the same file as
`kiosk run` (`kiosk.logs.log_file`; set up by `kiosk.cli`), so `kiosk maintenance
export-logs` after a demo or a training session holds its logs.
"""

from __future__ import annotations

import logging
from pathlib import Path

from kiosk.config import Config

log = logging.getLogger(__name__)

SIZES = {"landscape": (1920, 1080), "portrait": (1080, 1920), "square": (1280, 1024)}


def demo_config(base: Config, spool: Path | None) -> Config:
    cfg = base
    if spool is not None:
        cfg = cfg.with_section(
            "devices",
            idcard="sim://?card=chen&delay_ms=400",
            a4=f"sim://?spool={spool / 'a4'}",
            receipt=f"sim://?spool={spool / 'receipt'}",
        )
    # The demo terminal has a (simulated) document camera for its materials service.
    return cfg.with_section("devices", doccam="sim://").with_section("backend", url="embedded")


def demo_catalog(cfg: Config) -> list[str]:
    """Put the Greater Bay Area catalog (flowpacks/gba, ~300 services) and the paper
    materials service (flowpacks/materials) on the demo terminal.

    With a package repository (scripts/demo publishes gba into the operations stack's TUF
    repository, built and signed like any package) the terminal polls it once now and
    activates what it staged, as it would between citizens. Without one, the package is
    built from its source folder and installed into the terminal's store as its active set,
    verified and validated the same way. Returns the active packages' labels."""
    from flowpacks import GBA_DIR, MATERIALS_DIR
    from kiosk.packages.archive import build_archive
    from kiosk.packages.manager import PackageManager, SetRejected
    from kiosk.packages.store import entries_from, entries_json

    mgr = PackageManager.from_config(cfg)
    mgr.ensure_builtin()
    if cfg.packages.repository_url:
        result = mgr.poll()
        if result.error:
            log.warning("demo: package repository: %s", result.error)
        mgr.activate_staged()
        return mgr.status()["active"]
    state = mgr.store.read_state()
    ours = {"gba": GBA_DIR, "materials": MATERIALS_DIR}
    active = [e for e in entries_from(state.get("active")) or [] if e.id not in ours]
    entries = [mgr.store.install(build_archive(src), pid) for pid, src in ours.items()]
    if any(e not in (entries_from(state.get("active")) or []) for e in entries):
        try:
            mgr.load_set([*active, *entries])  # what a terminal would refuse, refused here
        except SetRejected as exc:
            log.error("demo: the catalog packages were refused: %s", exc)
            return mgr.status()["active"]
        state["active"] = entries_json(sorted([*active, *entries], key=lambda e: e.id))
        mgr.store.write_state(state)
        log.info("demo: installed %s", ", ".join(e.label for e in entries))
    return mgr.status()["active"]


def run_headless(base: Config, out: Path, flow_id: str = "ss_certificate",
                 sizes: list[tuple[int, int]] | None = None, timeout_s: float = 90.0,
                 assisted: bool = False) -> int:
    from kiosk.ui.headless_demo import run_headless_demo

    return run_headless_demo(demo_config, base, out, flow_id, sizes or [SIZES["landscape"]],
                             timeout_s, catalog=demo_catalog, assisted=assisted)


def run_with_display(base: Config) -> int:
    from kiosk.runtime import Runtime
    from kiosk.ui.app import run_kiosk

    cfg = demo_config(base, None)
    demo_catalog(cfg)
    return run_kiosk(Runtime.create(cfg))
