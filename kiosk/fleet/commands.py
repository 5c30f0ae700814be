"""Remote commands on the terminal: verify, answer, wait for the citizen, execute.

Commands arrive on the fleet link's thread (`CommandExecutor.handle`) and are worked on
one at a time by the executor's own thread, so the network loop never waits on a printer
and the UI thread never waits on anything here. For each command the terminal answers on
its `results` topic (through the fleet client's durable outbox, so an answer survives a
lost link or a restart):

1. `refused` + reason when it is not a signed command (`commands_protocol.verify`: not
   signed by the pinned key, tampered, expired, addressed to another terminal, replayed,
   unknown action or bad arguments; also `too_many` when the replay store is full);
2. `received` once accepted; its id is written to the replay store (with its expiry,
   fsynced) before anything is done, so a copy sent again is refused even after a crash;
3. `pending` when the action would disturb a citizen at the terminal (restart,
   out_of_service, set_volume, print_test, selftest: `WAITS_FOR_SESSION`): it waits,
   kept on disk, until nobody is at the terminal, and is answered `expired` if its time
   runs out first;
4. `running`, then `done` (with a result) or `failed` (reason key, masked detail).

A screenshot does not wait: the screen side (`Host`) blanks the citizen's area while
anyone is at the terminal. No action reads identity data, form answers, camera frames or
the voice: the log bundle is the masked export a technician gets, nothing else is sent.

Out of service, the voice volume and the screen-off schedule are settings kept in
`commands.json` (with the replay store and the pending commands) and applied again at
start. A restart is answered `running` before the app exits (systemd starts it again)
and `done` by the next start, with both boot ids.
"""

from __future__ import annotations

import json
import logging
import queue
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from kiosk.fleet import commands_protocol as cp
from kiosk.fleet.protocol import Envelope
from kiosk.packages.store import atomic_write  # crash-safe write, shared with the package store

log = logging.getLogger(__name__)

STATE_FILE = "commands.json"
MAX_SEEN = 10_000  # ids kept until their command expires (MAX_LIFETIME_S bounds that)
MAX_LOG_BUNDLE = 8 * 1024 * 1024  # bytes; a bigger bundle is fetched by a technician
WAITING_CHECK_S = 5.0


class CommandFailed(Exception):
    """An action that could not be done: `key` for the console, `detail` for the log."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(f"{key}: {detail}" if detail else key)
        self.key, self.detail = key, detail


class HostBusy(Exception):
    """The screen side found someone at the terminal at the last moment: wait again."""


@dataclass(frozen=True)
class Settings:
    """What remote commands set and a restart keeps."""

    out_of_service: Mapping[str, str] | None = None  # the message per language
    volume: int | None = None  # the voice guide's, 0-100 (None: the configured default)
    screen_schedule: tuple[str, str] | None = None  # (off, on) as HH:MM, local time

    def to_json(self) -> dict[str, Any]:
        return {"out_of_service": dict(self.out_of_service) if self.out_of_service else None,
                "volume": self.volume,
                "screen_schedule": ({"off": self.screen_schedule[0],
                                     "on": self.screen_schedule[1]}
                                    if self.screen_schedule else None)}

    @classmethod
    def from_json(cls, data: Any) -> Settings:
        if not isinstance(data, Mapping):
            return cls()
        oos, vol, sched = data.get("out_of_service"), data.get("volume"), \
            data.get("screen_schedule")
        if oos is not None and cp.check_args("out_of_service", {"message": oos}) is not None:
            oos = None
        if vol is not None and cp.check_args("set_volume", {"level": vol}) is not None:
            vol = None
        pair = None
        if isinstance(sched, Mapping) and cp.check_args("screen_schedule", sched) is None \
                and sched:
            pair = (str(sched["off"]), str(sched["on"]))
        return cls(dict(oos) if oos else None, vol, pair)


@dataclass(frozen=True)
class Screenshot:
    data: bytes
    media_type: str  # image/png or image/jpeg
    width: int
    height: int
    blanked: bool  # the citizen's area was painted over
    screen: str  # which screen was on display (attract, home, <flow>.<step>.<kind>)


class Host(Protocol):
    """The terminal's screen side, as commands need it (Qt: kiosk.ui.remote.QtHost)."""

    def busy(self) -> bool:
        """Someone (a citizen, a technician) is at the terminal."""
        ...

    def screenshot(self, fmt: str) -> Screenshot:
        """The window as displayed, the citizen's area blanked while busy."""
        ...

    def can_restart(self) -> bool:
        """A supervisor (systemd) will start the app again after it exits."""
        ...

    def restart(self, why: str) -> None:
        """Exit the app between citizens (raises HostBusy if someone just arrived)."""
        ...

    def apply(self, settings: Settings) -> None:
        """Show out of service / set the volume / the screen schedule (HostBusy: later)."""
        ...


