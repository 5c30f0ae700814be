"""Run a command that dies with its parent: `python child_guard.py PARENT_PID CMD ARG...`.

Started as a script (by path, importing nothing of ours) between the parent's fork and the
real command. On Linux it asks the kernel for PR_SET_PDEATHSIG = SIGTERM: when the thread
that started it ends (the parent killed with SIGKILL, crashed, or exited without stopping
it) the kernel sends SIGTERM. The setting survives exec, so the command inherits it. If
the parent died before prctl ran, that signal will never come; getppid() then no longer
names the parent, and the command is not started at all.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print("usage: child_guard.py PARENT_PID CMD [ARG...]", file=sys.stderr)
        return 2
    parent, cmd = int(argv[1]), argv[2:]
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
            print(f"child_guard: prctl failed: {os.strerror(ctypes.get_errno())}",
                  file=sys.stderr)
            return 1
    if os.getppid() != parent:
        print("child_guard: parent already gone; not starting", file=sys.stderr)
        return 1
    os.execv(cmd[0], cmd)
    return 1  # not reached: execv replaces this process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv))
