"""Every budget in `kiosk bench --json` has its baseline measured in the same run (the key
plus `_baseline`), so a figure can be read as a ratio on a noisy machine. Each module is
run as an operator would: `kiosk bench --json --only MODULE --repeat 1`. No timing is
asserted; the keys must be there and be finite numbers."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.benchmarks.face import faces_dir

KIOSK = Path(sys.executable).with_name("kiosk")
BASELINES = {
    "documents": ["pdf_render_1page_s"],
    "core": ["cold_start_s", "certificate_flow_s"],
    "ui_loop": ["ui_max_stall_ms"],
    "face": ["preview_max_stall_ms"],
    "soak": ["rss_growth_mb_per_1k_sessions"],
    "seal": ["seal_overhead_s"],
    "assist": ["assist_help_to_media_s", "assist_cpu_s_per_call_s", "assist_sent_bytes_per_s"],
    "assist_ui": ["assist_ui_max_stall_ms", "assist_ui_cpu_s_per_s",
                  "assist_ui_start_max_stall_ms", "assist_ui_minimise_max_stall_ms"],
}


@pytest.mark.parametrize("module", sorted(BASELINES))
def test_each_budget_has_a_finite_baseline(module: str, tmp_path: Path) -> None:
    if module == "face" and faces_dir() is None:
        pytest.skip("shared face photos missing")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", KIOSK_STORAGE_DATA_DIR=str(tmp_path),
               KIOSK_FACE_CACHE=str(tmp_path / "face-cache"),
               KIOSK_BENCH_SOAK_SESSIONS="40",  # the keys, not the figures (soak.py)
               KIOSK_BENCH_ASSIST_CALL_S="1")
    out = subprocess.run([str(KIOSK), "bench", "--json", "--only", module, "--repeat", "1"],
                         capture_output=True, text=True, env=env, timeout=600, check=True)
    results = json.loads(out.stdout.strip().splitlines()[-1])
    for key in BASELINES[module]:
        for name in (key, f"{key}_baseline"):
            value = results.get(name)
            assert isinstance(value, float) and math.isfinite(value), (name, value, out.stderr)
    orphans = [k for k in results
               if k.endswith("_baseline") and k.removesuffix("_baseline") not in results]
    assert not orphans  # a baseline without its figure is read as nothing
