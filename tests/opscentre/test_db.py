"""SQLite under a busy ingest: a console request that reads and then writes (a token's last
use, an acknowledgement) is not failed by an ingest commit in between."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from opscentre.models import Terminal
from opscentre.server import Centre, ServeOptions


def read_then_write_while_the_ingest_commits(console: Any, ingest: Any) -> None:
    with console.begin() as s:
        s.execute(select(Terminal.id)).all()

        def commit() -> None:
            with ingest.begin() as w:
                w.add(Terminal(id=f"W{time.monotonic_ns()}"))

        t = threading.Thread(target=commit)
        t.start()
        t.join(15)  # the ingest committed after our read
        s.execute(text("UPDATE terminals SET site = 'x' WHERE id = 'none'"))


def test_a_console_write_after_an_ingest_commit(tmp_path: Path) -> None:
    centre = Centre(ServeOptions(broker="mqtt://127.0.0.1:1", db=str(tmp_path / "c.db")))
    centre.migrate()
    for _ in range(3):
        read_then_write_while_the_ingest_commits(centre.read_sessions, centre.sessions)
    with centre.read_sessions() as s:
        assert len(s.scalars(select(Terminal.id)).all()) == 3
