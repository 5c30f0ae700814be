"""`kiosk-ops` as scripts and people run it: stack, user/token, migrate, and two `serve`
instances sharing the ingest against one PostgreSQL, one of them killed mid-run."""

from __future__ import annotations

import io
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from opscentre.broker import BrokerSetup
from opscentre.cli import main
from opscentre.db import make_engine, make_sessionmaker
from opscentre.models import Event

KIOSK_OPS = [sys.executable, "-m", "opscentre.cli"]


class Running:
    """A `kiosk-ops` child process whose first stdout line is a JSON object."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([*KIOSK_OPS, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        self.stderr: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            self.proc.wait(10)
            raise AssertionError(f"kiosk-ops {args[0]} ended: {''.join(self.stderr)[-3000:]}")
        self.info: dict[str, Any] = json.loads(line)

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def health(self) -> dict[str, Any]:
        data: dict[str, Any] = requests.get(f"{self.info['console']}/healthz", timeout=5).json()
        return data

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(30)


@pytest.fixture
def running() -> Iterator[Any]:
    made: list[Running] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Running:
        made.append(Running(list(args), env))
        return made[-1]

    yield start
    for r in made:
        r.stop(signal.SIGKILL)


def test_stack_serves_the_console_with_its_login_and_token(  # type: ignore[no-untyped-def]
        tmp_path: Path, running, publishers, wait_for) -> None:
    stack = running("stack", "--dir", str(tmp_path / "stack"), "--json", "--simulated", "3")
    info = stack.info
    assert set(info) == {"console", "broker", "token", "login", "agent", "command_key",
                         "repository", "trusted_root"}
    assert info["agent"]["user"] == "agent" and info["agent"]["password"]
    api = f"{info['console']}/api/terminals"
    auth = {"Authorization": f"Bearer {info['token']}"}
    assert requests.get(api, timeout=5).status_code == 401
    assert requests.get(api, headers=auth, timeout=5).json() == []
    # the demo terminal's credentials are in the stack's folder
    setup = BrokerSetup.load(tmp_path / "stack")
    assert {"DG-DEMO-0001", "SIM-00001", "SIM-00003"} <= set(setup.terminals)
    demo = publishers("DG-DEMO-0001", setup=setup, password=setup.password("DG-DEMO-0001"))
    demo.send("state", "state", {"online": True, "session": "s1"})
    rows = wait_for(lambda: requests.get(api, headers=auth, timeout=5).json(),
                    what="the demo terminal listed")
    [row] = rows
    assert row["id"] == "DG-DEMO-0001" and row["online"] is True and row["last_seen"]
    # the login works on the console's login form
    s = requests.Session()
    page = s.get(f"{info['console']}/login", timeout=5)
    assert page.status_code == 200
    assert stack.stop() == 0
    assert not _listening(setup.port), "the stack's broker outlived it"
    again = running("stack", "--dir", str(tmp_path / "stack"), "--json")
    assert again.info["login"] == info["login"] and again.info["token"] == info["token"]
    assert again.info["agent"] == info["agent"]  # the hall agent's login is kept too


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_user_and_token_for_scripts(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    db = str(tmp_path / "centre.db")
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery staple\n"))
    assert main(["user", "add", "wang", "--role", "operator", "--db", db]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("another long password\n"))
    assert main(["user", "add", "wang", "--role", "viewer", "--db", db]) == 2
    assert "not added" in capsys.readouterr().err
    assert main(["token", "create", "nightly-report", "--db", db]) == 0
    token = capsys.readouterr().out.strip()
    assert token and token not in (tmp_path / "centre.db").read_bytes().decode("latin-1")
    assert main(["migrate", "--db", db]) == 0
    assert "revision" in capsys.readouterr().out


def test_serve_refuses_a_bad_broker_url_or_listen_address(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["serve", "--broker", "http://x", "--db", "x.db"]) == 2
    assert "mqtt://" in capsys.readouterr().err
    assert main(["serve", "--broker", "mqtt://127.0.0.1:1", "--listen", "8780"]) == 2
    assert "HOST:PORT" in capsys.readouterr().err


def test_two_instances_split_the_ingest_and_a_killed_one_loses_nothing(  # type: ignore[no-untyped-def]
        make_mosquitto, pg_url: str, running, publishers, wait_for) -> None:
    broker = make_mosquitto().start()
    env = {"KIOSK_OPS_BROKER_PASSWORD": broker.setup.password("opscentre")}

    def serve(name: str) -> Running:
        r = running("serve", "--broker", broker.setup.url, "--db", pg_url, "--listen",
                    "127.0.0.1:0", "--instance", name, env=env)
        wait_for(lambda: r.health()["ok"], what=f"instance {name} up")
        return r

    a, b = serve("a"), serve("b")
    ids = [f"P{n:02d}{secrets.token_hex(2)}" for n in range(8)]
    pubs = [publishers(t, broker) for t in ids]
    sent: list[str] = []

    def burst(n: int) -> None:
        for i in range(n):
            p = pubs[i % len(pubs)]
            sent.append(p.send("events", "warning", {"device": "receipt", "n": i}).id)

    engine = make_engine(pg_url)
    sessions = make_sessionmaker(engine)

    def stored() -> int:
        with sessions() as s:
            return int(s.scalar(select(func.count()).select_from(Event)) or 0)

    try:
        burst(400)
        wait_for(lambda: stored() == 400, what="the first 400 events")
        shares = [a.health()["ingest"]["applied"].get("events", 0),
                  b.health()["ingest"]["applied"].get("events", 0)]
        assert sum(shares) == 400 and min(shares) > 0, shares  # both took a share
        writer = threading.Thread(target=burst, args=(1200,))
        writer.start()
        wait_for(lambda: len(sent) > 900, what="publishing under way")
        a.stop(signal.SIGKILL)  # mid-run, holding messages it had not acknowledged
        writer.join()
        a = serve("a")  # the same instance comes back (as systemd would restart it)
        wait_for(lambda: stored() == 1600, timeout=60, what="all 1,600 events")
        with sessions() as s:
            assert sorted(s.scalars(select(Event.message_id))) == sorted(sent)
    finally:
        engine.dispose()


def test_the_simulated_fleet_reaches_the_console(tmp_path: Path, running, wait_for) -> None:  # type: ignore[no-untyped-def]
    """kiosk-ops stack + kiosk-ops simulate (the terminals' real fleet client): the centre
    reads their health as the terminal sends it, and the one that dies goes offline."""
    stack = running("stack", "--dir", str(tmp_path / "s"), "--json", "--simulated", "6")
    auth = {"Authorization": f"Bearer {stack.info['token']}"}
    api = f"{stack.info['console']}/api/terminals"
    sim = subprocess.run([*KIOSK_OPS, "simulate", "--stack", str(tmp_path / "s"),
                          "--terminals", "6", "--seconds", "6", "--health-interval", "1",
                          "--die", "1", "--offline", "0", "--seed", "7", "--json"],
                         capture_output=True, text=True, timeout=120)
    assert sim.returncode == 0, sim.stderr[-2000:]

    def fleet() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = requests.get(api, headers=auth, timeout=5).json()
        return [r for r in rows if r["id"].startswith("SIM-")]

    def six_seen() -> list[dict[str, Any]] | None:
        f = fleet()
        return f if len(f) == 6 and all(r["last_seen"] for r in f) else None

    rows = wait_for(six_seen, what="six simulated terminals")
    detail = requests.get(f"{api}/{rows[0]['id']}", headers=auth, timeout=5).json()
    assert detail["app_version"] and detail["devices"], detail  # the heartbeat body was read
    # the simulator has ended: those that said goodbye and the one that died are offline
    wait_for(lambda: all(r["online"] is False for r in fleet()), what="all offline at the end")
