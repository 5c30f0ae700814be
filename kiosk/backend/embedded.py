"""Start the reference backend as a child process on 127.0.0.1 (demo, dev, tests).

The child must never outlive the kiosk (two orphaned backends were found after a crash at
start). Three layers see to it:

- `child_guard.py` runs first in the child and sets PR_SET_PDEATHSIG (Linux), so the
  kernel sends SIGTERM when the parent dies in any way, SIGKILL included; it also closes
  the race where the parent died before that was set;
- the death signal follows the *thread* that forked the child, so children are forked by
  one spawner thread that lives as long as the process, never by a worker thread that
  may end first (the kiosk starts the backend on whatever thread it likes);
- the child leads its own process group, and `stop()` ends the whole group (SIGTERM,
  then SIGKILL), so nothing it started is left either.
"""

from __future__ import annotations

import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import requests

GUARD = Path(__file__).with_name("child_guard.py")


class _Spawner:
    """One daemon thread that forks every guarded child. It is never joined, so it ends
    only with the process: exactly when the children's death signal should fire."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.jobs: queue.SimpleQueue[tuple[Future[subprocess.Popen[bytes]], list[str],
                                           dict[str, Any]]] = queue.SimpleQueue()
        threading.Thread(target=self._run, daemon=True, name="child-spawner").start()

    def _run(self) -> None:
        while True:
            future, argv, popen = self.jobs.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(subprocess.Popen(argv, **popen))
                except Exception as exc:  # noqa: BLE001 (handed to the caller, who raises it)
                    future.set_exception(exc)

    def popen(self, argv: list[str], popen: dict[str, Any]) -> subprocess.Popen[bytes]:
        future: Future[subprocess.Popen[bytes]] = Future()
        self.jobs.put((future, argv, popen))
        return future.result()


_spawner: _Spawner | None = None
_spawner_lock = threading.Lock()


def spawn_guarded(argv: list[str], **popen: Any) -> subprocess.Popen[bytes]:
    """Popen `argv` as a child that dies with this process, in its own process group."""
    global _spawner
    with _spawner_lock:
        if _spawner is None or _spawner.pid != os.getpid():  # none yet, or we were forked
            _spawner = _Spawner()
        spawner = _spawner
    guarded = [sys.executable, str(GUARD), str(os.getpid()), *argv]
    return spawner.popen(guarded, {**popen, "start_new_session": True})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedBackend:
    """The reference backend in a child process, with a fresh secret for one terminal."""

    def __init__(self, terminal_id: str, secret: bytes | None = None, port: int | None = None,
                 extra_args: list[str] | None = None) -> None:
        self.terminal_id = terminal_id
        self.secret = secret or secrets.token_bytes(32)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> EmbeddedBackend:
        env = dict(os.environ)
        env["REFBACKEND_TERMINALS"] = f"{self.terminal_id}:{self.secret.hex()}"
        self.proc = spawn_guarded(
            [sys.executable, "-m", "reference_backend", "--host", "127.0.0.1",
             "--port", str(self.port), *self.extra_args],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        return self

    def wait_ready(self, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"reference backend exited: {err[-2000:]}")
            try:
                if requests.get(self.url + "/health", timeout=0.5).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """End the backend and anything it started (its process group)."""
        # The group is signalled only while its leader is not reaped yet: after that its
        # number may belong to someone else's group.
        if self.proc and self.proc.poll() is None:
            _signal_group(self.proc, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                _signal_group(self.proc, signal.SIGKILL)
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)  # the child leads its group (start_new_session)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone already


class EmbeddedCity(EmbeddedBackend):
    """The reference city platform (`reference_backend.city`) in a child process, with one
    OAuth2 client made for this terminal (issue 17: the demo's 广州专区)."""

    def __init__(self, client_id: str, client_secret: str | None = None,
                 port: int | None = None, token_lifetime_s: int = 300,
                 admin_token: str = "") -> None:
        super().__init__(client_id, port=port)
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.token_lifetime_s = token_lifetime_s
        self.admin_token = admin_token

    def start(self) -> EmbeddedCity:
        env = dict(os.environ)
        env["REFCITY_CLIENTS"] = f"{self.client_id}:{self.client_secret}"
        env["REFCITY_ADMIN_TOKEN"] = self.admin_token
        self.proc = spawn_guarded(
            [sys.executable, "-m", "reference_backend.city", "--host", "127.0.0.1",
             "--port", str(self.port), "--token-lifetime", str(self.token_lifetime_s)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        return self

    def serve(self, cfg: Any, platforms: Any, secret_file: Path) -> Any:
        """`cfg` (a kiosk.config.Config) with `[platforms.<id>]` of every id in `platforms`
        on this city platform, its client secret in `secret_file` (0600), for runtimes that
        are wired by hand (pack preview) and call `start_platforms()`."""
        from dataclasses import replace

        from kiosk.config import PlatformConfig

        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.client_secret)
        one = PlatformConfig(base_url=self.url, auth="oauth2", client_id=self.client_id,
                             client_secret_file=str(secret_file))
        return replace(cfg, platforms={**cfg.platforms, **dict.fromkeys(platforms, one)})
