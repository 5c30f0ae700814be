"""Peers for driving the real kiosk from outside: X servers, a Wayland kiosk compositor,
real input events, screenshots.

- `XDisplay`: Xvfb, or Xephyr (resizeable, inside an Xvfb host) for a screen whose
  resolution changes under the app — both bare, with no window manager, like a terminal
  started by `xinit … kiosk run`.
- `Cage`: the cage kiosk compositor on its headless backend (it refuses to run as root, so
  it runs as `nobody`; the kiosk connects to its socket).
- `Kiosk`: `kiosk run` as a child process with `$KIOSK_UI_PROBE`, so the test knows where
  each control is (kiosk/ui/probe.py) and taps it with xdotool: the app only ever sees
  real pointer events from the X server.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing tools {missing}: scripts/setup installs them")


def _free_display() -> int:
    for n in range(140, 400):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number")


def _wait(cond: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class XDisplay:
    """A bare X server (no window manager). `resizeable`: Xephyr (inside an Xvfb host),
    whose resolution and rotation RandR can change while clients run (Xvfb's cannot)."""

    def __init__(self, width: int, height: int, *, resizeable: bool = False) -> None:
        need("Xvfb", "xdotool", "import", "xrandr")
        self.procs: list[subprocess.Popen[bytes]] = []
        self.resizeable = resizeable
        if resizeable:
            need("Xephyr")
            self.host = f":{_free_display()}"
            self._start(["Xvfb", self.host, "-screen", "0", "2200x2200x24", "-nolisten", "tcp"],
                        self.host)
            self.name = f":{_free_display()}"
            self._start(["Xephyr", self.name, "-screen", f"{width}x{height}", "-resizeable",
                         "-nolisten", "tcp"], self.name, display=self.host)
        else:
            self.name = f":{_free_display()}"
            self._start(["Xvfb", self.name, "-screen", "0", f"{width}x{height}x24",
                         "-nolisten", "tcp"], self.name)

    def _start(self, cmd: list[str], name: str, display: str | None = None) -> None:
        env = dict(os.environ)
        if display:
            env["DISPLAY"] = display
        self.procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL))
        sock = Path(f"/tmp/.X11-unix/X{name[1:]}")
        _wait(sock.exists, 20, f"X server {name}")
        _wait(lambda: subprocess.run(["xdotool", "getdisplaygeometry"],
                                     env=dict(env, DISPLAY=name), capture_output=True
                                     ).returncode == 0, 20, f"X server {name} answering")

    def env(self) -> dict[str, str]:
        return {"DISPLAY": self.name}

    def xdotool(self, *args: str) -> str:
        out = subprocess.run(["xdotool", *args], env=dict(os.environ, DISPLAY=self.name),
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip()

    def size(self) -> tuple[int, int]:
        w, h = self.xdotool("getdisplaygeometry").split()
        return int(w), int(h)

    def resize(self, width: int, height: int) -> None:
        """Change the screen's resolution with RandR, as a technician would with xrandr; a
        portrait size is the landscape mode rotated (a panel turned on its side)."""
        assert self.resizeable
        w, h = max(width, height), min(width, height)
        subprocess.run(["xrandr", "-s", f"{w}x{h}", "-o", "left" if height > width else "normal"],
                       env=dict(os.environ, DISPLAY=self.name), capture_output=True, timeout=20)
        _wait(lambda: self.size() == (width, height), 20, f"screen {width}x{height}")

    def click(self, x: int, y: int) -> None:
        self.xdotool("mousemove", "--sync", str(x), str(y))
        self.xdotool("click", "1")

    def screenshot(self, path: Path) -> Path:
        subprocess.run(["import", "-display", self.name, "-window", "root", str(path)],
                       check=True, timeout=30)
        return path

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


class Cage:
    """The cage kiosk compositor, headless (wlroots), run as `nobody`."""

    def __init__(self, tmp: Path) -> None:
        need("cage", "setpriv")
        # Not under pytest's tmp folder: `nobody` cannot enter root's private folders.
        self.runtime = Path(tempfile.mkdtemp(prefix="cage-"))
        shutil.chown(self.runtime, "nobody", "nogroup")
        env = dict(os.environ, HOME=str(self.runtime), XDG_RUNTIME_DIR=str(self.runtime),
                   WLR_BACKENDS="headless", WLR_LIBINPUT_NO_DEVICES="1",
                   WLR_HEADLESS_OUTPUTS="1", WLR_RENDERER="pixman")
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
        # cage refuses to run as root ("Unable to drop root"); its one application is a
        # placeholder — it shows every toplevel full screen, ours included.
        self.proc = subprocess.Popen(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             "cage", "-d", "--", "sleep", "3600"], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.socket = _wait(lambda: next(iter(self.runtime.glob("wayland-[0-9]")), None), 20,
                            "cage's Wayland socket")

    def env(self) -> dict[str, str]:
        return {"XDG_RUNTIME_DIR": str(self.runtime), "WAYLAND_DISPLAY": self.socket.name,
                "QT_QPA_PLATFORM": "wayland"}

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.runtime, ignore_errors=True)


class Kiosk:
    """`kiosk run` on a display, with simulated devices and the embedded platform."""

    def __init__(self, tmp: Path, display_env: dict[str, str], *, locale: str = "zh_CN",
                 idle_timeout_s: float = 600, extra: str = "") -> None:
        self.tmp = tmp
        self.probe = tmp / "probe.json"
        cfg = tmp / "kiosk.toml"
        cfg.write_text(f"""
[terminal]
id = "DG-TEST-0042"
locale = "{locale}"
[devices]
idcard = "sim://?card=chen&delay_ms=300"
receipt = "sim://?spool={tmp / 'receipt'}"
a4 = "sim://?spool={tmp / 'a4'}"
[session]
idle_timeout_s = {idle_timeout_s}
countdown_s = 10
[ui]
fullscreen = true
voice = false
[storage]
data_dir = "{tmp / 'data'}"
{extra}
""", encoding="utf-8")
        env = {k: v for k, v in os.environ.items()
               if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
        env.update(display_env, KIOSK_CONFIG=str(cfg), KIOSK_UI_PROBE=str(self.probe))
        self.log = (tmp / "kiosk.out").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run"], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO,
                                     start_new_session=True)

    def state(self) -> dict[str, Any]:
        try:
            return json.loads(self.probe.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def wait(self, cond: Callable[[dict[str, Any]], bool], what: str, timeout: float = 30
             ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"kiosk exited ({self.proc.returncode}):\n"
                                     + (self.tmp / "kiosk.out").read_text(errors="replace")[-3000:])
            s = self.state()
            return s if s and cond(s) else None
        try:
            return _wait(check, timeout, what)
        except AssertionError as err:
            state = json.dumps(self.state(), ensure_ascii=False)[:1500]
            raise AssertionError(f"{err}; last state: {state}") from None

    def screen(self, name: str, timeout: float = 30) -> dict[str, Any]:
        return self.wait(lambda s: s.get("screen") == name or
                         s.get("screen", "").endswith(name), f"screen {name}", timeout)

    def control(self, state: dict[str, Any], *, name: str = "", key: str = "", text: str = "",
                flow: str = "") -> dict[str, Any]:
        for c in state["controls"]:
            if ((not name or c["name"] == name) and (not key or c["key"] == key)
                    and (not text or c["text"] == text) and (not flow or c["flow"] == flow)):
                return c
        raise AssertionError(f"no control name={name!r} key={key!r} text={text!r} flow={flow!r}"
                             f" on {state.get('screen')}: "
                             f"{[(c['name'], c['text']) for c in state['controls']]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()
