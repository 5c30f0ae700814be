"""Run Python's cyclic garbage collector on the GUI thread only.

Flow steps run on worker threads and allocate a lot (PDF rendering). If an automatic
collection triggers there while unreachable Qt widgets sit in reference cycles, their
C++ objects are destroyed on the wrong thread, which crashes Qt. So automatic
collection is switched off and a GUI-thread timer collects whenever the allocation
counters pass Python's own thresholds — the same policy, on the right thread.

Three things keep each collection short (the GUI thread stops for it):

- What exists when the guard is installed (modules, classes, the runtime: ~80,000
  objects that live as long as the process) is frozen out of the collector's sight: a
  full collection walked them all, 35-110 ms. Freezing costs nothing; the few hundred
  objects of start-up garbage it keeps are not worth a pause.
- A full collection waits, like Python's own collector, until the objects that survived
  into the oldest generation have grown by a quarter since the last one; the guard used
  to run one every eleventh middle collection (every ~6 s of a busy flow at 50 ms).
- Checks come every 50 ms, not 500: a young generation holding half a second of a PDF
  render's allocations took 30-60 ms to collect; a twentieth of it takes a few.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

_guard: GuiThreadCollector | None = None
INTERVAL_MS = 50


class GuiThreadCollector(QObject):
    def __init__(self, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__()
        self.thresholds = gc.get_threshold()
        gc.disable()
        gc.freeze()  # see the module's docstring
        self.long_lived = len(gc.get_objects(2))  # after the last full collection
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)
        self.collections = 0

    def check(self) -> None:
        c0, c1, c2 = gc.get_count()
        t0, t1, t2 = self.thresholds
        if c1 > t1:  # the oldest generation is looked at (a list of it) only then
            if c2 > t2 and self._long_lived_grew():
                gc.collect(2)
                self.long_lived = len(gc.get_objects(2))
            else:
                gc.collect(1)
        elif c0 > t0:
            gc.collect(0)
        else:
            return
        self.collections += 1

    def _long_lived_grew(self) -> bool:
        """Python's rule for a full collection: the oldest generation grew by 25%."""
        return len(gc.get_objects(2)) - self.long_lived > self.long_lived / 4


def install(interval_ms: int = INTERVAL_MS) -> GuiThreadCollector:
    """Install once per process (call on the GUI thread, with a QApplication)."""
    global _guard
    if _guard is None:
        _guard = GuiThreadCollector(interval_ms)
    return _guard
