"""A port-9100 ESC/POS printer on TCP: records bytes, decodes them, answers status.

    python -m emulators.escpos_listener --port 9100 --out /tmp/receipts

Each finished (cut) receipt is written to OUT as `receipt-NNN.bin` and an
approximate picture `receipt-NNN.png`. Faults for tests and demos:
`printer.set_paper("out")`, `printer.paper_out_after_lines = N`,
`printer.set_cover(True)`, `printer.answer_status = False`, and
`listener.drop_after_bytes = N` (the connection is closed mid-job).
"""

from __future__ import annotations

import argparse
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

from emulators.escpos_printer import EmulatedPrinter
from emulators.escpos_render import render_png


class JobSaver:
    """Writes each newly completed job's bytes and picture to a folder."""

    def __init__(self, printer: EmulatedPrinter, out: Path | None) -> None:
        self.printer, self.out = printer, out
        self.saved = 0
        self._lock = threading.Lock()  # the connection thread and a test may both save

    def save_new(self) -> None:
        if self.out is None:
            return
        with self._lock:
            self._save_new()

    def _save_new(self) -> None:
        assert self.out is not None
        done = self.printer.completed_jobs
        while self.saved < len(done):
            job = done[self.saved]
            self.saved += 1
            self.out.mkdir(parents=True, exist_ok=True)
            render_png(job.events, self.out / f"receipt-{self.saved:03d}.png", self.printer.dots)
            (self.out / f"receipt-{self.saved:03d}.txt").write_text(
                "\n".join(job.lines) + "\n", encoding="utf-8")


def pump(recv: Callable[[float], bytes | None], send: Callable[[bytes], None],
         printer: EmulatedPrinter, stop: threading.Event,
         drop_after: Callable[[], int | None] = lambda: None,
         on_change: Callable[[], None] = lambda: None) -> str:
    """Move bytes between a link and the printer until EOF, stop or a forced drop.

    `recv(timeout)` returns b'' on timeout and None on EOF. Returns why it ended.
    """
    got = 0
    while not stop.is_set():
        data = recv(0.02)
        if data is None:
            return "eof"
        limit = drop_after()
        if limit is not None and data and got + len(data) >= limit:
            keep = data[:max(0, limit - got)]
            printer.feed(keep)
            on_change()
            return "dropped"
        got += len(data)
        reply = printer.feed(data) if data else printer.process()
        if reply:
            send(reply)
        if data:
            on_change()
    return "stopped"


class EscposListener:
    def __init__(self, printer: EmulatedPrinter | None = None, host: str = "127.0.0.1",
                 port: int = 0, out: Path | None = None) -> None:
        self.printer = printer or EmulatedPrinter()
        self.saver = JobSaver(self.printer, out)
        self.drop_after_bytes: int | None = None
        self.connections = 0
        self.drops = 0
        self._stop = threading.Event()
        self._srv = socket.create_server((host, port))
        self._srv.settimeout(0.1)
        self.host, self.port = self._srv.getsockname()[:2]
        self._thread = threading.Thread(target=self._serve, name="escpos-listener", daemon=True)

    @property
    def uri(self) -> str:
        return f"escpos+tcp://{self.host}:{self.port}"

    def start(self) -> EscposListener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._srv.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with conn:
                self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        def recv(timeout: float) -> bytes | None:
            ready, _, _ = select.select([conn], [], [], timeout)
            if not ready:
                return b""
            try:
                data = conn.recv(65536)
            except OSError:
                return None
            return data or None

        def send(data: bytes) -> None:
            try:
                conn.sendall(data)
            except OSError:
                pass

        why = pump(recv, send, self.printer, self._stop, lambda: self.drop_after_bytes,
                   self.saver.save_new)
        if why == "dropped":
            self.drops += 1
            self.drop_after_bytes = None  # once; the next connection works
            # Abort (RST) rather than close politely, like a printer losing power.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9100)
    ap.add_argument("--out", type=Path, default=Path("receipts"))
    ap.add_argument("--columns", type=int, default=48, help="48 for 80 mm, 32 for 58 mm")
    ap.add_argument("--paper", choices=("ok", "low", "out"), default="ok")
    ap.add_argument("--paper-out-after-lines", type=int)
    ap.add_argument("--cover-open", action="store_true")
    ap.add_argument("--silent-status", action="store_true", help="never answer DLE EOT")
    args = ap.parse_args(argv)
    printer = EmulatedPrinter(args.columns, 576 if args.columns >= 48 else 384)
    printer.paper, printer.cover_open = args.paper, args.cover_open
    printer.paper_out_after_lines = args.paper_out_after_lines
    printer.answer_status = not args.silent_status
    lst = EscposListener(printer, args.host, args.port, args.out).start()
    print(f"ESC/POS printer listening on {lst.uri}, receipts in {args.out}", flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        lst.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
