"""Peers for the terminal's call engine (kiosk/assist/engine.py), all real and on loopback:

- `Coturn`: a private coturn (`turnserver`) with a generated REST secret, stoppable and
  startable again on the same port (a network drop that comes back);
- `Centre`: the operations centre's side of the terminal protocol (docs/assist.md) as an
  aiohttp WebSocket server, with the agent as a second aiortc peer speaking WebRTC to the
  terminal (audio tone + moving picture out, counts what arrives, proposes over the data
  channel). The real hub and the agent in Chromium are tested in test_assist_e2e.py.

Nothing here imports the engine: the tests drive the terminal's code, these are its peers.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from kiosk.benchmarks.assist_agent import Picture, Tone

WAIT_S = 20.0  # bounds a hang; nothing is timed


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


# -- coturn -------------------------------------------------------------------------------
class Coturn:
    """coturn on 127.0.0.1 with the REST (use-auth-secret) scheme the centre hands out."""

    def __init__(self, folder: Path) -> None:
        self.dir = folder
        self.binary = shutil.which("turnserver") or "/usr/bin/turnserver"
        self.secret = secrets.token_hex(16)
        self.port = free_port(socket.SOCK_DGRAM)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
             f"--listening-port={self.port}", "--use-auth-secret",
             f"--static-auth-secret={self.secret}", "--realm=kiosk", "--no-tls", "--no-dtls",
             "--no-tcp", "--allow-loopback-peers", "--no-cli", "--log-file=stdout",
             "--no-software-attribute", f"--pidfile={self.dir}/turn.pid",
             f"--userdb={self.dir}/turndb"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._drain, args=(self.proc.stdout,), daemon=True).start()
        wait_until(self._answers_stun, "coturn to answer STUN")

    def _answers_stun(self) -> bool:
        """A STUN Binding request on the TURN port gets a response: coturn listens."""
        request = struct.pack("!HHI", 1, 0, 0x2112A442) + secrets.token_bytes(12)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            s.sendto(request, ("127.0.0.1", self.port))
            try:
                data = s.recv(2048)
            except OSError:
                return False
        return data[:2] == b"\x01\x01"

    @staticmethod
    def _drain(out: Any) -> None:
        for _ in out:
            pass

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def ice_server(self, call: str, ttl_s: int = 600) -> dict[str, Any]:
        username = f"{int(time.time()) + ttl_s}:{call}"
        digest = hmac.new(self.secret.encode(), username.encode(), hashlib.sha1).digest()
        return {"urls": [f"turn:127.0.0.1:{self.port}?transport=udp"], "username": username,
                "credential": base64.b64encode(digest).decode()}


# -- the agent: a second aiortc peer ----------------------------------------------------------
def ToneTrack() -> MediaStreamTrack:
    """The agent's voice: a 660 Hz tone at half scale, 20 ms frames in real time."""
    return Tone(hz=660.0, level=16000)


def PictureTrack() -> MediaStreamTrack:
    """The agent's video: 320x240 at 10 fps, a bright square moving on grey."""
    return Picture(320, 240, 10)


@dataclass
class AgentMedia:
    """What the agent's peer received from the terminal on one connection."""

    video_frames: int = 0
    video_size: tuple[int, int] = (0, 0)
    audio_frames: int = 0
    audio_peak: int = 0
    video_mean: float = 0.0  # brightness of the last picture (black while held)
    channel_messages: list[dict[str, Any]] = field(default_factory=list)
    offer_candidates: tuple[str, ...] = ()  # candidate types in the terminal's offer


class Agent:
    """The agent's WebRTC side: answers the terminal's offers (one pc per offer)."""

    def __init__(self) -> None:
        self.pcs: list[RTCPeerConnection] = []
        self.media: list[AgentMedia] = []
        self.channel: Any = None
        self.send_media = True
        self.tasks: list[asyncio.Future[None]] = []

    async def answer(self, sdp: str, ice_servers: list[dict[str, Any]], policy: str) -> str:
        await self.close()
        config = RTCConfiguration(
            iceServers=[RTCIceServer(**s) for s in ice_servers],
            iceTransportPolicy=RTCIceTransportPolicy.RELAY if policy == "relay"
            else RTCIceTransportPolicy.ALL)
        pc = RTCPeerConnection(config)
        media = AgentMedia(offer_candidates=tuple(
            line.split(" typ ")[1].split()[0] for line in sdp.splitlines()
            if line.startswith("a=candidate:")))
        self.pcs.append(pc)
        self.media.append(media)

        @pc.on("datachannel")
        def _channel(channel: Any) -> None:
            self.channel = channel

            @channel.on("message")
            def _msg(data: Any) -> None:
                media.channel_messages.append(json.loads(data))

        @pc.on("track")
        def _track(track: Any) -> None:
            self.tasks.append(asyncio.ensure_future(self._count(track, media)))

        await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        if self.send_media:
            pc.addTrack(ToneTrack())
            pc.addTrack(PictureTrack())
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    @staticmethod
    async def _count(track: Any, media: AgentMedia) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:  # the track ended
                return
            if track.kind == "video":
                media.video_frames += 1
                media.video_size = (frame.width, frame.height)
                media.video_mean = float(frame.to_ndarray(format="gray").mean())
            else:
                media.audio_frames += 1
                pcm = frame.to_ndarray()
                media.audio_peak = max(media.audio_peak, int(np.abs(pcm).max()))

    async def close(self) -> None:
        """Close every connection; one stuck on a dead TURN server is left behind."""
        for pc in self.pcs:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pc.close(), 1.0)


