"""Fixtures of the console tests (helpers in console_helpers.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from console_helpers import PASSWORDS, ROLES, Console

from opscentre import auth
from opscentre.db import make_engine, make_sessionmaker, upgrade
from opscentre.web import create_app


@pytest.fixture(scope="session")
def console_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with the three users, made once and copied per test
    (an argon2 hash per user per test adds up)."""
    path = tmp_path_factory.mktemp("console-template") / "centre.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with make_sessionmaker(engine)() as s:
        for user, role in ROLES.items():
            auth.add_user(s, user, role, PASSWORDS[user], by="test")
    engine.dispose()  # the last connection closing folds the WAL into the file
    return path


@pytest.fixture
def make_console(tmp_path: Path, console_template: Path) -> Iterator[Callable[..., Console]]:
    engines = []

    def make(settings: Any = None, name: str = "centre.db", url: str = "") -> Console:
        if url:  # another engine (PostgreSQL): migrated and its users added here
            engine = make_engine(url)
            upgrade(engine)
            with make_sessionmaker(engine)() as s:
                for user, role in ROLES.items():
                    auth.add_user(s, user, role, PASSWORDS[user], by="test")
        else:
            shutil.copyfile(console_template, tmp_path / name)
            engine = make_engine(f"sqlite:///{tmp_path}/{name}")
        engines.append(engine)
        return Console(create_app(make_sessionmaker(engine), settings),
                       make_sessionmaker(engine), tmp_path)

    yield make
    for e in engines:
        e.dispose()


@pytest.fixture
def console(make_console: Callable[..., Console]) -> Console:
    return make_console()


@pytest.fixture
def any_console(make_console: Callable[..., Console], db_url: str) -> Console:
    """The console on each engine the centre supports (SQLite, PostgreSQL)."""
    return make_console(url=db_url)