class HeadlessHost:
    """A runtime without a screen (tests, the headless demo): busy while a session is
    open; no screenshot; a restart only with an `exit` given (a supervised process)."""

    def __init__(self, runtime: Any, exit: Callable[[str], None] | None = None) -> None:
        self.runtime = runtime
        self.exit = exit
        self.applied: Settings | None = None

    def busy(self) -> bool:
        return bool(self.runtime.session_active())

    def screenshot(self, fmt: str) -> Screenshot:
        raise CommandFailed("command.no_screen", "this terminal runs without a display")

    def can_restart(self) -> bool:
        return self.exit is not None

    def restart(self, why: str) -> None:
        if self.exit is None:
            raise CommandFailed("command.restart.no_supervisor")
        self.exit(why)

    def apply(self, settings: Settings) -> None:
        self.applied = settings


# -- the persistent state ------------------------------------------------------------------
class CommandState:
    """`commands.json`: seen ids with their expiry, pending commands, settings, a restart
    in progress. Written whole (fsynced, renamed) at every change: commands are rare."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.seen: dict[str, float] = {}
        self.pending: list[dict[str, Any]] = []
        self.settings = Settings()
        self.restarting: dict[str, Any] | None = None
        self.load()

    def load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            # Unreadable: start empty but keep the bad file aside for the technician. The
            # replay store is lost with it; commands it held are past or near expiry.
            log.error("commands state unreadable (%s); starting empty", exc)
            self.path.replace(self.path.with_suffix(".bad"))
            return
        if not isinstance(data, dict):
            return
        seen = data.get("seen")
        if isinstance(seen, dict):
            self.seen = {str(k): float(v) for k, v in seen.items()
                         if isinstance(v, int | float) and not isinstance(v, bool)}
        pending = data.get("pending")
        if isinstance(pending, list):
            self.pending = [p for p in pending if isinstance(p, dict)]
        self.settings = Settings.from_json(data.get("settings"))
        restarting = data.get("restarting")
        self.restarting = restarting if isinstance(restarting, dict) else None

    def save(self) -> None:
        data = {"seen": self.seen, "pending": self.pending, "settings": self.settings.to_json(),
                "restarting": self.restarting}
        atomic_write(self.path, json.dumps(data, ensure_ascii=False).encode())

    def prune(self, now: float) -> None:
        self.seen = {k: v for k, v in self.seen.items() if v > now}


# -- the executor ------------------------------------------------------------------------------
class CommandExecutor:
    """Verifies, answers and runs one terminal's remote commands on its own thread."""

    def __init__(self, runtime: Any, send: Callable[[dict[str, Any]], Any], host: Host, *,
                 keys: Mapping[str, Any], state_path: Path, terminal: str, boot: str = "",
                 package_event: Callable[[dict[str, Any]], Any] | None = None,
                 snapshot: Callable[[], dict[str, Any]] | None = None,
                 clock: Callable[[], float] = time.time, tick_s: float = 0.5) -> None:
        self.runtime = runtime
        self.send = send
        self.host = host
        self.keys = dict(keys)
        self.terminal = terminal
        self.boot = boot
        self.snapshot = snapshot
        self.clock = clock
        self.tick_s = tick_s
        self.state = CommandState(state_path)
        self.refused: Counter[str] = Counter()
        self.executed = 0
        self._inbox: queue.Queue[Envelope] = queue.Queue(maxsize=1000)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._waiting_at = 0.0
        self._waiting: Any = None
        if package_event is not None:
            from kiosk.packages.reports import WaitingReporter

            self._waiting = WaitingReporter(lambda e: package_event(e.to_json()))
        runtime.out_of_service = (dict(self.state.settings.out_of_service)
                                  if self.state.settings.out_of_service else None)

    # -- from the link thread ------------------------------------------------------------
    def handle(self, env: Envelope) -> None:
        """Queue one decoded command envelope (never blocks the network loop)."""
        try:
            self._inbox.put_nowait(env)
        except queue.Full:
            self.refused["too_many"] += 1
            log.error("commands: inbox full, dropped %s", env.id)

    def wake(self) -> None:
        """Someone left the terminal: look at the pending commands now."""
        try:
            self._inbox.put_nowait(Envelope(self.terminal, "_wake"))
        except queue.Full:
            pass

    # -- thread --------------------------------------------------------------------------
    def start(self) -> CommandExecutor:
        self._apply_settings(initial=True)
        if self.state.restarting is not None:
            before = self.state.restarting
            self.state.restarting = None
            self._save()
            self._answer(str(before.get("id", "")), cp.State.DONE,
                         result={"previous_boot": before.get("boot", ""), "boot": self.boot})
        self._thread = threading.Thread(target=self._run, daemon=True, name="fleet-commands")
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                env = self._inbox.get(timeout=self.tick_s)
            except queue.Empty:
                env = None
            try:
                if env is not None and env.type != "_wake":
                    self.receive(env)
                self.tick()
            except Exception:  # the executor must outlive any one bad command
                log.exception("command handling failed")

    # -- one command ---------------------------------------------------------------------
    def receive(self, env: Envelope) -> None:
        """Verify one envelope and answer it; run it or keep it pending."""
        now = self.clock()
        if env.type != cp.COMMAND_TYPE:
            self._refuse(cp.CommandRefused("malformed", f"type {env.type[:40]}",
                                           cp.claimed_id(env.body)))
            return
        self.state.prune(now)
        try:
            cmd = cp.verify(env.body, self.keys, terminal=self.terminal, now=now,
                            seen=self.state.seen)
        except cp.CommandRefused as exc:
            self._refuse(exc)
            return
        if len(self.state.seen) >= MAX_SEEN:
            self._refuse(cp.CommandRefused("too_many", "replay store full", cmd.id))
            return
        self.state.seen[cmd.id] = float(cmd.expires_at)
        self._save()  # before anything is done: a copy is refused even after a crash
        log.info("command %s %s from %s accepted", cmd.id, cmd.action, cmd.operator)
        self._answer(cmd.id, cp.State.RECEIVED, result={"action": cmd.action})
        self._supersede(cmd)
        if cmd.waits_for_session and self.host.busy():
            self._hold(cmd)
            return
        self._execute(cmd)

    def _supersede(self, cmd: cp.Command) -> None:
        """A later command makes a pending one moot (in_service after out_of_service, a
        second volume): the earlier one is answered failed/superseded, never run."""
        moot = {"in_service": {"out_of_service"}, "out_of_service": {"out_of_service"},
                "set_volume": {"set_volume"}, "restart": {"restart"}}.get(cmd.action, set())
        keep = []
        for p in self.state.pending:
            if p.get("action") in moot:
                self._answer(str(p.get("id")), cp.State.FAILED, reason="superseded",
                             detail=f"by {cmd.id}")
            else:
                keep.append(p)
        if len(keep) != len(self.state.pending):
            self.state.pending = keep
            self._save()

    def _hold(self, cmd: cp.Command) -> None:
        if not any(p.get("id") == cmd.id for p in self.state.pending):
            self.state.pending.append(cmd.to_json())
            self._save()
        self._answer(cmd.id, cp.State.PENDING, reason="session_active",
                     detail="waits until nobody is at the terminal",
                     result={"action": cmd.action, "expires_at": cmd.expires_at})

    def tick(self) -> None:
        """Expire or run pending commands; say when a staged package waits for a citizen."""
        now = self.clock()
        if self.state.pending:
            busy = self.host.busy()
            for p in list(self.state.pending):
                cmd = cp.Command(**p)
                if now >= cmd.expires_at:
                    self._drop_pending(cmd.id)
                    log.warning("command %s %s expired while pending", cmd.id, cmd.action)
                    self._answer(cmd.id, cp.State.EXPIRED, reason="expired",
                                 detail="the session did not end in time")
                elif not busy:
                    self._drop_pending(cmd.id)
                    self._execute(cmd)
                    busy = self.host.busy()
        if self._waiting is not None and time.monotonic() - self._waiting_at >= WAITING_CHECK_S:
            self._waiting_at = time.monotonic()
            mgr = getattr(self.runtime, "packages", None)
            if mgr is not None:
                try:
                    self._waiting.check(mgr.staged_changes(), self.host.busy())
                except Exception:
                    log.exception("package waiting check failed")

    def _drop_pending(self, cid: str) -> None:
        self.state.pending = [p for p in self.state.pending if p.get("id") != cid]
        self._save()

    def _execute(self, cmd: cp.Command) -> None:
        self._answer(cmd.id, cp.State.RUNNING, result={"action": cmd.action})
        try:
            ACTIONS[cmd.action](self, cmd)
        except HostBusy:
            log.info("command %s %s: someone arrived; waiting again", cmd.id, cmd.action)
            self._hold(cmd)
            return
        except CommandFailed as exc:
            log.warning("command %s %s failed: %s", cmd.id, cmd.action, exc)
            self._answer(cmd.id, cp.State.FAILED, reason=exc.key, detail=exc.detail)
        except Exception as exc:
            log.exception("command %s %s raised", cmd.id, cmd.action)
            self._answer(cmd.id, cp.State.FAILED, reason="command.error",
                         detail=type(exc).__name__)
        self.executed += 1

    # -- answers -------------------------------------------------------------------------
    def _refuse(self, exc: cp.CommandRefused) -> None:
        self.refused[exc.reason] += 1
        log.warning("command %s refused: %s %s", exc.command_id or "(no id)", exc.reason,
                    exc.detail)
        self._answer(exc.command_id, cp.State.REFUSED, reason=exc.reason, detail=exc.detail)

    def _answer(self, cid: str, state: cp.State, *, reason: str = "", detail: str = "",
                result: Mapping[str, Any] | None = None) -> None:
        body = cp.result_body(cid, state, reason=reason, detail=_scrub(detail), result=result)
        try:
            self.send(body)
        except Exception:  # the answer is lost, the command is not: logged
            log.exception("command %s: answer %s not sent", cid, state.value)

    def _done(self, cmd: cp.Command, result: Mapping[str, Any]) -> None:
        self._answer(cmd.id, cp.State.DONE, result={"action": cmd.action, **result})

    def _send_attachment(self, cmd: cp.Command, att: cp.Attachment,
                         meta: Mapping[str, Any]) -> None:
        chunks = cp.chunk_attachment(att)
        for chunk in chunks:
            self._answer(cmd.id, cp.State.DONE, result={"action": cmd.action, **meta, **chunk})

    def _save(self) -> None:
        try:
            self.state.save()
        except OSError as exc:
            log.error("commands state not saved: %s", exc)

    # -- settings ------------------------------------------------------------------------
    def _set(self, settings: Settings) -> None:
        before = self.state.settings
        self.state.settings = settings
        self.runtime.out_of_service = (dict(settings.out_of_service)
                                       if settings.out_of_service else None)
        try:
            self.host.apply(settings)
        except HostBusy:
            self.state.settings = before
            self.runtime.out_of_service = (dict(before.out_of_service)
                                           if before.out_of_service else None)
            raise
        self._save()

    def _apply_settings(self, initial: bool = False) -> None:
        try:
            self.host.apply(self.state.settings)
        except HostBusy:
            log.info("settings applied once nobody is at the terminal")
        except Exception:
            log.exception("applying remote settings failed%s", " at start" if initial else "")

    def status(self) -> dict[str, Any]:
        """What the heartbeat says about commands (no personal data: none is here)."""
        s = self.state.settings
        return {"out_of_service": s.out_of_service is not None, "volume": s.volume,
                "screen_schedule": s.to_json()["screen_schedule"],
                "pending": [str(p.get("id")) for p in self.state.pending],
                "executed": self.executed, "refused": dict(self.refused),
                "key_pinned": bool(self.keys)}