# -- the centre's terminal side -------------------------------------------------------------
@dataclass
class Script:
    """How the emulated centre treats the next call."""

    answer: bool = True  # False: queue it and never answer (ring timeout)
    unavailable: bool = False
    forget_calls: bool = False  # a socket that comes back is told the call is over
    ice_policy: str = "all"
    turn: Coturn | None = None
    agent_name: str = "工作人员 07"
    agent_media: bool = True  # False: an agent with no camera or microphone


class Centre:
    """`/assist/terminal` on 127.0.0.1: Basic auth, queue, answer, relays SDP to `agent`."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.script = Script()
        self.received: list[dict[str, Any]] = []
        self.sockets = 0
        self.agent = Agent()
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.ws: web.WebSocketResponse | None = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True, name="centre")
        self.thread.start()
        assert self._ready.wait(WAIT_S)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/assist/terminal", self._terminal)
        runner = web.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self.loop.run_forever()

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the centre's loop from the test's thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(WAIT_S)

    def reset(self, script: Script) -> None:
        self.run(self.agent.close())
        self.script, self.received, self.agent = script, [], Agent()
        self.agent.send_media = script.agent_media

    def send(self, message: dict[str, Any]) -> None:
        async def _send() -> None:
            assert self.ws is not None
            await self.ws.send_json(message)

        self.run(_send())

    def drop_socket(self) -> None:
        async def _drop() -> None:
            assert self.ws is not None
            await self.ws.close(code=1006)

        self.run(_drop())

    def propose(self, message: dict[str, Any]) -> None:
        async def _send() -> None:
            self.agent.channel.send(json.dumps(message))

        self.run(_send())

    def messages(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in list(self.received) if m.get("type") == kind]

    async def _terminal(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets += 1
        expected = "Basic " + base64.b64encode(f"DG-T-0001:{self.password}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            await ws.close(code=4401)
            return ws
        self.ws = ws
        s = self.script
        ice: list[dict[str, Any]] = []
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            obj = json.loads(msg.data)
            self.received.append(obj)
            if obj["type"] == "call":
                if s.forget_calls and len(self.messages("call")) > 1:
                    await ws.send_json({"type": "error", "error": "call_ended"})
                    await ws.close()
                    break
                if s.unavailable:
                    await ws.send_json({"type": "unavailable", "reason": "no_agent"})
                    await ws.close()
                    break
                await ws.send_json({"type": "queued", "call": obj["call"], "position": 2,
                                    "wait_s": 90, "agents": 1})
                if s.answer:
                    await ws.send_json({"type": "queued", "call": obj["call"], "position": 1,
                                        "wait_s": 30, "agents": 1})
                    ice = [s.turn.ice_server(obj["call"])] if s.turn else []
                    await ws.send_json({"type": "answered", "agent": s.agent_name,
                                        "ice_servers": ice, "ice_policy": s.ice_policy})
            elif obj["type"] == "offer":
                sdp = await self.agent.answer(obj["sdp"], ice, s.ice_policy)
                await ws.send_json({"type": "answer", "sdp": sdp})
            elif obj["type"] == "hangup":
                await ws.close()
        return ws

    def stop(self) -> None:
        self.run(self._shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()

    async def _shutdown(self) -> None:
        """Close the agent and cancel what aioice left retrying (a TURN deallocation on a
        stopped coturn), so no task outlives the loop."""
        await self.agent.close()
        for _ in range(5):
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if not tasks:
                return
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=2.0)


# -- the terminal's events ---------------------------------------------------------------------
class Events:
    """Collects the engine's CallEvents (on its thread) for the test to wait on."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._cond = threading.Condition()

    def __call__(self, event: Any) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()

    def kinds(self) -> list[str]:
        with self._cond:
            return [e.kind for e in self.items]

    def wait(self, kind: str, timeout: float = WAIT_S, after: int = 0) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for e in self.items[after:]:
                    if e.kind == kind:
                        return e
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no {kind!r} event; got {[e.kind for e in self.items]}"
                self._cond.wait(remaining)
