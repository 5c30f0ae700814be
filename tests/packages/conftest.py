"""Fixtures for flow packages: keys made at test time, an ops repository, a real HTTP server.

The HTTP server is the peer a terminal meets in the field (a static file server or CDN);
`faults` lets a test make it (or an attacker in front of it) misbehave per path.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from flowpacks import BUILTIN_DIR
from kiosk.packages import keys as keymod
from kiosk.packages import ops
from kiosk.packages.manager import PackageManager
from kiosk.packages.repository import Repository
from kiosk.packages.rollout import Rollout

Fault = Callable[[bytes], bytes] | int  # transform the body, or answer with this status


class _Handler(SimpleHTTPRequestHandler):
    faults: ClassVar[dict[str, Fault]] = {}  # shared by the server's handler instances
    hits: ClassVar[list[str]] = []

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self.hits.append(self.path)
        for needle, fault in list(self.faults.items()):
            if needle in self.path:
                if isinstance(fault, int):
                    self.send_error(fault)
                    return
                local = Path(self.translate_path(self.path))
                body = fault(local.read_bytes() if local.is_file() else b"")
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
        super().do_GET()


@dataclass
class Server:
    url: str
    faults: dict[str, Fault]
    hits: list[str]


@pytest.fixture
def ops_env(tmp_path: Path) -> OpsEnv:
    env = OpsEnv(tmp_path / "ops")
    env.setup()
    return env


@contextmanager
def serve(directory: Path) -> Iterator[Server]:
    """A static HTTP server for `directory` on 127.0.0.1 (a free port), with faults."""
    faults: dict[str, Fault] = {}
    hits: list[str] = []
    handler = type("Handler", (_Handler,), {"faults": faults, "hits": hits})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(directory)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", faults, hits)
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server(ops_env: OpsEnv) -> Iterator[Server]:
    with serve(ops_env.repo_dir) as srv:
        yield srv


_TRADITIONAL = str.maketrans("务业将动产权属询测试调",
                             "務業將動產權屬詢測試調")


def write_source(dst: Path, pkg_id: str, version: str, *,
                 flows: dict[str, dict[str, Any]] | None = None, disable: Sequence[str] = (),
                 strings: dict[str, str] | None = None, extra: dict[str, bytes] | None = None,
                 manifest_extra: str = "") -> Path:
    """A package source folder: one simple service per entry of `flows` (id -> options)."""
    flows = {"housing_proof": {}} if flows is None else flows
    (dst / "flows").mkdir(parents=True)
    (dst / "strings").mkdir()
    zh = dict(strings or {})
    for fid, opt in flows.items():
        zh.setdefault(f"flow.{fid}.title", opt.get("title_zh", f"新服务 {fid}"))
        zh.setdefault(f"flow.{fid}.consent", "本业务将使用您的身份信息。")
        steps = opt.get("steps") or (
            '[[steps]]\nid = "consent"\ntype = "consent"\n'
            f'text = "flow.{fid}.consent"\n\n[[steps]]\nid = "done"\ntype = "finish"\n')
        (dst / "flows" / f"{fid}.toml").write_text(
            f'id = "{fid}"\ntitle = "flow.{fid}.title"\norder = {opt.get("order", 20)}\n'
            f'requires_online = false\nenabled = {str(opt.get("enabled", True)).lower()}\n\n'
            + steps, "utf-8")
    (dst / "manifest.toml").write_text(
        f'id = "{pkg_id}"\nversion = "{version}"\nmin_app_version = "0.1.0"\n'
        f"flows = {json.dumps(list(flows))}\ndisable = {json.dumps(list(disable))}\n"
        + manifest_extra, "utf-8")
    # Each language written in its own script (`kiosk pack build` refuses Simplified
    # characters in zh_HK.json and Chinese in en.json): the fixture's few characters
    # mapped to Traditional, English as the key's own words.
    hk = {k: v.translate(_TRADITIONAL) for k, v in zh.items()}
    en = {k: "Test " + k.rsplit(".", 2)[-2].replace("_", " ") + " " + k.rsplit(".", 1)[-1]
          for k in zh}
    for locale in ("zh_CN", "zh_HK", "en"):
        table = {"zh_CN": zh, "zh_HK": hk, "en": en}[locale]
        (dst / "strings" / f"{locale}.json").write_text(json.dumps(table, ensure_ascii=False),
                                                        "utf-8")
    for name, data in (extra or {}).items():
        (dst / name).parent.mkdir(parents=True, exist_ok=True)
        (dst / name).write_bytes(data)
    return dst


@dataclass
class OpsEnv:
    """An ops workstation: offline root key, online keys, builder key, repository folder."""

    base: Path
    n: int = 0
    published: list[Path] = field(default_factory=list)

    @property
    def repo_dir(self) -> Path:
        return self.base / "repo"

    @property
    def keys(self) -> Path:
        return self.base / "keys"

    @property
    def offline(self) -> Path:
        return self.base / "offline"

    def setup(self) -> None:
        for role in ("targets", "snapshot", "timestamp", "signer"):
            keymod.generate(self.keys, role)
        keymod.generate(self.offline, "root")
        self.repo.write_root(
            root_keys=[keymod.load_public(self.offline / "root.pub")], root_threshold=1,
            role_keys={r: [keymod.load_public(self.keys / f"{r}.pub")]
                       for r in ("targets", "snapshot", "timestamp")},
            role_thresholds={}, signers=[keymod.load_private(self.offline / "root.key")])
        self.repo_dir.mkdir(exist_ok=True)

    @property
    def repo(self) -> Repository:
        return Repository(self.repo_dir)

    @property
    def pinned_root(self) -> Path:
        """The root.json a terminal gets at installation (copied, not served)."""
        dst = self.base / "pinned-root.json"
        if not dst.exists():
            shutil.copy(self.repo_dir / "metadata" / "1.root.json", dst)
        return dst

    def source(self, pkg_id: str, version: str, **kw: Any) -> Path:
        self.n += 1
        return write_source(self.base / "src" / f"{self.n}-{pkg_id}", pkg_id, version, **kw)

    def build_signed(self, src: Path) -> Path:
        archive, _ = ops.build(src, self.base / f"{src.name}.kpkg")
        ops.sign(archive, keymod.load_private(self.keys / "signer.key"))
        return archive

    def publish(self, pkg_id: str, version: str, *, ring: int | None = None,
                percent: int | None = None, **kw: Any) -> Path:
        archive = self.build_signed(self.source(pkg_id, version, **kw))
        ops.publish(archive, self.repo_dir, self.keys, rollout=Rollout(ring, percent))
        self.published.append(archive)
        return archive


def make_terminal(data_dir: Path, ops_env: OpsEnv, url: str, **kw: Any) -> PackageManager:
    return PackageManager(data_dir, BUILTIN_DIR, repository_url=url,
                          trusted_root=ops_env.pinned_root, **kw)


@pytest.fixture
def terminal(tmp_path: Path, ops_env: OpsEnv, server: Server) -> PackageManager:
    mgr = make_terminal(tmp_path / "terminal", ops_env, server.url, terminal_id="DG-T-0001")
    mgr.load_active()
    return mgr