def _scrub(text: str) -> str:
    from kiosk.identity import scrub_text

    return scrub_text(text)[:500]


# -- the actions -----------------------------------------------------------------------------
def _screenshot(ex: CommandExecutor, cmd: cp.Command) -> None:
    fmt = str(cmd.args.get("format", "png"))
    shot = ex.host.screenshot(fmt)
    ext = "jpg" if shot.media_type == "image/jpeg" else "png"
    ex._send_attachment(cmd, cp.Attachment(f"screenshot-{cmd.id}.{ext}", shot.media_type,
                                           shot.data),
                        {"image": {"width": shot.width, "height": shot.height,
                                   "blanked": shot.blanked, "screen": shot.screen}})


def _selftest(ex: CommandExecutor, cmd: cp.Command) -> None:
    from kiosk.maintenance.selftest import run_all

    devices = dict(ex.runtime.devices.devices)
    only = cmd.args.get("device")
    if only is not None:
        if only not in devices:
            raise CommandFailed("command.selftest.not_configured", str(only))
        devices = {only: devices[only]}
    run = run_all(devices, timeout_s=30.0)
    ex._done(cmd, run.to_dict())


def _print_test(ex: CommandExecutor, cmd: cp.Command) -> None:
    from kiosk.commands.print_test import sample_page_pdf, sample_receipt
    from kiosk.devices.base import DeviceError

    kind = str(cmd.args["printer"])
    dev = ex.runtime.devices.get(kind)
    if dev is None:
        raise CommandFailed("command.print_test.not_configured", kind)
    try:
        if kind == "receipt":
            outcome = dev.print_receipt(sample_receipt(dev.uri.raw))
        else:
            outcome = dev.print_pdf(sample_page_pdf(dev.uri.raw), "kiosk-test-page")
        status = dev.status().to_dict()
    except DeviceError as exc:
        raise CommandFailed(exc.key, exc.detail) from None
    ex.runtime.note_device(kind, None if outcome.ok else outcome.error_key or None)
    result = {"printer": kind, "ok": outcome.ok, "pages": outcome.pages,
              "error_key": outcome.error_key, "status": status}
    if not outcome.ok:
        raise CommandFailed(outcome.error_key or "command.print_test.failed",
                            outcome.detail)
    ex._done(cmd, result)


