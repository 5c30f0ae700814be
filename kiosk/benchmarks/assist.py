"""Remote help benchmarks (docs/assist.md): the terminal's call engine on loopback, against
the operations centre's hub and an auto-answering agent, each in a process of its own
(the terminal imports nothing of the centre; the CPU figures are the terminal's alone).

- `assist_help_to_media_s`: `AssistCall.start()` (the citizen pressed help and agreed) to
  the first `media` event (the agent's first sound or picture), median of `repeat` calls.
  `_baseline`: a bare aiortc connection set up in this process between two peers (offer,
  answer, ICE, DTLS) to the first frame received: the floor WebRTC itself costs.
- `assist_cpu_s_per_call_s`: CPU seconds of the terminal's process per second of a call at
  the defaults (640x480, 15 fps, 600 kbps; the sim camera and microphone).
  `_baseline`: the same camera captured for the same time with nobody calling.
- `assist_sent_bytes_per_s`: what the terminal sends during that call (transport bytes:
  video, audio, RTCP, data channel). `_baseline`: a bare aiortc connection sending the same
  camera's frames for the same time (aiortc's encoder at its own defaults).

The centre needs the `opscentre` package (a development machine); without it the figures
are left out and the reason goes to stderr.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# Seconds of call measured for CPU and bandwidth; the key check shortens it (the keys,
# not the figures: tests/test_bench_baselines.py).
CALL_S = float(os.environ.get("KIOSK_BENCH_ASSIST_CALL_S", "5"))
WAIT_S = 30.0

# The centre's process: the real hub on SQLite with one agent account, signed in. A
# string run by `python -c` because the terminal's packages may not import the centre's.
CENTRE = r"""
import json, sys
from pathlib import Path
import uvicorn
from opscentre import auth
from opscentre.broker import hash_password
from opscentre.db import make_engine, make_sessionmaker, upgrade
from opscentre.settings import AssistSettings, CentreSettings
from opscentre.web import create_app

root, port, terminal, password, agent_pw = Path(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:6]
(root / "passwd").write_text(f"{terminal}:{hash_password(password)}\n")
engine = make_engine(f"sqlite:///{root / 'centre.db'}")
upgrade(engine)
sessions = make_sessionmaker(engine)
with sessions() as s:
    auth.add_user(s, "bench-agent", "agent", agent_pw, by="bench")
with sessions() as s:
    who, cookie = auth.login(s, "bench-agent", agent_pw, "127.0.0.1")
print(json.dumps({"cookie": cookie, "csrf": who.csrf}), flush=True)
settings = CentreSettings(assist=AssistSettings(terminal_password_file=str(root / "passwd"),
                                                reconnect_grace_s=0))
uvicorn.run(create_app(sessions, settings), host="127.0.0.1", port=port, log_level="warning",
            lifespan="off")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class _Site:
    """The centre and the agent, started and stopped with the bench."""

    def __init__(self, root: Path) -> None:
        self.port = _free_port()
        self.terminal, self.password = "DG-BENCH-01", secrets.token_hex(12)
        self.procs: list[subprocess.Popen[str]] = []
        centre = self._spawn([sys.executable, "-c", CENTRE, str(root), str(self.port),
                              self.terminal, self.password, secrets.token_hex(12)])
        assert centre.stdout is not None
        login = json.loads(centre.stdout.readline() or "null")
        if not login:
            raise RuntimeError("the centre did not start (is opscentre installed?)")
        self._wait_port()
        agent = self._spawn([sys.executable, "-m", "kiosk.benchmarks.assist_agent",
                             f"ws://127.0.0.1:{self.port}", login["cookie"], login["csrf"]])
        assert agent.stdout is not None
        if agent.stdout.readline().strip() != "ready":
            raise RuntimeError("the bench agent did not start")

    def _spawn(self, argv: list[str]) -> subprocess.Popen[str]:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True)
        self.procs.append(proc)
        return proc

    def _wait_port(self) -> None:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("the centre does not listen")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


class _Waiter:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.cond = threading.Condition()

    def __call__(self, event: Any) -> None:
        with self.cond:
            self.events.append((time.perf_counter(), event))
            self.cond.notify_all()

    def wait(self, kind: str) -> float:
        deadline = time.monotonic() + WAIT_S
        with self.cond:
            while True:
                for at, e in self.events:
                    if e.kind == kind:
                        return float(at)
                    if e.kind == "ended":
                        raise RuntimeError(f"call ended ({e.reason}) before {kind}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no {kind}")
                self.cond.wait(0.1)


def _devices() -> Any:
    from kiosk.assist.engine import CallDevices
    from kiosk.devices.registry import create_device

    devs = [create_device("camera", "sim://?size=640x480&fps=15"),
            create_device("microphone", "sim://"), create_device("speaker", "sim://")]
    for d in devs:
        d.open()
    return CallDevices(*devs)  # type: ignore[arg-type]


