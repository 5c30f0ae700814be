#!/usr/bin/env python3
"""Soak test (not a CI test): thousands of simulated citizen sessions, resource growth.

    .venv/bin/python scripts/soak.py --sessions 2000              # real widgets, offscreen
    .venv/bin/python scripts/soak.py --mode engine --sessions 5000  # flow engine only
    .venv/bin/python scripts/soak.py --sessions 500 --json out.json --tracemalloc
    .venv/bin/python scripts/soak.py --mode engine --noop   # the baseline: empty sessions

Every flow of the active package is run in turn by a scripted citizen (the per-flow
scripts of `kiosk/ui/citizen_scripts.py`) on simulated devices, against the embedded
reference backend, with the durable outbox and its replay worker running, exactly as
`kiosk demo` does. Every `--sample` sessions it records the process's resident memory,
open file descriptors, OS threads, Python threads, live Qt objects under the window
(ui mode) and Python objects. At the end it fits a line through the samples after the
warm-up (the first quarter) and reports the growth per 1,000 sessions; a resource that
keeps growing is a leak. Exit status 1 when a growth limit (--max-*) is exceeded.
`--noop` (engine mode) runs the same loop with sessions that do nothing: the baseline of
what the loop, the runtime's own threads and the allocator cost without any flow.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parent.parent
MAX_SCREENS = 60  # per session; more means the scripted answers go round in circles
sys.path.insert(0, str(REPO))

if TYPE_CHECKING:
    from kiosk.devices.idcard.sim import SimIdCardReader

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@dataclass
class Sample:
    sessions: int
    seconds: float
    rss_mb: float
    fds: int
    threads: int
    py_threads: int
    qobjects: int
    py_objects: int


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def count(path: str) -> int:
    try:
        return len(os.listdir(path))
    except OSError:
        return -1


def fd_kinds() -> Counter[str]:
    """Open descriptors by what they point at (socket, pipe, eventfd, a file path)."""
    kinds: Counter[str] = Counter()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        kinds[target.split(":[", 1)[0] if ":[" in target else target] += 1
    return kinds


FD_KINDS: list[tuple[int, Counter[str]]] = []  # (sessions, fd_kinds()) at every sample


def sample(n: int, t0: float, root: Any = None) -> Sample:
    gc.collect()
    FD_KINDS.append((n, fd_kinds()))
    qobjects = 0
    if root is not None:
        from PySide6.QtCore import QObject

        qobjects = len(root.findChildren(QObject))
    return Sample(n, round(time.monotonic() - t0, 1), round(rss_mb(), 2), count("/proc/self/fd"),
                  count("/proc/self/task"), threading.active_count(), qobjects,
                  len(gc.get_objects()))


def slope_per_1k(samples: list[Sample], field: str) -> float:
    """Least-squares growth of `field` per 1,000 sessions, after the first quarter."""
    pts = [(s.sessions, getattr(s, field)) for s in samples]
    pts = pts[len(pts) // 4:] if len(pts) >= 8 else pts
    if len(pts) < 2:
        return 0.0
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    var = sum((x - mx) ** 2 for x, _ in pts)
    if var == 0:
        return 0.0
    return round(1000 * sum((x - mx) * (y - my) for x, y in pts) / var, 3)


# -- configuration shared by both modes ---------------------------------------------------------
def soak_config(data_dir: Path) -> Any:
    from kiosk.config import Config

    # Zero-latency simulators; a scanner that presents the appointment code by itself.
    from synthetic.services import appointment_qr

    cfg = Config().with_section(
        "devices", idcard="sim://?card=chen", sscard="sim://", receipt="sim://", a4="sim://",
        scanner=f"sim://?code={appointment_qr('chen')}&delay_ms=20", camera="sim://")
    cfg = cfg.with_section("storage", data_dir=str(data_dir))
    return cfg.with_section("backend", url="embedded").with_section("heartbeat", interval_s=0)


def clear_sim_jobs(runtime: Any) -> int:
    """Simulated printers keep every job in memory by design (tests read them); drop them
    so the numbers describe the kiosk, not the simulator. Returns how many were held."""
    held = 0
    for dev in runtime.devices.devices.values():
        jobs = getattr(dev, "jobs", None)
        if isinstance(jobs, list):
            held += len(jobs)
            jobs.clear()
    return held


def sim_idcard(rt: Any) -> SimIdCardReader:
    """The simulated ID-card reader the soak places cards on (soak_config sets sim://)."""
    from kiosk.devices.idcard.sim import SimIdCardReader

    dev = rt.devices["idcard"]
    if not isinstance(dev, SimIdCardReader):
        raise SystemExit(f"soak needs the simulated ID-card reader, not {type(dev).__name__}")
    return dev


# -- engine mode -------------------------------------------------------------------------------
def engine_answer(flow_id: str, runtime: Any,
                  visits: dict[str, int]) -> Callable[[Any], Any]:
    """Answer each screen as the per-flow citizen script would (taps become Responses)."""
    from kiosk.flows.screens import Response, ScreenKind
    from kiosk.ui.citizen import DEFAULT_SCRIPT
    from kiosk.ui.citizen_scripts import script_for, steps_for

    script = script_for(flow_id, DEFAULT_SCRIPT)

    def answer(screen: Any) -> Any:
        visits["__screens__"] = visits.get("__screens__", 0) + 1
        if visits["__screens__"] > MAX_SCREENS:  # a loop the script cannot leave: give up
            return Response("__stuck__")
        name = f"{flow_id}.{screen.step_id}.{screen.kind.value}"
        action, text = "", None
        for step in steps_for(script, name, visits):
            verb, _, arg = step.partition(":")
            if verb == "card":
                runtime.devices["idcard"].place_card(arg)
            elif verb == "remove_card":
                runtime.devices["idcard"].remove_card()
            elif verb == "scan" and hasattr(runtime.devices.get("scanner"), "scan"):
                threading.Timer(0.02, runtime.devices["scanner"].scan, args=(arg,)).start()
            elif verb == "type":
                text = (text or "") + arg
            elif verb == "candidate":  # the input method turns the typed pinyin into words
                text = arg
            elif step.startswith(("action-", "option-")):
                action = step.split("-", 1)[1]
        k = screen.kind
        if k in (ScreenKind.IDENTIFY, ScreenKind.PROGRESS, ScreenKind.CAMERA):
            return None
        if k == ScreenKind.RATING:
            return Response(action or "submit", {"stars": 5, "tags": []})
        if k == ScreenKind.FORM:
            return Response(action or "confirm", {f.id: f.value for f in screen.fields})
        if k == ScreenKind.KEYBOARD:
            return Response(action or "confirm", text or "")
        if not action:
            primary = [a.id for a in screen.actions if a.primary]
            ids = primary or [a.id for a in screen.options] or [a.id for a in screen.actions]
            action = ids[0] if ids else "done"
        return Response(action)

    return answer


def run_engine(args: argparse.Namespace, samples: list[Sample], outcomes: Counter[str]) -> None:
    from kiosk.flows.context import FlowResult
    from kiosk.flows.interaction import ScriptedInteraction
    from kiosk.runtime import Runtime
    from kiosk.ui.citizen_scripts import FLOW_SCRIPTS

    noop_result = FlowResult("completed")  # what a session that does nothing ends with

    with tempfile.TemporaryDirectory(prefix="soak-") as d:
        rt = Runtime.create(soak_config(Path(d)))
        rt.open_devices()
        rt.start_backend(wait=True)
        flows = args.flows or [f.id for f in rt.package.catalog()]
        print(f"soak (engine): {len(flows)} flows: {', '.join(flows)}", file=sys.stderr)
        t0 = time.monotonic()
        samples.append(sample(0, t0))
        try:
            for n in range(1, args.sessions + 1):
                flow_id = flows[(n - 1) % len(flows)]
                session = rt.new_session()
                for step in FLOW_SCRIPTS.get(flow_id, {}).get("start", []):
                    if step.startswith("card:"):
                        sim_idcard(rt).place_card(step[5:])
                    elif step == "remove_card":
                        sim_idcard(rt).remove_card()
                visits: dict[str, int] = {}
                ui = ScriptedInteraction(session.cancel, engine_answer(flow_id, rt, visits))
                box: dict[str, Any] = {}

                def run(flow_id: str = flow_id, session: Any = session, ui: Any = ui,
                        box: dict[str, Any] = box) -> None:
                    box["r"] = noop_result if args.noop else rt.run_flow(flow_id, session, ui)

                # Like the kiosk (kiosk/ui/bridge.py FlowThread): each flow on a new thread.
                worker = threading.Thread(target=run, name=f"flow-{flow_id}")
                worker.start()
                worker.join()
                result = box["r"]
                session.wipe(result.outcome)
                stuck = visits.get("__screens__", 0) > MAX_SCREENS
                outcomes[f"{flow_id}:{'stuck' if stuck else result.outcome}"] += 1
                sim_idcard(rt).place_card("chen")
                if not args.keep_sim_jobs:
                    clear_sim_jobs(rt)
                if n % args.sample == 0:
                    samples.append(sample(n, t0))
                    progress(samples[-1])
        finally:
            rt.close()


# -- ui mode -----------------------------------------------------------------------------------
def run_ui(args: argparse.Namespace, samples: list[Sample], outcomes: Counter[str]) -> None:
    from PySide6.QtCore import QSize, QTimer

    from kiosk.runtime import Runtime
    from kiosk.ui.app import build_window, ensure_app
    from kiosk.ui.citizen import ScriptedCitizen

    app = ensure_app(headless=True)
    with tempfile.TemporaryDirectory(prefix="soak-") as d:
        rt = Runtime.create(soak_config(Path(d)))
        rt.open_devices()
        rt.start_backend(wait=True)
        win = build_window(rt, QSize(1920, 1080))
        win.resize(1920, 1080)
        win.show()
        flows = args.flows or [f.id for f in rt.package.catalog()]
        print(f"soak (ui): {len(flows)} flows: {', '.join(flows)}", file=sys.stderr)
        t0 = time.monotonic()
        state: dict[str, Any] = {"n": 0, "citizen": None, "deadline": 0.0}
        samples.append(sample(0, t0, win))

        def next_session() -> None:
            old = state["citizen"]
            if old is not None:  # a finished citizen lets go of the window
                win.screenShown.disconnect(old._on_screen)
                win.sessionEnded.disconnect(old._on_ended)
                old.deleteLater()
            n = state["n"]
            if n >= args.sessions:
                app.quit()
                return
            flow_id = flows[n % len(flows)]
            state["n"] = n + 1
            state["flow"] = flow_id
            state["deadline"] = time.monotonic() + args.session_timeout
            sim_idcard(rt).place_card("chen")
            state["citizen"] = ScriptedCitizen(win, flow_id, None, done, delay_ms=args.delay_ms)
            win.screenShown.emit(win.current_screen)

        def done(ok: bool) -> None:
            try:
                outcomes[f"{state['flow']}:{'completed' if ok else 'failed'}"] += 1
                if not args.keep_sim_jobs:
                    clear_sim_jobs(rt)
                if state["n"] % args.sample == 0:
                    samples.append(sample(state["n"], t0, win))
                    progress(samples[-1])
            finally:  # whatever happens here, the next citizen comes
                QTimer.singleShot(0, next_session)

        def watchdog() -> None:  # a stuck session: count it, go home, carry on
            if state["citizen"] is not None and time.monotonic() > state["deadline"]:
                outcomes[f"{state['flow']}:stuck"] += 1
                win._on_idle_expired()
                state["deadline"] = time.monotonic() + args.session_timeout

        guard = QTimer()
        guard.timeout.connect(watchdog)
        guard.start(1000)
        QTimer.singleShot(0, next_session)
        try:
            app.exec()
        finally:
            guard.stop()
            win.close()
            rt.close()


def progress(s: Sample) -> None:
    print(f"  {s.sessions:>6} sessions {s.seconds:>7.1f}s  rss {s.rss_mb:7.1f} MiB  fds {s.fds:>4}"
          f"  threads {s.threads:>3}/{s.py_threads:<3} qobjects {s.qobjects:>6}"
          f"  pyobjects {s.py_objects:>8}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["ui", "engine"], default="ui")
    ap.add_argument("--noop", action="store_true",
                    help="engine mode: sessions that run no flow (the baseline)")
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--sample", type=int, default=0, help="sample every N sessions")
    ap.add_argument("--flow", dest="flows", action="append", help="only these flows")
    ap.add_argument("--delay-ms", type=int, default=1, help="scripted citizen's pause (ui)")
    ap.add_argument("--session-timeout", type=float, default=60.0)
    ap.add_argument("--keep-sim-jobs", action="store_true",
                    help="leave printed jobs in the simulators' memory (they grow by design)")
    ap.add_argument("--tracemalloc", action="store_true", help="top allocation growth sites")
    ap.add_argument("--json", help="write samples and the summary to this file")
    ap.add_argument("--max-rss-mb-per-1k", type=float, default=None)
    ap.add_argument("--max-fds-per-1k", type=float, default=0.5)
    ap.add_argument("--max-threads-per-1k", type=float, default=0.5)
    args = ap.parse_args(argv)
    args.sample = args.sample or max(1, args.sessions // 40)
    if args.noop and args.mode != "engine":
        ap.error("--noop needs --mode engine")

    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(10)
    samples: list[Sample] = []
    outcomes: Counter[str] = Counter()
    snap0 = None
    started = time.monotonic()
    try:
        if args.tracemalloc:
            import tracemalloc

            snap0 = tracemalloc.take_snapshot()
        (run_engine if args.mode == "engine" else run_ui)(args, samples, outcomes)
    except KeyboardInterrupt:
        print("interrupted: reporting what was measured", file=sys.stderr)
    summary: dict[str, Any] = {
        "mode": args.mode + (" noop" if args.noop else ""),
        "sessions": samples[-1].sessions if samples else 0,
        "wall_s": round(time.monotonic() - started, 1),
        "sessions_per_s": round((samples[-1].sessions if samples else 0)
                                / max(0.001, samples[-1].seconds if samples else 1), 2),
        "rss_start_mb": samples[0].rss_mb if samples else 0,
        "rss_end_mb": samples[-1].rss_mb if samples else 0,
        "rss_growth_mb_per_1k_sessions": slope_per_1k(samples, "rss_mb"),
        "fds_growth_per_1k_sessions": slope_per_1k(samples, "fds"),
        "threads_growth_per_1k_sessions": slope_per_1k(samples, "threads"),
        "qobjects_growth_per_1k_sessions": slope_per_1k(samples, "qobjects"),
        "py_objects_growth_per_1k_sessions": slope_per_1k(samples, "py_objects"),
        "outcomes": dict(sorted(outcomes.items())),
        # descriptors open at the last sample beyond those open after the warm-up
        "fds_added": dict(FD_KINDS[-1][1] - FD_KINDS[len(FD_KINDS) // 4][1])
        if FD_KINDS else {},
    }
    if args.tracemalloc and snap0 is not None:
        import tracemalloc

        top = tracemalloc.take_snapshot().compare_to(snap0, "lineno")[:15]
        summary["tracemalloc_top"] = [str(s) for s in top]
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary,
                                               "samples": [asdict(s) for s in samples]},
                                              ensure_ascii=False, indent=1))
    failed = []
    if args.max_rss_mb_per_1k is not None and \
            summary["rss_growth_mb_per_1k_sessions"] > args.max_rss_mb_per_1k:
        failed.append("rss")
    if summary["fds_growth_per_1k_sessions"] > args.max_fds_per_1k:
        failed.append("fds")
    if summary["threads_growth_per_1k_sessions"] > args.max_threads_per_1k:
        failed.append("threads")
    if failed:
        print(f"GROWTH: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
