"""Flow package benchmarks: build, start-up load, poll over local HTTP, activation stall."""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def _source(dst: Path, version: str, n_flows: int = 20) -> Path:
    (dst / "flows").mkdir(parents=True)
    (dst / "strings").mkdir()
    ids = [f"svc_{i:02d}" for i in range(n_flows)]
    zh = {}
    for fid in ids:
        zh[f"flow.{fid}.title"] = f"服务 {fid}"
        (dst / "flows" / f"{fid}.toml").write_text(
            f'id = "{fid}"\ntitle = "flow.{fid}.title"\nrequires_online = false\n\n'
            f'[[steps]]\nid = "consent"\ntype = "consent"\ntext = "flow.{fid}.title"\n\n'
            '[[steps]]\nid = "done"\ntype = "finish"\n', "utf-8")
    (dst / "manifest.toml").write_text(
        f'id = "bench-pack"\nversion = "{version}"\nflows = {json.dumps(ids)}\n', "utf-8")
    for loc in ("zh_CN", "zh_HK", "en"):
        (dst / "strings" / f"{loc}.json").write_text(json.dumps(zh, ensure_ascii=False), "utf-8")
    return dst


def _ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def measure(repeat: int) -> dict[str, float]:
    from flowpacks import BUILTIN_DIR
    from kiosk.packages import keys as km
    from kiosk.packages.archive import build_archive
    from kiosk.packages.manager import PackageManager
    from kiosk.packages.repository import Repository

    out: dict[str, float] = {}
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        data = build_archive(BUILTIN_DIR)
        samples.append(time.perf_counter() - t)
    out["packages.build_builtin_ms"] = _ms(samples)
    out["packages.builtin_kib"] = round(len(data) / 1024, 1)

    with tempfile.TemporaryDirectory(prefix="kiosk-bench-pk-") as tmp_s:
        tmp = Path(tmp_s)
        first, warm = [], []
        for i in range(repeat):
            t = time.perf_counter()
            PackageManager(tmp / f"cold{i}", BUILTIN_DIR).load_active()
            first.append(time.perf_counter() - t)
            t = time.perf_counter()
            PackageManager(tmp / f"cold{i}", BUILTIN_DIR).load_active()
            warm.append(time.perf_counter() - t)
        out["packages.load_active_first_ms"] = _ms(first)
        out["packages.load_active_ms"] = _ms(warm)

        keys = tmp / "keys"
        for role in ("root", "targets", "snapshot", "timestamp"):
            km.generate(keys, role)
        repo = Repository(tmp / "repo")
        repo.write_root(root_keys=[km.load_public(keys / "root.pub")], root_threshold=1,
                        role_keys={r: [km.load_public(keys / f"{r}.pub")]
                                   for r in ("targets", "snapshot", "timestamp")},
                        role_thresholds={}, signers=[km.load_private(keys / "root.key")])
        online = [km.load_private(keys / f"{r}.key") for r in ("targets", "snapshot", "timestamp")]
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(repo.root)))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        try:
            mgr = PackageManager(tmp / "term", BUILTIN_DIR, repository_url=url,
                                 trusted_root=repo.meta / "1.root.json")
            mgr.load_active()
            publish, poll, activate, idle = [], [], [], []
            for i in range(repeat):
                archive = build_archive(_source(tmp / f"src{i}", f"1.{i}.0"))
                t = time.perf_counter()
                repo.publish(archive, "bench-pack", f"1.{i}.0", online)
                publish.append(time.perf_counter() - t)
                t = time.perf_counter()
                assert mgr.poll().changed
                poll.append(time.perf_counter() - t)
                t = time.perf_counter()
                assert mgr.activate_staged() is not None
                activate.append(time.perf_counter() - t)
                t = time.perf_counter()
                mgr.poll()
                idle.append(time.perf_counter() - t)
        finally:
            httpd.shutdown()
            httpd.server_close()
        out["packages.publish_ms"] = _ms(publish)
        out["packages.poll_new_ms"] = _ms(poll)
        out["packages.poll_unchanged_ms"] = _ms(idle)
        out["packages.activate_ms"] = _ms(activate)
    return out
