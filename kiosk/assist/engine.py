"""The terminal's call engine for remote help (docs/assist.md).

`AssistCall` runs one call at a time on its own daemon thread with its own asyncio loop:
the signalling WebSocket to the operations centre, the aiortc peer connection (the
terminal always offers), the camera and microphone tracks, the agent's video and voice,
the `assist` data channel, reconnection after a drop, the ring timeout and hold. Nothing
it does blocks the caller (the Qt UI thread): `start`, `hang_up` and `send` only hand
work to the loop. Every path ends in one clean-up that releases camera and microphone,
stops the speaker and then delivers `ended`, exactly once per `start`. Nothing of the
call is written to disk; logs carry the call's id and reasons, never what was said,
shown or typed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from kiosk.assist import signalling as sig
from kiosk.assist.media import (
    CameraFeed,
    CameraTrack,
    MicFeed,
    MicTrack,
    RemoteVideo,
    cap_bitrate,
    limit_remote_bitrate,
    play_audio,
    play_video,
)
from kiosk.devices.camera.api import Camera, FrameSource
from kiosk.devices.microphone.api import Microphone
from kiosk.devices.speaker.api import Speaker

log = logging.getLogger(__name__)

ENDED_REASONS = frozenset({"citizen", "no_answer", "agent", "agent_gone", "dropped",
                           "session_end", "idle", "error", "centre_shutdown",
                           "refused_login", "no_centre"})
MAX_CHANNEL_MESSAGE = 256 * 1024
CLOSE_WAIT_S = 2.0  # how long the end of a call waits for aiortc to close its connections


@dataclass(frozen=True)
class CallEvent:
    """What happened to the call, delivered on the engine's thread (docs/assist.md)."""

    kind: str
    position: int = 0
    wait_s: int = 0
    agents: int = 0
    agent: str = ""
    reason: str = ""
    message: dict[str, Any] | None = None


@dataclass(frozen=True)
class AssistSettings:
    centre_url: str
    terminal_id: str
    password: str = field(repr=False)
    ca_file: str = ""
    ring_timeout_s: float = 60.0
    reconnect_s: float = 20.0
    video_width: int = 640
    video_height: int = 480
    video_fps: int = 15
    max_bitrate_kbps: int = 600
    # No sound or picture from the agent for this long on a connected, unheld call counts
    # as a drop (aioice's own consent check takes 30 s to notice).
    media_timeout_s: float = 3.0
    connect_timeout_s: float = 10.0

    @classmethod
    def from_config(cls, cfg: Any, password: str) -> AssistSettings:
        a = cfg.assist
        return cls(centre_url=a.centre_url, terminal_id=cfg.terminal.id, password=password,
                   ca_file=a.ca_file, ring_timeout_s=a.ring_timeout_s,
                   reconnect_s=a.reconnect_s, video_width=a.video_width,
                   video_height=a.video_height, video_fps=a.video_fps,
                   max_bitrate_kbps=a.max_bitrate_kbps)


@dataclass(frozen=True)
class CallDevices:
    camera: Camera | None = None
    microphone: Microphone | None = None
    speaker: Speaker | None = None


@dataclass(frozen=True)
class CallStats:
    """Counters for the bench and the technician (cumulative over reconnections)."""

    bytes_sent: int = 0
    bytes_received: int = 0
    packets_sent: int = 0
    packets_received: int = 0
    frames_sent: int = 0
    frames_received: int = 0
    fps_out: float = 0.0
    fps_in: float = 0.0
    rtt_s: float = 0.0
    connections: int = 0  # peer connections made in this call (1 + reconnections/transfers)
    seconds: float = 0.0  # since the first connection


class _SocketLost(Exception):
    """The signalling socket closed under a call that is not over."""