def _logs(ex: CommandExecutor, cmd: cp.Command) -> None:
    from kiosk.logs import log_file
    from kiosk.maintenance.logexport import ExportError, export_logs

    cfg = ex.runtime.config
    tmp = Path(tempfile.mkdtemp(prefix="remote-logs-", dir=cfg.data_dir))
    try:
        snap = ex.snapshot() if ex.snapshot is not None else None
        res = export_logs(log_file(cfg), tmp, cfg.terminal.id, snapshot=snap)
        if res.bytes > MAX_LOG_BUNDLE:
            raise CommandFailed("command.logs.too_large",
                                f"{res.bytes} bytes; export them at the terminal")
        data = res.path.read_bytes()
    except ExportError as exc:
        raise CommandFailed(exc.key, exc.detail) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ex._send_attachment(cmd, cp.Attachment(res.path.name, "application/zip", data),
                        {"files": list(res.files), "masked": res.masked})


def _restart(ex: CommandExecutor, cmd: cp.Command) -> None:
    if not ex.host.can_restart():
        raise CommandFailed("command.restart.no_supervisor",
                            "not run by systemd: nobody would start the app again")
    ex.state.restarting = {"id": cmd.id, "boot": ex.boot}
    ex._save()
    try:
        ex.host.restart(f"remote restart {cmd.id} by {cmd.operator}")
    except BaseException:
        ex.state.restarting = None
        ex._save()
        raise


