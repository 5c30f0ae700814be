"""Shared by the document tests: the reference platform with its e-seal services over HTTP
(one per run, keys in a temporary folder), and the real certificate rendered for it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from flowpacks import BUILTIN_DIR
from kiosk.backend.client import BackendClient
from kiosk.backend.embedded import EmbeddedBackend
from kiosk.documents.a4 import render_a4
from kiosk.documents.types import RenderedPdf
from kiosk.flows.package import load_package
from synthetic.citizens import BY_KEY

TERMINAL = "DG-SEAL-0001"


@dataclass
class Platform:
    backend: EmbeddedBackend
    client: BackendClient
    seal_dir: Path
    admin: str

    @property
    def root(self) -> Path:
        return self.seal_dir / "root.pem"

    def issue(self) -> dict[str, Any]:
        """A social-security statement as the platform issues it (with its verify code)."""
        c = BY_KEY["chen"]
        months = self.client.post_json("/api/v1/social-security/options",
                                       {"id_number": c.id_number})["limits"]
        return dict(self.client.post_json("/api/v1/social-security/statement", {
            "id_number": c.id_number, "kind": "participation",
            "start": months["latest"][:4] + "-01", "end": months["latest"]}))

    def fault(self, prefix: str, count: int) -> None:
        requests.post(self.backend.url + "/_admin/services/faults", timeout=5,
                      headers={"X-Admin-Token": self.admin},
                      json={"prefix": prefix, "status": 503, "count": count}).raise_for_status()


@pytest.fixture(scope="session")
def seal_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    seal_dir = tmp_path_factory.mktemp("seal")
    admin = "seal-admin-" + os.urandom(4).hex()
    saved = os.environ.get("REFBACKEND_ADMIN_TOKEN")
    os.environ["REFBACKEND_ADMIN_TOKEN"] = admin  # the child takes its copy at start
    be = EmbeddedBackend(TERMINAL, extra_args=["--seal-dir", str(seal_dir)]).start()
    if saved is None:
        os.environ.pop("REFBACKEND_ADMIN_TOKEN")
    else:
        os.environ["REFBACKEND_ADMIN_TOKEN"] = saved
    try:
        assert be.wait_ready(30), "reference backend did not start"
        yield Platform(be, BackendClient(be.url, TERMINAL, be.secret), seal_dir, admin)
    finally:
        be.stop()


def render_certificate(record: dict[str, Any]) -> RenderedPdf:
    pkg = load_package(BUILTIN_DIR)
    c = BY_KEY["chen"]
    data = {"record": record, "identity": {"id_number": c.id_number, "name": c.name},
            "terminal": {"id": TERMINAL}, "now": {"date": date.today().isoformat()}}
    return render_a4(pkg.templates["ss_certificate_a4"], data, pkg.asset)


