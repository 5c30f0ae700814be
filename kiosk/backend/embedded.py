"""Start the reference backend as a child process on 127.0.0.1 (demo, dev, tests)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time

import requests


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
        self.proc = subprocess.Popen(
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
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
