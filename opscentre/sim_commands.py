"""Simulated terminals answer remote commands (hooked into `opscentre.simulate`).

Each command a simulated terminal receives goes through the terminal's own checks
(`kiosk.fleet.commands_protocol.verify` against the pinned public keys, its own id, the
time, the ids it has seen), so a simulated terminal refuses exactly what a real one
refuses and says why. Accepted commands are answered as a terminal would: `received`,
then — for the actions that wait for a citizen (`WAITS_FOR_SESSION`) on a terminal that
happens to be "in a session" (a seeded share of them) — `pending` for a few seconds, then
`running` and `done` with a plausible result: a small generated PNG for a screenshot
(in chunks), a zip of masked log lines for the log bundle, device verdicts for a
self-test. Answers go straight out on the terminal's `results` topic (QoS 1).
"""

from __future__ import annotations

import heapq
import io
import itertools
import logging
import random
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.fleet import commands_protocol as cp
from kiosk.fleet import protocol
from kiosk.fleet.link import FleetLink

log = logging.getLogger(__name__)

SIM_CHUNK_BYTES = 16 * 1024  # smaller than the protocol's: a screenshot takes a few chunks


@dataclass
class SimState:
    """What a simulated terminal remembers about commands (per terminal)."""

    seen: dict[str, float] = field(default_factory=dict)  # command id -> its expiry
    in_service: bool = True
    volume: int = 60
    schedule: dict[str, str] = field(default_factory=dict)
    answered: int = 0
    refused: int = 0


