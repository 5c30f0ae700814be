"""Run Python's cyclic garbage collector on the GUI thread only.

Flow steps run on worker threads and allocate a lot (PDF rendering). If an automatic
collection triggers there while unreachable Qt widgets sit in reference cycles, their
C++ objects are destroyed on the wrong thread, which crashes Qt. So automatic
collection is switched off and a GUI-thread timer collects whenever the allocation
counters pass Python's own thresholds — the same policy, on the right thread.

The first check collects, then freezes what start-up built (modules, classes, the window: ~90,000
objects that live as long as the process) out of the collector's sight: a full
collection walked them all on the GUI thread, a 35-50 ms stall, about once a minute of
use. Python's own collector skips most full collections (it waits until a quarter of
the long-lived objects are new); this timer cannot see that count, so freezing is
what keeps a full collection small.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

_guard: GuiThreadCollector | None = None


class GuiThreadCollector(QObject):
    def __init__(self, interval_ms: int = 500) -> None:
        super().__init__()
        self.thresholds = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)
        self.collections = 0
        self.frozen = False

    def check(self) -> None:
        if not self.frozen:  # once, with the home screen up (see the module's docstring)
            self.frozen = True
            gc.collect(2)  # garbage is collected, not frozen
            gc.freeze()
            self.collections += 1
            return
        c0, c1, c2 = gc.get_count()
        t0, t1, t2 = self.thresholds
        if c2 > t2:
            gc.collect(2)
        elif c1 > t1:
            gc.collect(1)
        elif c0 > t0:
            gc.collect(0)
        else:
            return
        self.collections += 1


def install(interval_ms: int = 500) -> GuiThreadCollector:
    """Install once per process (call on the GUI thread, with a QApplication)."""
    global _guard
    if _guard is None:
        _guard = GuiThreadCollector(interval_ms)
    return _guard
