"""`kiosk-ops bench --json --quick` runs end to end and reports every number (values are
not asserted: speed is measured by the bench, never by tests)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

KEYS = ("ingest_health_per_s_{n}", "ingest_health_per_s_{n}_baseline", "ingest_ratio_{n}")


@pytest.mark.slow
def test_bench_reports_each_measurement() -> None:
    p = subprocess.run([sys.executable, "-m", "opscentre.cli", "bench", "--json", "--quick"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    data = json.loads(p.stdout.strip().splitlines()[-1])
    for n in (30, 100):
        for k in KEYS:
            assert data[k.format(n=n)] > 0
    for k in ("api_terminals_p95_ms_30", "fleet_page_p95_ms_30", "offline_shown_s",
              "offline_alert_s", "db_bytes_per_terminal_day",
              "db_bytes_per_terminal_day_rolled_up", "serve_rss_mb_100"):
        assert data[k] > 0, k
    for k in ("command_rtt_p50_s", "command_rtt_p99_s", "command_rtt_baseline_p50_s",
              "command_rtt_baseline_p99_s"):
        assert data[k] > 0, k
    assert data["command_rtt_p99_s"] >= data["command_rtt_p50_s"]
    for k in ("rollout_complete_s_20_soak_1s", "rollout_all_running_s_20_soak_1s",
              "rollout_halted_in_wave_20"):
        assert data[k] > 0, k
    assert data["rollout_halt_after_first_failure_s_20"] >= 0
    assert data["rollout_halt_after_threshold_s_20"] >= 0
    assert data["api_terminals_rows_30"] == 31  # the simulated fleet and the killed one
    assert data["offline_alert_s"] >= data["offline_shown_s"]
    # the roll-up keeps a day to one point an hour (plus the bucket the day spills into)
    assert data["db_rollups_per_terminal_day"] <= 25
    assert data["db_bytes_per_terminal_day_rolled_up"] < data["db_bytes_per_terminal_day"]
