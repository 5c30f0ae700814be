"""Alembic environment of the centre's database (SQLite and PostgreSQL).

`opscentre.db.upgrade(engine)` hands its connection in `config.attributes["connection"]`;
the `alembic` command line may instead give `-x db=URL` or `sqlalchemy.url`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from opscentre.db import Base, load_models, make_engine

load_models()
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place: batch mode copies the table instead
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    cfg = context.config
    connection = cfg.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("db") or cfg.get_main_option(
        "sqlalchemy.url")
    if not url:
        raise SystemExit("no database: pass -x db=URL")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


run()