def _out_of_service(ex: CommandExecutor, cmd: cp.Command) -> None:
    message = dict(cmd.args["message"])
    ex._set(replace(ex.state.settings, out_of_service=message))
    ex._done(cmd, {"out_of_service": True})


def _in_service(ex: CommandExecutor, cmd: cp.Command) -> None:
    was = ex.state.settings.out_of_service is not None
    ex._set(replace(ex.state.settings, out_of_service=None))
    ex._done(cmd, {"out_of_service": False, "was_out_of_service": was})


def _poll_packages(ex: CommandExecutor, cmd: cp.Command) -> None:
    mgr = getattr(ex.runtime, "packages", None)
    if mgr is None or not getattr(mgr, "repository_url", ""):
        raise CommandFailed("command.poll_packages.no_repository")
    res = mgr.poll()
    result = {"changed": res.changed, "staged": list(res.staged),
              "rejected": list(res.rejected), "error": res.error}
    if res.error:
        raise CommandFailed("command.poll_packages.failed", res.error)
    ex._done(cmd, result)


def _set_volume(ex: CommandExecutor, cmd: cp.Command) -> None:
    level = int(cmd.args["level"])
    ex._set(replace(ex.state.settings, volume=level))
    ex._done(cmd, {"volume": level})


def _screen_schedule(ex: CommandExecutor, cmd: cp.Command) -> None:
    args = cmd.args
    pair = (str(args["off"]), str(args["on"])) if args else None
    ex._set(replace(ex.state.settings, screen_schedule=pair))
    ex._done(cmd, {"screen_schedule": ({"off": pair[0], "on": pair[1]} if pair else None)})


ACTIONS: Mapping[str, Callable[[CommandExecutor, cp.Command], None]] = {
    "screenshot": _screenshot, "selftest": _selftest, "print_test": _print_test,
    "logs": _logs, "restart": _restart, "out_of_service": _out_of_service,
    "in_service": _in_service, "poll_packages": _poll_packages, "set_volume": _set_volume,
    "screen_schedule": _screen_schedule,
}
assert set(ACTIONS) == set(cp.ACTIONS), "every action of the contract has an executor"


def pinned_keys(config: Any) -> dict[str, Any]:
    """The key id -> key mapping of `[fleet] command_key` (empty when none is pinned)."""
    value = config.fleet.command_key
    if not value:
        return {}
    return cp.pinned([cp.load_public_key(value)])
