"""128-d face descriptors from aligned chips: in this process, or in a helper process.

dlib's ResNet holds Python's GIL for the whole computation (about 0.1 s a face here),
which would freeze the Qt event loop and the camera preview of the kiosk. The kiosk
therefore computes descriptors in a small child process (`ProcessDescriber`) that
receives 150x150 chips over a pipe, in memory only. Command-line tools, tests and the
benchmark may use `InProcessDescriber`, which gives the same numbers.
"""

from __future__ import annotations

import logging
import struct
import subprocess
import sys
import threading
import time
from typing import Any, Protocol

import numpy as np

from kiosk.face.engine import CHIP_SIZE
from kiosk.face.models import load_recognizer, models_dir
from kiosk.face.types import FaceError

log = logging.getLogger(__name__)

DIM = 128
REQ = struct.Struct("<4sII")  # b"CHIP", count, chip side
REP = struct.Struct("<4sI")  # b"DESC"/b"ERR!"/b"REDY", count or message length


class Describer(Protocol):
    def describe(self, chips: list[np.ndarray]) -> list[np.ndarray]: ...

    def close(self) -> None: ...


def _check(chips: list[np.ndarray]) -> bytes:
    for c in chips:
        if c.shape != (CHIP_SIZE, CHIP_SIZE, 3) or c.dtype != np.uint8:
            raise ValueError(f"chips must be {CHIP_SIZE}x{CHIP_SIZE}x3 uint8, got {c.shape}")
    return b"".join(np.ascontiguousarray(c).tobytes() for c in chips)


class InProcessDescriber:
    def __init__(self) -> None:
        self._net: Any = None
        self._lock = threading.Lock()
        self.load_s = 0.0

    def describe(self, chips: list[np.ndarray]) -> list[np.ndarray]:
        _check(chips)
        with self._lock:
            if self._net is None:
                t0 = time.perf_counter()
                self._net = load_recognizer()
                self.load_s = time.perf_counter() - t0
            if not chips:
                return []
            out = self._net.compute_face_descriptor([np.ascontiguousarray(c) for c in chips])
        return [np.asarray(v, dtype=np.float64) for v in out]

    def close(self) -> None:
        self._net = None


def _read_exact(stream: Any, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            raise EOFError("describer process ended")
        buf.extend(chunk)
    return bytes(buf)


class ProcessDescriber:
    """Descriptors from a child process that holds the ResNet model (started lazily)."""

    def __init__(self, start_timeout: float = 60.0) -> None:
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self.load_s = 0.0
        self.pid = 0

    def start(self) -> None:
        """Start the child and wait until its model is loaded (idempotent)."""
        with self._lock:
            self._ensure()

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        folder = models_dir()  # fail here, clearly, rather than in the child
        proc = subprocess.Popen([sys.executable, "-m", "kiosk.face.describer_worker",
                                 str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, bufsize=0)
        try:
            assert proc.stdout is not None
            tag, n = REP.unpack(_read_exact(proc.stdout, REP.size))
            if tag != b"REDY":
                raise EOFError(_read_exact(proc.stdout, n).decode(errors="replace"))
            self.load_s = n / 1000.0
        except EOFError as exc:
            err = proc.stderr.read().decode(errors="replace")[-500:] if proc.stderr else ""
            proc.kill()
            proc.wait()
            raise FaceError("face.engine_failed", f"describer did not start: {exc} {err}") \
                from None
        self._proc, self.pid = proc, proc.pid
        log.info("face descriptor process %d ready (model %.2fs)", proc.pid, self.load_s)
        return proc

    def describe(self, chips: list[np.ndarray]) -> list[np.ndarray]:
        payload = _check(chips)
        if not chips:
            return []
        with self._lock:
            for attempt in (1, 2):
                proc = self._ensure()
                try:
                    assert proc.stdin is not None and proc.stdout is not None
                    proc.stdin.write(REQ.pack(b"CHIP", len(chips), CHIP_SIZE) + payload)
                    proc.stdin.flush()
                    tag, n = REP.unpack(_read_exact(proc.stdout, REP.size))
                    if tag == b"ERR!":
                        raise FaceError("face.engine_failed",
                                        _read_exact(proc.stdout, n).decode(errors="replace"))
                    data = _read_exact(proc.stdout, n * DIM * 8)
                    vecs = np.frombuffer(data, dtype="<f8").reshape(n, DIM)
                    return [v.copy() for v in vecs]
                except (EOFError, BrokenPipeError, OSError) as exc:
                    log.warning("face descriptor process failed (%s); restarting", exc)
                    self._kill()
                    if attempt == 2:
                        raise FaceError("face.engine_failed", str(exc)) from None
        raise AssertionError("unreachable")

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait()

    def close(self) -> None:
        with self._lock:
            proc = self._proc
            if proc is not None and proc.stdin is not None:
                try:
                    proc.stdin.close()  # the child exits at end of input
                    proc.wait(3)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            self._kill()


_shared: ProcessDescriber | None = None
_shared_lock = threading.Lock()


def shared_describer() -> ProcessDescriber:
    """The kiosk's one descriptor process (started on first use, kept for the next citizen)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ProcessDescriber()
        return _shared
