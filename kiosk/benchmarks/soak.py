"""Resource growth over many citizen sessions (a short run of scripts/soak.py).

`rss_growth_mb_per_1k_sessions`, `fds_growth_per_1k_sessions`,
`threads_growth_per_1k_sessions`: least-squares slopes after a warm-up, from 350 engine
sessions (every flow in turn, each on its own thread as in the kiosk) in a child
process. (105 sessions could not resolve the 0.5 MB/1k budget: the resident size moves
by about a megabyte from sample to sample, which over 80 sessions is a slope of several
MB per 1,000 either way; 700 sessions of the fixed kiosk stayed within 178.5-180.3 MiB.)
`rss_growth_mb_per_1k_sessions_baseline`: the same loop in another child
process with sessions that run no flow (`--noop`). The full soak (thousands of sessions,
real widgets) is `scripts/soak.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SOAK = Path(__file__).resolve().parents[2] / "scripts" / "soak.py"
SESSIONS, SAMPLE = 350, 10
# The test that checks the keys (tests/test_bench_baselines.py) runs a few sessions only:
# it checks the figures are there, not what they are, and 350 cost 2.5 minutes of CI.
QUICK_SESSIONS = "KIOSK_BENCH_SOAK_SESSIONS"
KEYS = ("rss_growth_mb_per_1k_sessions", "fds_growth_per_1k_sessions",
        "threads_growth_per_1k_sessions")


def soak(*extra: str) -> dict[str, float] | None:
    """One short engine soak in a child process; its summary, None if it failed."""
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "soak.json"
        # as deployed: the systemd unit sets MALLOC_ARENA_MAX=2 (deploy/guanjia-kiosk.service)
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MALLOC_ARENA_MAX="2")
        sessions = os.environ.get(QUICK_SESSIONS) or str(SESSIONS)
        subprocess.run([sys.executable, str(SOAK), "--mode", "engine", "--sessions",
                        sessions, "--sample", str(SAMPLE), "--json", str(out),
                        "--max-fds-per-1k", "1e9",
                        "--max-threads-per-1k", "1e9", *extra],
                       check=False, capture_output=True, text=True, env=env, timeout=900)
        if not out.exists():
            return None
        summary: dict[str, float] = json.loads(out.read_text())["summary"]
        return summary


def measure(repeat: int) -> dict[str, float]:
    nan = float("nan")
    base_key = "rss_growth_mb_per_1k_sessions_baseline"
    if not SOAK.exists():
        return dict.fromkeys((*KEYS, base_key), nan)
    summary = soak()
    out = {k: float(summary[k]) if summary else nan for k in KEYS}
    baseline = soak("--noop")
    out[base_key] = float(baseline[KEYS[0]]) if baseline else nan
    return out
