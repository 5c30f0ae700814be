"""Engine, sessions, the declarative `Base` and migrations of the centre's database.

SQLite (a file) is the embedded default, PostgreSQL what a deployment uses; the same
models and migrations serve both. Times are stored as naive UTC and handed out as aware
UTC datetimes (`UTCDateTime`), so both engines compare and sort them alike.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

MIGRATIONS = Path(__file__).with_name("migrations")
# Constraint names fixed by convention, so migrations can name what they drop on both engines.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Integer keys: BIGINT on PostgreSQL, INTEGER (the rowid alias that autoincrements) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# JSON documents: JSONB on PostgreSQL (smaller, indexable), JSON text elsewhere.
Json = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out; naive UTC in the column."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def from_unix(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here; a bare path means a SQLite file."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL: the console reads while the ingest writes; busy_timeout: writers queue instead of
    # failing at once; synchronous=NORMAL is durable across a process crash in WAL mode.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_own_transactions(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # pysqlite's implicit BEGIN off: ours is below


def _sqlite_begin_immediate(conn: Connection) -> None:
    # A writer that first reads and then writes in a deferred transaction fails at once
    # (SQLITE_BUSY, no waiting) if another writer committed in between; taking the write
    # lock at BEGIN makes it wait its turn (busy_timeout) instead.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, writer: bool = False, **kw: Any) -> Engine:
    """An engine for `url` (SQLite path or URL, PostgreSQL URL) with the centre's settings.

    `writer`: on SQLite, every transaction takes the write lock when it begins (the ingest,
    alert and notification loops read and then write in one transaction). Otherwise
    pysqlite's own handling stays: statements before the first write run outside a
    transaction, and the first write's BEGIN waits for the lock (busy_timeout)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            raise ValueError("an in-memory SQLite database is not shared between connections; "
                             "give the centre a file")
        engine = create_engine(url, **kw)
        event.listen(engine, "connect", _sqlite_pragmas)
        if writer:
            event.listen(engine, "connect", _sqlite_own_transactions)
            event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    kw.setdefault("pool_pre_ping", True)  # a restarted database leaves dead pooled connections
    kw.setdefault("pool_size", 5)
    kw.setdefault("max_overflow", 5)
    kw.setdefault("connect_args", {"connect_timeout": 5})
    return create_engine(url, **kw)


def load_models() -> None:
    """Register every table on `Base.metadata`: the centre's and the console's."""
    importlib.import_module("opscentre.models")
    if importlib.util.find_spec("opscentre.web") and importlib.util.find_spec(
            "opscentre.web.models"):
        importlib.import_module("opscentre.web.models")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database's schema to `revision` (the newest by default)."""
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
