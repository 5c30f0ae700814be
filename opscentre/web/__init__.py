"""The operations console: server-rendered pages and the JSON API (`create_app`).

Pages (Chinese or English) and `/api/` read the same queries (`queries.py`); accounts,
sessions, tokens, CSRF and the audit log are `opscentre.auth`, the tables
`opscentre.web.models`. `kiosk-ops serve` and `kiosk-ops stack` run the app with uvicorn
next to the ingest. This module imports nothing heavy: the ingest loads the console's
tables (`opscentre.db.load_models`) without FastAPI or Jinja2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.orm import Session, sessionmaker


def create_app(sessionmaker: sessionmaker[Session], settings: Any = None) -> FastAPI:
    """The console on `sessionmaker`'s database (see `opscentre.web.app.create_app`)."""
    from opscentre.web.app import create_app as make

    return make(sessionmaker, settings)
