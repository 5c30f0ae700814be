"""The fleet simulator: many terminals' real fleet clients in one process, scripted faults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fleet_helpers import wait_for

from opscentre.simulate import Options, main, simulate


def test_a_simulated_fleet_with_scripted_faults(mosquitto: Any, subscriber: Any) -> None:
    ids = [f"SIM-T{n:04d}" for n in range(12)]
    creds = mosquitto.provision(ids)
    watch = subscriber()
    report = simulate(Options(mosquitto.setup.url, creds, seconds=4.0, health_interval_s=0.4,
                              drivers=2, fault_share=0.5, offline_share=0.1, die=1, seed=7))
    assert report.terminals == 12 and report.connected_peak == 12
    assert report.events > 0 and report.events_pending == 0 and report.offline_periods == 1
    dead = report.died[0]
    wait_for(lambda: all(watch.on(t, "state") and not watch.bodies(t, "state")[-1]["body"][
        "online"] for t in ids), what="every terminal offline at the end")
    for t in ids:
        states = watch.bodies(t, "state")
        assert states[0]["body"]["online"] is True, t
        assert watch.on(t, "health"), t
        # the dead terminal's last word is its will; the others said goodbye
        assert states[-1]["body"]["reason"] == ("lost" if t == dead else "stopped"), t
    events = [e for t in ids for e in watch.bodies(t, "events")]
    assert len(events) == report.events  # each once, none lost in the offline period
    assert {e["type"] for e in events} <= {"warning", "fault", "recovered"}
    assert {"fault", "recovered"} <= {e["type"] for e in events}
    cut = [t for t in ids if t != dead and [b["body"]["reason"]
                                           for b in watch.bodies(t, "state")].count("lost")]
    assert len(cut) == 1  # the offline period: the will, then online again
    assert [b["body"]["online"] for b in watch.bodies(cut[0], "state")][:3] == [True, False,
                                                                              True]


def test_the_command_line(mosquitto: Any, tmp_path: Path, capsys: Any) -> None:
    ids = [f"SIM-C{n:04d}" for n in range(3)]
    creds_file = tmp_path / "creds.json"
    creds_file.write_text(json.dumps(mosquitto.provision(ids)))
    assert main(["--broker", mosquitto.setup.url, "--credentials", str(creds_file),
                 "--terminals", "3", "--seconds", "1", "--health-interval", "0.2",
                 "--die", "0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["terminals"] == 3 and out["health_sent"] >= 3
    assert main(["--broker", mosquitto.setup.url, "--credentials", str(creds_file),
                 "--terminals", "4", "--seconds", "1"]) == 2
    assert "credentials for 3" in capsys.readouterr().err
    assert main(["--terminals", "1", "--seconds", "1"]) == 2