class _Done(Exception):
    """The call is over, for `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Link:
    """One peer connection of the call (a call has a new one after a drop or transfer)."""

    gen: int
    pc: Any
    channel: Any = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    connected: bool = False
    media: bool = False
    last_media: float = 0.0
    frames_in: int = 0
    video_track: CameraTrack | None = None
    base: CallStats = field(default_factory=CallStats)


async def _cancel_leftovers() -> None:
    """Cancel what aiortc left running (monitors, a TURN deallocation still retrying)."""
    for _ in range(5):  # a cancelled close may start another (aioice deallocating TURN)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if not tasks:
            return
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=CLOSE_WAIT_S)


class AssistCall:
    def __init__(self, settings: AssistSettings, devices: CallDevices,
                 on_event: Callable[[CallEvent], None]) -> None:
        self.settings = settings
        self.devices = devices
        self.on_event = on_event
        self.call_id = ""
        self._remote = RemoteVideo()
        self._lock = threading.Lock()
        self._active = False
        self._hangup: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: asyncio.Queue[tuple[str, Any]] | None = None
        self._thread: threading.Thread | None = None
        self._stats = CallStats()
        self._link: _Link | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._closing: list[asyncio.Task[None]] = []
        self._gen = 0
        self._held = False

    # -- the caller's side (any thread; never blocks) -------------------------------------
    def start(self, *, service: str, service_title: str, lang: str) -> None:
        with self._lock:
            if self._active:
                raise RuntimeError("a call is already under way")
            self._active, self._hangup = True, None
            self.call_id = str(uuid.uuid4())
            self._stats = CallStats()
            self._thread = threading.Thread(target=self._run, args=(service, service_title, lang),
                                            daemon=True, name="assist-call")
            self._thread.start()

    def hang_up(self, reason: str = "citizen") -> None:
        with self._lock:
            if not self._active or self._hangup is not None:
                return
            self._hangup = reason
            loop, inbox = self._loop, self._inbox
        if loop is not None and inbox is not None:
            with contextlib.suppress(RuntimeError):  # the loop just closed: it is over anyway
                loop.call_soon_threadsafe(inbox.put_nowait, ("hangup", reason))

    def send(self, message: dict[str, Any]) -> None:
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._send_now, text)

    @property
    def remote_video(self) -> FrameSource:
        return self._remote

    def stats(self) -> CallStats:
        return self._stats

    @property
    def active(self) -> bool:
        return self._active

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the call's thread to finish (tests and shutdown; never the UI)."""
        t = self._thread
        if t is not None:
            t.join(timeout)
            return not t.is_alive()
        return True

    # -- the call's thread --------------------------------------------------------------
    def _run(self, service: str, title: str, lang: str) -> None:
        loop = asyncio.new_event_loop()
        reason = "error"
        try:
            reason = loop.run_until_complete(self._main(loop, service, title, lang))
        except Exception:
            log.exception("assist %s: engine failed", self.call_id)
        finally:
            with self._lock:
                self._loop = self._inbox = None
                closing, self._closing = self._closing, []  # this call's, not a next one's
            # The citizen hears of the end now; aiortc's closing (a TURN deallocation on a
            # dead server retries for seconds) goes on afterwards on this thread.
            self._finish(reason)
            with contextlib.suppress(Exception):
                loop.run_until_complete(self._closed(closing))
                loop.run_until_complete(_cancel_leftovers())
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _finish(self, reason: str) -> None:
        # Belt and braces: whatever went wrong above, devices are let go before `ended`.
        self._release_devices()
        with self._lock:
            self._active = False
        log.info("assist %s: ended (%s)", self.call_id, reason)
        self._emit(CallEvent("ended", reason=reason if reason in ENDED_REASONS else "error"))

    def _emit(self, event: CallEvent) -> None:
        try:
            self.on_event(event)
        except Exception:
            log.exception("assist: event handler failed on %s", event.kind)

    async def _main(self, loop: asyncio.AbstractEventLoop, service: str, title: str,
                    lang: str) -> str:
        inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        with self._lock:
            self._loop, self._inbox = loop, inbox
            if self._hangup is not None:
                inbox.put_nowait(("hangup", self._hangup))
        self._camera = CameraFeed(self.devices.camera)
        self._mic = MicFeed(self.devices.microphone)
        self._held = False
        self._transferring = False
        self._emit(CallEvent("connecting"))
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=None, connect=self.settings.connect_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            try:
                return await self._signalled(session, inbox, service, title, lang)
            except _Done as done:
                return done.reason
            finally:
                await self._close_link()
                self._release_devices()

    async def _signalled(self, session: Any, inbox: asyncio.Queue[tuple[str, Any]],
                         service: str, title: str, lang: str) -> str:
        """The call over one socket after another: a socket lost mid-call is opened
        again (the same `call` id rejoins the call at the centre) until reconnect_s."""
        self._ring_deadline: float | None = time.monotonic() + self.settings.ring_timeout_s
        self._reconnect_deadline: float | None = None
        self._answered: sig.Answered | None = None
        self._heard = False
        while True:
            ws = await self._open_socket(session)
            if isinstance(ws, str):
                if not self._heard:
                    return ws
                if await self._wait_retry(inbox):
                    return str(self._hangup or "citizen")
                continue
            reader = asyncio.create_task(self._read(ws, inbox))
            try:
                await ws.send_str(sig.call_message(self.call_id, service, title, lang))
                return await self._dispatch(ws, inbox)
            except _SocketLost:
                log.warning("assist %s: signalling socket lost", self.call_id)
                self._start_reconnecting()
            finally:
                reader.cancel()
                with contextlib.suppress(Exception):
                    await ws.close()

    async def _open_socket(self, session: Any) -> Any:
        """The signalling socket, or the reason it could not be had."""
        import aiohttp

        s = self.settings
        try:
            url = sig.terminal_url(s.centre_url)
            return await session.ws_connect(
                url, headers={"Authorization": sig.basic_auth(s.terminal_id, s.password)},
                ssl=self._ssl_context(url) or True, heartbeat=5.0, max_msg_size=sig.MAX_FRAME,
                autoclose=True)
        except aiohttp.WSServerHandshakeError as exc:
            log.warning("assist %s: centre refused the socket (HTTP %s)", self.call_id,
                        exc.status)
            return "refused_login" if exc.status in (401, 403) else "no_centre"
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            log.warning("assist %s: centre unreachable: %s", self.call_id,
                        type(exc).__name__)
            return "no_centre"

    async def _wait_retry(self, inbox: asyncio.Queue[tuple[str, Any]]) -> bool:
        """Wait a moment before the next socket; True: the citizen hung up meanwhile."""
        if self._reconnect_deadline is not None and time.monotonic() >= self._reconnect_deadline:
            raise _Done("dropped")
        with contextlib.suppress(TimeoutError):
            kind, _ = await asyncio.wait_for(inbox.get(), 0.5)
            return kind == "hangup"
        return False

    def _start_reconnecting(self) -> None:
        if self._reconnect_deadline is None:
            self._reconnect_deadline = time.monotonic() + self.settings.reconnect_s
            # A call still waiting keeps showing its place in the queue (the rejoined
            # socket's `queued` updates it); only a call in progress says it reconnects.
            if self._answered is not None:
                self._emit(CallEvent("reconnecting"))

    async def _read(self, ws: Any, inbox: asyncio.Queue[tuple[str, Any]]) -> None:
        import aiohttp

        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                try:
                    parsed = sig.parse(msg.data)
                except sig.ProtocolError as exc:
                    log.warning("assist %s: bad frame from the centre: %s", self.call_id, exc)
                    continue
                if parsed is not None:
                    inbox.put_nowait(("ws", parsed))
        inbox.put_nowait(("closed", ws.close_code))

    async def _dispatch(self, ws: Any, inbox: asyncio.Queue[tuple[str, Any]]) -> str:
        s = self.settings
        while True:
            now = time.monotonic()
            deadlines = [d for d in (self._ring_deadline, self._reconnect_deadline)
                         if d is not None]
            wait = min([*deadlines, now + 0.5]) - now
            try:
                kind, value = await asyncio.wait_for(inbox.get(), max(0.0, wait))
            except TimeoutError:
                kind, value = "tick", None
            now = time.monotonic()
            if kind == "hangup":
                await self._send_ws(ws, sig.hangup_message(value))
                return str(value)
            if kind == "closed":
                if value == 4401:
                    return "refused_login"
                if not self._heard:
                    return "no_centre"
                if value == 4409:  # another socket took the call over: not ours any more
                    return "error"
                raise _SocketLost
            if kind == "ws":
                self._heard = True
                if self._answered is None:
                    self._reconnect_deadline = None  # back in the queue on a new socket
                if isinstance(value, sig.Answered):
                    self._ring_deadline = None
                await self._on_signal(ws, value)
            elif kind == "link":
                await self._on_link_event(ws, *value)
            if self._ring_deadline is not None and now >= self._ring_deadline:
                log.info("assist %s: no answer in %.0f s", self.call_id, s.ring_timeout_s)
                await self._send_ws(ws, sig.hangup_message("no_answer"))
                return "no_answer"
            await self._check_media(ws, now)

    async def _on_signal(self, ws: Any, msg: sig.Incoming) -> None:
        if isinstance(msg, sig.Queued):
            self._emit(CallEvent("queued", position=msg.position, wait_s=msg.wait_s,
                                 agents=msg.agents))
        elif isinstance(msg, sig.Unavailable):
            self._emit(CallEvent("unavailable", reason=msg.reason))
            raise _Done("no_answer")  # the UI offers a call back or a ticket, as for no answer
        elif isinstance(msg, sig.Answered):
            log.info("assist %s: answered (ice policy %s)", self.call_id, msg.ice_policy)
            # Answered again on a call already answered (not after a transfer): the socket
            # came back, the media connection is replaced.
            restart = self._answered is not None and not self._transferring
            self._answered, self._transferring = msg, False
            if self._held:  # a hold still in force is said again right after this
                self._held = False
                self._emit(CallEvent("resumed"))
            if not restart:
                self._emit(CallEvent("answered", agent=msg.agent))
            self._camera.start()
            self._mic.start()
            await self._start_connect(ws, restart=restart)
        elif isinstance(msg, sig.Answer):
            await self._on_answer(msg)
        elif isinstance(msg, sig.Hold):
            self._held = True
            self._emit(CallEvent("held"))
        elif isinstance(msg, sig.Resume):
            self._held = False
            if self._link is not None:
                self._link.last_media = time.monotonic()  # the agent's media may restart late
            self._emit(CallEvent("resumed"))
        elif isinstance(msg, sig.Transferring):
            await self._close_link()  # the old agent's media is gone; a new answer follows
            self._reconnect_deadline = None
            self._transferring = True
            self._emit(CallEvent("transferring", agent=msg.to))
        elif isinstance(msg, sig.Ended):
            raise _Done(msg.reason if msg.reason in ENDED_REASONS else "agent")
        elif isinstance(msg, sig.ErrorMessage):
            log.warning("assist %s: centre says %s", self.call_id, msg.error)
            if msg.error == "call_ended":  # came back too late: the centre closed the call
                raise _Done("dropped")

    # -- peer connections -----------------------------------------------------------------
    async def _start_connect(self, ws: Any, *, restart: bool, delay: float = 0.0) -> None:
        """Replace the media connection in the background: gathering candidates can take
        long (a TURN server that is down), and hang-ups and deadlines must not wait."""
        await self._close_link()
        self._connecting = asyncio.create_task(self._connect(ws, restart=restart, delay=delay))

    async def _connect(self, ws: Any, *, restart: bool, delay: float) -> None:
        try:
            if delay:
                await asyncio.sleep(delay)
            await self._open_link(ws, restart=restart)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of aiortc: retry like a drop
            log.warning("assist %s: media connection failed: %s", self.call_id, exc)
            link, inbox = self._link, self._inbox
            if link is not None and inbox is not None:
                inbox.put_nowait(("link", (link.gen, "failed")))

    async def _open_link(self, ws: Any, *, restart: bool) -> None:
        from aiortc import (
            RTCConfiguration,
            RTCIceServer,
            RTCIceTransportPolicy,
            RTCPeerConnection,
        )

        answered = self._answered
        if answered is None:
            return
        s = self.settings
        cap_bitrate(s.max_bitrate_kbps)
        config = RTCConfiguration(
            iceServers=[RTCIceServer(urls=list(i.urls), username=i.username or None,
                                     credential=i.credential or None)
                        for i in answered.ice_servers],
            iceTransportPolicy=RTCIceTransportPolicy.RELAY if answered.ice_policy == "relay"
            else RTCIceTransportPolicy.ALL)
        pc = RTCPeerConnection(config)
        self._gen += 1
        gen = self._gen
        link = _Link(gen, pc, base=self._stats)
        self._link = link
        self._stats = replace(self._stats, connections=self._stats.connections + 1)
        paused = self._is_held
        link.video_track = CameraTrack(self._camera, s.video_width, s.video_height,
                                       s.video_fps, paused)
        pc.addTrack(link.video_track)
        pc.addTrack(MicTrack(self._mic, paused))
        channel = pc.createDataChannel("assist")
        channel.on("message", self._on_channel_message)
        link.channel = channel
        inbox = self._inbox
        assert inbox is not None

        @pc.on("connectionstatechange")
        def _state() -> None:
            inbox.put_nowait(("link", (gen, pc.connectionState)))

        @pc.on("track")
        def _track(track: Any) -> None:
            self._on_track(link, track)

        offer = await pc.createOffer()
        await pc.setLocalDescription(offer)  # aiortc gathers every candidate here
        sdp = limit_remote_bitrate(pc.localDescription.sdp, s.max_bitrate_kbps)
        if self._link is not link:
            return  # hung up or replaced while gathering
        link.tasks.append(asyncio.create_task(self._poll_stats(link)))
        log.info("assist %s: offer %d (restart=%s)", self.call_id, gen, restart)
        await self._send_ws(ws, sig.offer_message(sdp, restart=restart))

    def _is_held(self) -> bool:
        return self._held

    async def _on_answer(self, msg: sig.Answer) -> None:
        from aiortc import RTCSessionDescription

        link = self._link
        if link is None or link.pc.signalingState != "have-local-offer":
            log.warning("assist %s: answer without an offer (ignored)", self.call_id)
            return
        try:
            await link.pc.setRemoteDescription(RTCSessionDescription(msg.sdp, "answer"))
        except Exception as exc:  # noqa: BLE001 - a malformed SDP: like a failed link
            log.warning("assist %s: agent's answer refused: %s", self.call_id, exc)
            inbox = self._inbox
            if inbox is not None:
                inbox.put_nowait(("link", (link.gen, "failed")))

    def _on_track(self, link: _Link, track: Any) -> None:
        def heard() -> None:
            link.last_media = time.monotonic()
            if not link.media:
                link.media = True
                if self._link is link:
                    self._emit(CallEvent("media"))

        if track.kind == "video":
            def frame() -> None:
                link.frames_in += 1
                heard()

            link.tasks.append(asyncio.create_task(play_video(track, self._remote, frame)))
        elif track.kind == "audio":
            link.tasks.append(asyncio.create_task(
                play_audio(track, self.devices.speaker, heard)))

    async def _on_link_event(self, ws: Any, gen: int, state: str) -> None:
        link = self._link
        if link is None or link.gen != gen:
            return  # an old connection's last words
        if state == "connected":
            link.connected = True
            link.last_media = time.monotonic()
            log.info("assist %s: media link %d connected", self.call_id, gen)
        elif state in ("failed", "disconnected", "closed"):
            await self._lost(ws, f"connection {state}")

    async def _check_media(self, ws: Any, now: float) -> None:
        link = self._link
        # Only a link whose media flowed can be seen to stop: an agent without camera and
        # microphone sends nothing, and that is no drop.
        if link is not None and link.connected and link.media and not self._held and \
                now - link.last_media > self.settings.media_timeout_s:
            await self._lost(ws, "no media")
        if self._reconnect_deadline is not None and now >= self._reconnect_deadline:
            log.warning("assist %s: link not back in %.0f s", self.call_id,
                        self.settings.reconnect_s)
            # The socket still works: say so at once (the centre records `error` as dropped)
            # rather than leave the agent waiting out the centre's rejoin grace.
            await self._send_ws(ws, sig.hangup_message("error"))
            raise _Done("dropped")
        link = self._link  # _lost may have replaced it
        if self._reconnect_deadline is not None and link is not None and link.media:
            self._reconnect_deadline = None  # media flows on the new connection

    async def _lost(self, ws: Any, why: str) -> None:
        log.warning("assist %s: media link lost (%s)", self.call_id, why)
        if self._reconnect_deadline is None:
            self._start_reconnecting()
            await self._start_connect(ws, restart=True)
        else:  # the new connection failed too: try again shortly
            await self._start_connect(ws, restart=True, delay=0.5)

    async def _close_link(self) -> None:
        connecting, self._connecting = self._connecting, None
        if connecting is not None and connecting is not asyncio.current_task():
            connecting.cancel()  # aioice may sit out a TURN retry before it lets go
            await asyncio.wait([connecting], timeout=CLOSE_WAIT_S)
        link, self._link = self._link, None
        if link is None:
            return
        self._stats = self._read_stats(link, None) if link.pc is not None else self._stats
        for task in link.tasks:
            task.cancel()
        # Closing can wait long on a dead TURN server (aioice deallocates and retries):
        # it runs aside, and the call's end waits for it only briefly.
        self._closing.append(asyncio.create_task(self._close_pc(link)))
        self._remote.clear()

    async def _close_pc(self, link: _Link) -> None:
        with contextlib.suppress(Exception):
            await link.pc.close()
        for task in link.tasks:
            with contextlib.suppress(BaseException):
                await task

    @staticmethod
    async def _closed(closing: list[asyncio.Task[None]]) -> None:
        if closing:
            _, pending = await asyncio.wait(closing, timeout=CLOSE_WAIT_S)
            for task in pending:
                task.cancel()

    def _release_devices(self) -> None:
        for feed in (getattr(self, "_camera", None), getattr(self, "_mic", None)):
            if feed is not None:
                try:
                    feed.release()
                except Exception:
                    log.exception("assist %s: releasing a device failed", self.call_id)
        speaker = self.devices.speaker
        if speaker is not None:
            try:
                speaker.stop()
            except Exception:
                log.exception("assist %s: stopping the speaker failed", self.call_id)
        self._remote.clear()

    # -- data channel -------------------------------------------------------------------------
    def _on_channel_message(self, data: Any) -> None:
        if not isinstance(data, str) or len(data) > MAX_CHANNEL_MESSAGE:
            return
        try:
            obj = json.loads(data)
        except ValueError:
            log.warning("assist %s: data channel: not JSON", self.call_id)
            return
        if isinstance(obj, dict) and obj.get("type") == "propose":
            self._emit(CallEvent("proposal", message=obj))
        else:
            log.info("assist %s: data channel: ignored a %r", self.call_id,
                     obj.get("type") if isinstance(obj, dict) else type(obj).__name__)

    def _send_now(self, text: str) -> None:
        link = self._link
        channel = link.channel if link is not None else None
        if channel is not None and channel.readyState == "open":
            channel.send(text)

    async def _send_ws(self, ws: Any, text: str) -> None:
        with contextlib.suppress(Exception):  # a closed socket: the reader reports it
            await ws.send_str(text)

    # -- stats ----------------------------------------------------------------------------------
    async def _poll_stats(self, link: _Link) -> None:
        started = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            try:
                report = await link.pc.getStats()
            except Exception:  # noqa: BLE001 - the connection is closing
                return
            if self._link is link:
                self._stats = self._read_stats(link, report, started)

    def _read_stats(self, link: _Link, report: Any, started: float | None = None) -> CallStats:
        base, cur = link.base, self._stats
        if report is None:
            return cur
        sent = recv = psent = precv = 0
        rtt = cur.rtt_s
        for st in report.values():
            if st.type == "transport":
                sent += st.bytesSent
                recv += st.bytesReceived
                psent += st.packetsSent
                precv += st.packetsReceived
            elif st.type == "remote-inbound-rtp" and st.roundTripTime:
                rtt = float(st.roundTripTime)
        frames_out = link.video_track.frames if link.video_track is not None else 0
        elapsed = max(1e-6, time.monotonic() - (started or time.monotonic()))
        return CallStats(
            bytes_sent=base.bytes_sent + sent, bytes_received=base.bytes_received + recv,
            packets_sent=base.packets_sent + psent,
            packets_received=base.packets_received + precv,
            frames_sent=base.frames_sent + frames_out,
            frames_received=base.frames_received + link.frames_in,
            fps_out=frames_out / elapsed, fps_in=link.frames_in / elapsed, rtt_s=rtt,
            connections=cur.connections, seconds=base.seconds + elapsed)

    def _ssl_context(self, url: str) -> ssl.SSLContext | None:
        if not url.startswith("wss://"):
            return None
        ctx = ssl.create_default_context(cafile=self.settings.ca_file or None)
        return ctx