class Scheduler:
    """One thread running delayed answers (a terminal waiting for its session to end)."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="sim-commands", daemon=True)

    def start(self) -> Scheduler:
        self._thread.start()
        return self

    def later(self, delay_s: float, fn: Callable[[], None]) -> None:
        with self._cv:
            heapq.heappush(self._due, (time.monotonic() + delay_s, next(self._seq), fn))
            self._cv.notify()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stop and (not self._due or self._due[0][0] > time.monotonic()):
                    self._cv.wait(None if not self._due else self._due[0][0] - time.monotonic())
                if self._stop:
                    return
                _, _, fn = heapq.heappop(self._due)
            try:
                fn()
            except Exception:  # one bad answer must not end the others
                log.exception("simulated command answer failed")


def screenshot_png(terminal: str, rng: random.Random, size: tuple[int, int] = (360, 640)
                   ) -> bytes:
    """A plausible kiosk home screen: title bar, service tiles, the terminal's id."""
    from PIL import Image, ImageDraw

    w, h = size
    img = Image.new("RGB", size, (244, 247, 250))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, w, 56), fill=(18, 50, 79))
    d.text((14, 20), f"GUANJIA  {terminal}", fill=(255, 255, 255))
    colours = [(46, 125, 50), (11, 92, 173), (178, 106, 0), (106, 27, 154), (0, 121, 107),
               (198, 40, 40)]
    for i in range(6):
        x, y = 16 + (i % 2) * (w // 2), 76 + (i // 2) * 130
        d.rounded_rectangle((x, y, x + w // 2 - 32, y + 110), 10, fill=colours[i])
        d.text((x + 12, y + 46), f"service {i + 1}", fill=(255, 255, 255))
    # a little texture so that the file is not trivially small (a few chunks)
    for _ in range(2500):
        x, y = rng.randrange(w), rng.randrange(470, h)
        d.point((x, y), fill=(rng.randrange(150, 250),) * 3)
    d.text((14, h - 24), time.strftime("%Y-%m-%d %H:%M:%S"), fill=(80, 90, 100))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def log_bundle(terminal: str) -> bytes:
    """A zip of masked log lines, as the terminal's own bundle holds them."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        lines = [f"2026-12-02 08:0{i}:00 INFO kiosk.session: session ended "
                 f"(citizen 4419**********{1230 + i}, 张*)" for i in range(5)]
        z.writestr("kiosk.log", "\n".join([f"terminal {terminal}", *lines]) + "\n")
        z.writestr("health.json", '{"simulated": true}\n')
    return out.getvalue()


class Responder:
    """Verifies and answers the commands of any number of simulated terminals."""

    def __init__(self, keys: Iterable[Ed25519PublicKey], *, session_share: float = 0.2,
                 session_s: tuple[float, float] = (3.0, 8.0), seed: int | None = None) -> None:
        self.keys = cp.pinned(keys)
        self.session_share = session_share
        self.session_s = session_s
        self.rng = random.Random(seed)
        self._lock = threading.Lock()
        self.states: dict[str, SimState] = {}
        self.scheduler = Scheduler()

    def start(self) -> Responder:
        self.scheduler.start()
        return self

    def stop(self) -> None:
        self.scheduler.stop()

    def attach(self, link: FleetLink) -> None:
        """Answer the commands this link receives."""
        self.states.setdefault(link.terminal, SimState())
        link.on_command = lambda env: self.on_command(link, env)

    # -- one command ---------------------------------------------------------------------
    def on_command(self, link: FleetLink, env: protocol.Envelope) -> None:
        st = self.states[link.terminal]
        now = time.time()
        with self._lock:
            st.seen = {k: v for k, v in st.seen.items() if v > now - cp.CLOCK_SKEW_S}
            try:
                if env.type != cp.COMMAND_TYPE:
                    raise cp.CommandRefused("malformed", f"type {env.type[:32]}",
                                            cp.claimed_id(env.body))
                cmd = cp.verify(env.body, self.keys, terminal=link.terminal, now=now,
                                seen=st.seen)
            except cp.CommandRefused as exc:
                st.refused += 1
                self._answer(link, exc.command_id, cp.State.REFUSED, reason=exc.reason,
                             detail=exc.detail)
                return
            st.seen[cmd.id] = cmd.expires_at
            busy = cmd.waits_for_session and self.rng.random() < self.session_share
            delay = self.rng.uniform(*self.session_s) if busy else 0.0
        self._answer(link, cmd.id, cp.State.RECEIVED, result={"action": cmd.action})
        if busy:  # as the terminal says it (kiosk.fleet.commands)
            self._answer(link, cmd.id, cp.State.PENDING, reason="session_active",
                         detail="waits until nobody is at the terminal",
                         result={"action": cmd.action, "expires_at": cmd.expires_at})
        # answered on the scheduler's thread, never on the link driver's (a screenshot
        # takes milliseconds to draw; the driver serves hundreds of links)
        self.scheduler.later(delay, lambda: self._run(link, cmd))

    def _run(self, link: FleetLink, cmd: cp.Command) -> None:
        st = self.states[link.terminal]
        if time.time() >= cmd.expires_at:  # the session outlasted the command's time limit
            self._answer(link, cmd.id, cp.State.EXPIRED, reason="expired",
                         detail="the session did not end in time")
            return
        self._answer(link, cmd.id, cp.State.RUNNING, result={"action": cmd.action})
        rng = random.Random(f"{link.terminal}/{cmd.id}")
        result, attachment = self.result(st, cmd, rng, link.terminal)
        if attachment is None:
            self._answer(link, cmd.id, cp.State.DONE, result={"action": cmd.action, **result})
        else:
            for part in cp.chunk_attachment(attachment, SIM_CHUNK_BYTES):
                self._answer(link, cmd.id, cp.State.DONE,
                             result={"action": cmd.action, **result, **part})
        st.answered += 1

    @staticmethod
    def result(st: SimState, cmd: cp.Command, rng: random.Random, terminal: str
               ) -> tuple[dict[str, Any], cp.Attachment | None]:
        """The result a terminal gives (the shapes of kiosk.fleet.commands), and the
        attachment of a screenshot or a log bundle."""
        a, args = cmd.action, cmd.args
        if a == "screenshot":
            png = screenshot_png(terminal, rng)
            return ({"image": {"width": 360, "height": 640, "blanked": False,
                               "screen": "home"}},
                    cp.Attachment(f"screenshot-{cmd.id}.png", "image/png", png))
        if a == "logs":
            return ({"files": ["kiosk.log", "health.json"], "masked": 5},
                    cp.Attachment(f"logs-{terminal}.zip", "application/zip",
                                  log_bundle(terminal)))
        if a == "selftest":
            kinds = [args["device"]] if "device" in args else list(cp.DEVICES)
            return {"passed": True, "devices": [
                {"kind": k, "uri": "sim://", "verdict": "pass", "passed": True,
                 "seconds": round(rng.uniform(0.01, 0.4), 3), "checks": []} for k in kinds]}, None
        if a == "print_test":
            return {"printer": args["printer"], "ok": True, "pages": 1, "error_key": ""}, None
        if a == "restart":
            return {"previous_boot": "sim", "boot": "sim"}, None
        if a == "out_of_service":
            st.in_service = False
            return {"out_of_service": True}, None
        if a == "in_service":
            was, st.in_service = not st.in_service, True
            return {"out_of_service": False, "was_out_of_service": was}, None
        if a == "poll_packages":
            return {"changed": False, "staged": [], "rejected": [], "error": ""}, None
        if a == "set_volume":
            st.volume = int(args["level"])
            return {"volume": st.volume}, None
        st.schedule = dict(args)  # screen_schedule
        return {"screen_schedule": dict(args) if args else None}, None

    def _answer(self, link: FleetLink, command_id: str, state: cp.State, *, reason: str = "",
                detail: str = "", result: Mapping[str, Any] | None = None) -> None:
        body = cp.result_body(command_id, state, reason=reason, detail=detail, result=result)
        data = protocol.encode(protocol.Envelope(link.terminal, cp.RESULT_TYPE, body))
        if link.publish("results", data) is None:
            log.info("simulated %s could not answer %s (link down)", link.terminal, command_id)


def load_keys(values: Iterable[str]) -> list[Ed25519PublicKey]:
    """Pinned public keys from `[fleet] command_key`-style values (path or base64)."""
    return [cp.load_public_key(v) for v in values if v]
