"""How the centre follows a command from its answers, on SQLite and PostgreSQL: answers
applied through the ingest's `Applier` exactly as they come off the broker (duplicates,
late and out-of-order copies, answers from the wrong terminal, chunks in any order, a
chunk set that does not add up)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from kiosk.fleet import commands_protocol as cp
from kiosk.fleet import protocol
from opscentre import commands
from opscentre.apply import Applier, Message
from opscentre.commands import CommandService
from opscentre.models import Command, CommandChunk, CommandFile, Event
from opscentre.signing import CommandKey

T1, T2 = "DG-0001", "DG-0002"


@pytest.fixture
def made(centre_db: Any, command_key: CommandKey) -> Callable[..., Command]:
    _, sessions = centre_db

    def make(action: str = "restart", args: dict[str, Any] | None = None,
             terminal: str = T1) -> Command:
        with sessions() as db:
            [cmd] = CommandService(command_key, None).create(
                db, commands.Request((terminal,), action, args or {}), "otto")
        return cmd

    return make


def answer(sessions: Any, applier: Applier, cid: str, state: str, *, terminal: str = T1,
           mid: str | None = None, reason: str = "", result: dict[str, Any] | None = None,
           at: float | None = None) -> None:
    body = cp.result_body(cid, state, reason=reason, result=result)
    kw: dict[str, Any] = {"id": mid} if mid else {}
    env = protocol.Envelope(terminal, cp.RESULT_TYPE, body, at=at or dt.datetime.now(
        dt.UTC).timestamp(), **kw)
    with sessions.begin() as s:
        applier.apply(s, [Message("results", env, dt.datetime.now(dt.UTC))])


def get(sessions: Any, cid: str) -> Command:
    with sessions() as s:
        c = s.get(Command, cid)
        assert c is not None
        return c


def test_states_only_move_forward(centre_db: Any, made: Any) -> None:
    _, sessions = centre_db
    a = Applier()
    cmd = made()
    answer(sessions, a, cmd.id, "pending", mid="m1", reason="session_active")
    answer(sessions, a, cmd.id, "pending", mid="m1")  # a QoS 1 duplicate: applied once
    answer(sessions, a, cmd.id, "received", mid="m0")  # overtaken by the pending one
    c = get(sessions, cmd.id)
    assert (c.state, c.reason) == ("pending", "session_active")
    answer(sessions, a, cmd.id, "done", mid="m3", result={"restarted": True})
    answer(sessions, a, cmd.id, "running", mid="m2")  # late: arrived after done
    c = get(sessions, cmd.id)
    assert (c.state, c.result, c.reason) == ("done", {"restarted": True}, "")
    assert [(h["state"], h.get("ignored", False)) for h in c.history] == [
        ("pending", False), ("received", True), ("done", False), ("running", True)]
    assert c.finished_at is not None


def test_a_refusal_counts_only_before_the_terminal_accepted(centre_db: Any, made: Any) -> None:
    _, sessions = centre_db
    a = Applier()
    cmd = made()
    answer(sessions, a, cmd.id, "received")
    answer(sessions, a, cmd.id, "pending")
    # a redelivered copy of the command, refused as a replay while the first one waits
    answer(sessions, a, cmd.id, "refused", reason="replayed")
    c = get(sessions, cmd.id)
    assert c.state == "pending" and c.reason == ""
    other = made()
    answer(sessions, a, other.id, "refused", reason="bad_signature")
    assert (get(sessions, other.id).state, get(sessions, other.id).reason) == (
        "refused", "bad_signature")


def test_only_the_addressed_terminal_can_answer(centre_db: Any, made: Any) -> None:
    _, sessions = centre_db
    a = Applier()
    cmd = made(terminal=T1)
    answer(sessions, a, cmd.id, "done", terminal=T2, result={"restarted": True})
    c = get(sessions, cmd.id)
    assert c.state == "issued" and c.history == [] and c.result == {}
    with sessions() as s:  # the answer itself is kept, under the terminal that sent it
        assert s.scalars(select(Event.terminal_id).where(Event.topic == "results")).all() \
            == [T2]
    answer(sessions, a, "no-such-command", "done")  # nothing to change, nothing breaks


def _chunks(data: bytes, size: int) -> list[dict[str, Any]]:
    return cp.chunk_attachment(cp.Attachment("screenshot.png", "image/png", data), size)


def test_chunks_in_any_order_and_twice_come_together(centre_db: Any, made: Any) -> None:
    _, sessions = centre_db
    a = Applier()
    cmd = made("screenshot")
    data = bytes(range(256)) * 40  # 10,240 bytes
    parts = _chunks(data, 3000)
    assert len(parts) == 4
    for i, n in enumerate([3, 1, 1, 4, 2]):  # out of order, chunk 1 twice (two messages)
        answer(sessions, a, cmd.id, "done", mid=f"c{i}", result=parts[n - 1])
    with sessions() as s:
        f = s.get(CommandFile, cmd.id)
        assert f is not None and f.data == data and f.received == 4 and f.problem == ""
        assert s.scalars(select(CommandChunk)).all() == []  # joined: the chunks are gone
        bodies = s.scalars(select(Event.body).where(Event.topic == "results")).all()
        assert len(bodies) == 5 and all("data" not in b["result"]["attachment"] for b in bodies)
    assert get(sessions, cmd.id).state == "done"


def test_chunks_that_do_not_add_up_are_marked_not_joined(centre_db: Any, made: Any) -> None:
    _, sessions = centre_db
    a = Applier()
    cmd = made("screenshot")
    parts = _chunks(b"x" * 5000, 2000)
    bad = {"attachment": {**parts[1]["attachment"],
                          "data": base64.b64encode(b"y" * 2000).decode()}}
    for i, p in enumerate([parts[0], bad, parts[2]]):
        answer(sessions, a, cmd.id, "done", mid=f"b{i}", result=p)
    with sessions() as s:
        f = s.get(CommandFile, cmd.id)
        assert f is not None and f.data is None and f.problem == "bad_attachment"
    row = _row(sessions, cmd.id)
    assert row["attachment"]["problem"] == "bad_attachment" and not row["attachment"]["complete"]
    # an attachment bigger than the centre keeps is refused before its chunks are stored
    big = made("logs")
    meta = {"name": "logs.zip", "media_type": "application/zip",
            "size": commands.MAX_ATTACHMENT_BYTES + 1, "sha256": hashlib.sha256(b"").hexdigest(),
            "chunk": 1, "chunks": 2000, "data": ""}
    answer(sessions, a, big.id, "done", result={"attachment": meta})
    with sessions() as s:
        f = s.get(CommandFile, big.id)
        assert f is not None and f.problem == "too_large"
        assert s.scalars(select(CommandChunk)).all() == []


def _row(sessions: Any, cid: str) -> dict[str, Any]:
    with sessions() as s:
        row = commands.get_command(s, cid)
    assert row is not None
    return row


def test_lists_filter_by_terminal_state_action_and_batch(centre_db: Any,
                                                        command_key: CommandKey) -> None:
    _, sessions = centre_db
    a = Applier()
    with sessions() as db:
        svc = CommandService(command_key, None)
        bulk = svc.create(db, commands.Request((T1, T2), "selftest", {}), "otto")
        [one] = svc.create(db, commands.Request((T1,), "set_volume", {"level": 30}), "otto")
    answer(sessions, a, one.id, "done", result={"level": 30})
    with sessions() as db:
        def ids(**kw: Any) -> set[str]:
            return {r["id"] for r in commands.list_commands(db, commands.CommandQuery(**kw))[0]}

        assert ids(terminal=T1) == {bulk[0].id, one.id}
        assert ids(state="done") == {one.id} and ids(state="open") == {c.id for c in bulk}
        assert ids(action="selftest") == {c.id for c in bulk}
        assert bulk[0].batch and ids(batch=bulk[0].batch) == {c.id for c in bulk}
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        rows, total = commands.list_commands(db, commands.CommandQuery(state="no_answer"),
                                             now=later)
        assert total == 2 and {r["state"] for r in rows} == {"no_answer"}
