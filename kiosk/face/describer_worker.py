"""Child process of `ProcessDescriber`: chips on stdin, descriptors on stdout, in memory."""

from __future__ import annotations

import struct
import sys
import time
from pathlib import Path
from typing import BinaryIO

REQ = struct.Struct("<4sII")
REP = struct.Struct("<4sI")


def _read_exact(stream: BinaryIO, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            return None
        buf.extend(chunk)
    return bytes(buf)


def main(argv: list[str]) -> int:
    out = sys.stdout.buffer
    inp = sys.stdin.buffer
    try:
        import dlib
        import numpy as np

        t0 = time.perf_counter()
        net = dlib.face_recognition_model_v1(
            str(Path(argv[0]) / "dlib_face_recognition_resnet_model_v1.dat"))
        out.write(REP.pack(b"REDY", int((time.perf_counter() - t0) * 1000)))
        out.flush()
    except Exception as exc:  # noqa: BLE001 - tell the parent why, then stop
        msg = f"{type(exc).__name__}: {exc}".encode()
        out.write(REP.pack(b"ERR!", len(msg)) + msg)
        out.flush()
        return 1
    while True:
        head = _read_exact(inp, REQ.size)
        if head is None:
            return 0
        tag, n, side = REQ.unpack(head)
        body = _read_exact(inp, n * side * side * 3)
        if tag != b"CHIP" or body is None or n > 64:
            return 2
        try:
            chips = np.frombuffer(body, np.uint8).reshape(n, side, side, 3)
            vecs = net.compute_face_descriptor([np.ascontiguousarray(c) for c in chips])
            data = np.asarray([list(v) for v in vecs], dtype="<f8").tobytes()
            out.write(REP.pack(b"DESC", n) + data)
        except Exception as exc:  # noqa: BLE001 - any failure goes back to the parent as ERR!
            msg = f"{type(exc).__name__}: {exc}".encode()
            out.write(REP.pack(b"ERR!", len(msg)) + msg)
        out.flush()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
