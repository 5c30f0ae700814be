"""Cyclic garbage collection happens on the GUI thread only once a kiosk window exists."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QSize

from kiosk.ui import gc_guard
from kiosk.ui.main_window import MainWindow


class Cycle:
    def __init__(self) -> None:
        self.me = self
        self.thread = threading.current_thread().name


def test_collections_run_on_the_gui_thread(qtbot, make_runtime) -> None:  # type: ignore[no-untyped-def]
    win = MainWindow(make_runtime(), QSize(1280, 1024))
    qtbot.addWidget(win)
    assert not gc.isenabled()
    seen: list[str] = []

    def callback(phase: str, info: dict) -> None:  # type: ignore[type-arg]
        if phase == "start":
            seen.append(threading.current_thread().name)

    gc.callbacks.append(callback)
    try:
        def churn() -> None:  # a flow thread allocating lots of cyclic garbage
            for _ in range(50000):
                Cycle()

        t = threading.Thread(target=churn, name="flow-churn")
        t.start()
        t.join()
        assert "flow-churn" not in seen  # nothing collected on the worker
        guard = gc_guard.install()
        before = guard.collections
        qtbot.waitUntil(lambda: guard.collections > before, timeout=5000)
        assert seen and set(seen) == {threading.main_thread().name}
    finally:
        gc.callbacks.remove(callback)


def test_start_up_objects_are_frozen_and_new_cycles_still_collected(qtbot, make_runtime) -> None:  # type: ignore[no-untyped-def]
    """A full collection on the GUI thread walked every start-up object (35-110 ms); the
    guard freezes what exists when it is installed, and later cycles are still collected."""
    import weakref

    win = MainWindow(make_runtime(), QSize(1280, 1024))
    qtbot.addWidget(win)
    guard = gc_guard.install()
    assert gc.get_freeze_count() > 1000
    cycle = Cycle()
    gone = weakref.ref(cycle)
    del cycle
    before = guard.collections
    for _ in range(5000):  # enough garbage to pass the thresholds
        Cycle()
    qtbot.waitUntil(lambda: guard.collections > before, timeout=5000)
    gc.collect()
    assert gone() is None


def test_full_collection_waits_for_a_quarter_more_long_lived(qtbot, make_runtime) -> None:  # type: ignore[no-untyped-def]
    """Like Python's own collector: past the oldest generation's threshold, a full
    collection happens only once a quarter more objects survived into it."""
    win = MainWindow(make_runtime(), QSize(1280, 1024))
    qtbot.addWidget(win)
    guard = gc_guard.install()
    guard.timer.stop()  # this test calls check() itself
    generations: list[int] = []

    def seen(phase: str, info: dict) -> None:  # type: ignore[type-arg]
        if phase == "start":
            generations.append(info["generation"])

    def past_thresholds() -> None:
        _, t1, t2 = guard.thresholds
        while gc.get_count()[2] <= t2:
            gc.collect(1)  # each middle collection counts one towards the oldest
        for _ in range(t1 + 1):  # and young collections enough for the middle one
            gc.collect(0)

    gc.collect(2)
    guard.long_lived = len(gc.get_objects(2))
    gc.callbacks.append(seen)
    try:
        past_thresholds()
        generations.clear()
        guard.check()
        assert generations == [1]  # nothing grew: the middle generation, not a full one
        kept: list[list[int]] = [[] for _ in range(guard.long_lived // 2 + 2000)]  # +50%
        gc.collect(1)
        gc.collect(1)  # promoted into the oldest generation
        past_thresholds()
        generations.clear()
        guard.check()
        assert generations == [2] and guard.long_lived >= len(kept)
    finally:
        gc.callbacks.remove(seen)
        guard.timer.start(gc_guard.INTERVAL_MS)