def _call(site: _Site, devices: Any, hold_s: float = 0.0) -> dict[str, float]:
    from kiosk.assist.engine import AssistCall, AssistSettings

    waiter = _Waiter()
    call = AssistCall(AssistSettings(centre_url=f"ws://127.0.0.1:{site.port}",
                                     terminal_id=site.terminal, password=site.password),
                      devices, waiter)
    t0 = time.perf_counter()
    call.start(service="social_security_certificate", service_title="", lang="zh_CN")
    out = {"to_media_s": waiter.wait("media") - t0}
    if hold_s:
        cpu0, stats0, w0 = _cpu_s(), call.stats(), time.monotonic()
        time.sleep(hold_s)
        stats1, elapsed = call.stats(), time.monotonic() - w0
        out["cpu_per_s"] = (_cpu_s() - cpu0) / elapsed
        # stats are polled once a second: the rate over the polled span
        span = max(1e-6, stats1.seconds - stats0.seconds)
        out["sent_per_s"] = (stats1.bytes_sent - stats0.bytes_sent) / span
    call.hang_up()
    waiter.wait("ended")
    call.join(WAIT_S)
    return out


def _warm(site: _Site, devices: Any) -> None:
    """One call before measuring (imports, codecs, the hub's first call); the agent's
    "available" may still be on its way to the hub, so a call nobody takes is tried again."""
    for attempt in range(20):
        try:
            _call(site, devices)
            return
        except RuntimeError:
            if attempt == 19:
                raise
            time.sleep(0.1)


def _camera_alone(devices: Any, seconds: float) -> float:
    """CPU seconds per second with only the camera captured (nobody calling)."""
    unsubscribe = devices.camera.subscribe(lambda _f: None)
    try:
        devices.camera.wait_frame(0, 5.0)
        cpu0, w0 = _cpu_s(), time.monotonic()
        time.sleep(seconds)
        return (_cpu_s() - cpu0) / (time.monotonic() - w0)
    finally:
        unsubscribe()


async def _bare(camera: Any, seconds: float) -> tuple[float, float]:
    """A bare aiortc loopback: (set-up to first frame, bytes/s sent over `seconds`)."""
    from aiortc import RTCPeerConnection, VideoStreamTrack

    from kiosk.assist.media import CameraFeed, CameraTrack
    from kiosk.benchmarks.assist_agent import drain

    feed = CameraFeed(camera)
    feed.start()
    a, b = RTCPeerConnection(), RTCPeerConnection()
    got = asyncio.get_running_loop().create_future()

    def first_frame() -> None:
        if not got.done():
            got.set_result(time.perf_counter())

    b.on("track", lambda track: drain(track, first_frame))

    try:
        t0 = time.perf_counter()
        a.addTrack(CameraTrack(feed, 640, 480, 15, lambda: False))
        b.addTrack(VideoStreamTrack())
        await a.setLocalDescription(await a.createOffer())
        await b.setRemoteDescription(a.localDescription)
        await b.setLocalDescription(await b.createAnswer())
        await a.setRemoteDescription(b.localDescription)
        first = await asyncio.wait_for(got, WAIT_S)
        sent0, w0 = await _sent(a), time.monotonic()
        await asyncio.sleep(seconds)
        rate = (await _sent(a) - sent0) / (time.monotonic() - w0)
        return first - t0, rate
    finally:
        await a.close()
        await b.close()
        feed.release()


async def _sent(pc: Any) -> int:
    report = await pc.getStats()
    return sum(s.bytesSent for s in report.values() if s.type == "transport")


def measure(repeat: int) -> dict[str, float]:
    try:
        import aiortc  # noqa: F401 - the terminal's WebRTC stack
    except ImportError as exc:
        print(f"bench assist: skipped ({exc})", file=sys.stderr)
        return {}
    devices = _devices()
    with tempfile.TemporaryDirectory(prefix="kiosk-assist-bench-") as tmp:
        try:
            site = _Site(Path(tmp))
        except (RuntimeError, OSError, ValueError) as exc:
            print(f"bench assist: no centre ({exc})", file=sys.stderr)
            return {}
        try:
            _warm(site, devices)
            setups = [_call(site, devices)["to_media_s"] for _ in range(max(repeat, 3))]
            long_call = _call(site, devices, hold_s=CALL_S)
        finally:
            site.stop()
    bare = [asyncio.run(_bare(devices.camera, 0.0))[0] for _ in range(max(repeat, 3))]
    _, bare_rate = asyncio.run(_bare(devices.camera, CALL_S))
    cam_cpu = _camera_alone(devices, CALL_S)
    for d in (devices.camera, devices.microphone, devices.speaker):
        d.close()
    return {
        "assist_help_to_media_s": round(statistics.median(setups), 3),
        "assist_help_to_media_s_baseline": round(statistics.median(bare), 3),
        "assist_cpu_s_per_call_s": round(long_call["cpu_per_s"], 3),
        "assist_cpu_s_per_call_s_baseline": round(cam_cpu, 3),
        "assist_sent_bytes_per_s": round(long_call["sent_per_s"], 1),
        "assist_sent_bytes_per_s_baseline": round(bare_rate, 1),
    }


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    print(json.dumps(measure(1)))
