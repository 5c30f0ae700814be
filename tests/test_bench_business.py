"""The business bench walks every built-in flow to its end with its scripted answers.

No timing is asserted (numbers go into issue notes); this checks the walk still completes
when a flow gains a screen (it once hung on the tax list's new "reprint or done" screen).
"""

from __future__ import annotations

import threading

from kiosk.benchmarks.business import PLANS, flow_times


def test_every_flow_of_the_business_bench_completes() -> None:
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out.update(flow_times(1))  # one warm-up run, one measured
        except Exception as exc:  # noqa: BLE001 - reported below
            out["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(240)
    assert not t.is_alive(), "a flow waits for an answer the bench does not give"
    assert "error" not in out, out.get("error")
    assert set(out) == {f"flow_{f}_s" for f in PLANS}
