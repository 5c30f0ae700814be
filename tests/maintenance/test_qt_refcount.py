"""A 24/7 kiosk emits millions of Qt signals: emitting must not leak or drop references.

PySide6 6.12.0 drops a reference to `True` on every `Signal.emit()`; on Python 3.11
(where True is not immortal) the process aborts with "bool_dealloc" after a few
thousand emits. Run in a child process so that a regression fails this test instead
of killing the test run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent("""
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtWidgets import QApplication, QPushButton
    app = QApplication([])
    class S(QObject):
        done = Signal(str, object)
        flag = Signal(bool)
    s = S()
    got = []
    s.done.connect(lambda tag, value: got.append(tag))
    s.flag.connect(lambda v: None)
    button = QPushButton()
    button.clicked.connect(lambda _=False: None)
    before = sys.getrefcount(True), sys.getrefcount(False), sys.getrefcount(None)
    for i in range(20000):
        s.done.emit("health", None)
        s.flag.emit(i % 2 == 0)
        button.click()
    after = sys.getrefcount(True), sys.getrefcount(False), sys.getrefcount(None)
    print("DELTA", *(a - b for a, b in zip(after, before)), len(got), flush=True)
""")


def test_signal_emission_keeps_reference_counts() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         env=dict(os.environ, QT_QPA_PLATFORM="offscreen"), timeout=120)
    assert out.returncode == 0, out.stderr[-1500:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("DELTA"))
    d_true, d_false, d_none, emitted = map(int, line.split()[1:])
    assert emitted == 20000
    # A few references may come and go (caches); a leak or a drop is ~20,000 or more.
    assert abs(d_true) < 100 and abs(d_false) < 100 and abs(d_none) < 100, line
