"""An auto-answering agent for the remote-help bench (`python -m kiosk.benchmarks.assist_agent
URL COOKIE CSRF`): speaks the agent protocol of docs/assist.md over /assist/agent, goes on
duty, takes every waiting call and answers each offer with an aiortc peer sending a
640x480 picture at 15 fps and a tone, as a browser with a camera would. It runs in a process
of its own so that the bench's CPU figures are the terminal's alone.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import math
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from av import AudioFrame, VideoFrame


class Picture(MediaStreamTrack):
    """A camera stand-in: a bright square moving on grey, `fps` frames a second in real
    time (tests/assist's agent uses it too)."""

    kind = "video"

    def __init__(self, width: int = 640, height: int = 480, fps: int = 15) -> None:
        super().__init__()
        self.size, self.fps, self.n = (width, height), fps, 0
        self.t0 = 0.0

    async def recv(self) -> VideoFrame:
        self.t0 = self.t0 or time.monotonic()
        await asyncio.sleep(max(0.0, self.t0 + self.n / self.fps - time.monotonic()))
        w, h = self.size
        img = np.full((h, w, 3), 80, np.uint8)
        x = (self.n * 9) % (w - 80)
        img[h // 2 - 40:h // 2 + 40, x:x + 80] = (60, 180, 240)
        frame = VideoFrame.from_ndarray(img, format="bgr24")
        frame.pts, frame.time_base = self.n * 90_000 // self.fps, fractions.Fraction(1, 90_000)
        self.n += 1
        return frame


class Tone(MediaStreamTrack):
    """A voice stand-in: a sine of `hz` at `level` (of 32767), 20 ms frames in real time
    (tests/assist's agent uses it too)."""

    kind = "audio"

    def __init__(self, hz: float = 550.0, level: int = 8000) -> None:
        super().__init__()
        self.n, self.t0 = 0, 0.0
        self.hz, self.level = hz, level

    async def recv(self) -> AudioFrame:
        self.t0 = self.t0 or time.monotonic()
        await asyncio.sleep(max(0.0, self.t0 + self.n * 0.02 - time.monotonic()))
        t = (np.arange(960) + self.n * 960) / 48_000
        pcm = (self.level * np.sin(2 * math.pi * self.hz * t)).astype("<i2")
        frame = AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(pcm.tobytes())
        frame.sample_rate, frame.pts = 48_000, self.n * 960
        frame.time_base = fractions.Fraction(1, 48_000)
        self.n += 1
        return frame


def drain(track: Any, on_frame: Callable[[], None] | None = None) -> None:
    """Read `track` until it ends (media flows only while someone reads it); `on_frame`
    after each frame. The bench's bare loopback uses it too."""
    async def run() -> None:
        while True:
            try:
                await track.recv()
            except Exception:  # noqa: BLE001 - the track ended
                return
            if on_frame is not None:
                on_frame()

    asyncio.ensure_future(run())  # noqa: RUF006 - ends with the track


async def answer(offer: dict[str, Any], pcs: dict[str, RTCPeerConnection]) -> str:
    old = pcs.pop(offer["call"], None)
    if old is not None:
        await old.close()
    servers = [RTCIceServer(urls=s["urls"], username=s.get("username"),
                            credential=s.get("credential")) for s in offer["ice_servers"]]
    pc = RTCPeerConnection(RTCConfiguration(
        iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY
        if offer["ice_policy"] == "relay" else RTCIceTransportPolicy.ALL))
    pcs[offer["call"]] = pc

    pc.on("track", drain)

    await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
    pc.addTrack(Tone())
    pc.addTrack(Picture())
    await pc.setLocalDescription(await pc.createAnswer())
    return str(pc.localDescription.sdp)


async def serve(url: str, cookie: str, csrf: str) -> None:
    import aiohttp

    pcs: dict[str, RTCPeerConnection] = {}
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"{url}/assist/agent", headers={"Cookie": f"kops_session={cookie}"}) as ws:
        await ws.send_json({"type": "hello", "csrf": csrf})
        await ws.send_json({"type": "status", "state": "available"})
        print("ready", flush=True)
        async for msg in ws:
            m = json.loads(msg.data)
            if m["type"] == "queue":
                for c in m["calls"]:
                    if c["state"] == "waiting":
                        await ws.send_json({"type": "take", "call": c["call"]})
            elif m["type"] == "offer":
                await ws.send_json({"type": "answer", "call": m["call"],
                                    "sdp": await answer(m, pcs)})
            elif m["type"] == "ended":
                pc = pcs.pop(m["call"], None)
                if pc is not None:
                    await pc.close()
                await ws.send_json({"type": "end", "call": m["call"], "outcome": "resolved"})


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2], sys.argv[3]))
