"""Remote commands: made, signed and published by the centre, followed from the answers.

A command (`kiosk.fleet.commands_protocol`) is stored first (row, audit entry with the
operator, one transaction), then signed with the centre's Ed25519 key and published on
the terminal's `commands` topic with QoS 1. Its state then follows the terminal's answers
on `results`, which the ingest applies in its own transaction (`apply_result`, called by
`opscentre.apply` once per result message, so a QoS 1 duplicate changes nothing):

    issued -> sent (the broker's PUBACK) -> received -> pending (waiting for the
    citizen's session to end) -> running -> done | failed | expired;  or -> refused

plus `unsent` (never published: no broker, or it refused) and, shown but not stored,
`no_answer`: not final `NO_ANSWER_GRACE_S` after the command's expiry (the terminal was
off, or its answer was lost; a terminal's MQTT session is clean, so a command sent while
it is offline is never delivered, and it would be refused as expired anyway).

A state only moves forward: an answer that arrives late (QoS 1 may reorder) is kept in the
history and changes nothing; a refusal counts only before the terminal accepted the
command (a redelivered copy is refused as `replayed` while the first copy runs). Only the
terminal a command was addressed to can answer it: an answer on another terminal's topic
(the broker's ACL makes the topic the sender's) is ignored.

Attachments (screenshot, log bundle) arrive in chunks, one result message each; they are
kept in `command_chunks` and joined (and checked against their sha256) once all are in.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kiosk.fleet import commands_protocol as cp
from kiosk.fleet import protocol
from kiosk.fleet.link import parse_broker_url
from opscentre.db import from_unix, utcnow
from opscentre.models import Command, CommandChunk, CommandFile, CommandState, Terminal
from opscentre.signing import CommandKey, load_key
from opscentre.web.models import AuditEntry

log = logging.getLogger(__name__)

S = CommandState
# How long a command lives by default: what only reads (or only stores) needs no more
# than a round trip; what waits for a citizen's session to end gets a session's length.
DEFAULT_TTL_S: Mapping[str, int] = {
    "screenshot": 120, "logs": 300, "poll_packages": 300, "in_service": 300,
    "screen_schedule": 300, "selftest": 900, "print_test": 900, "set_volume": 900,
    "restart": 1800, "out_of_service": 1800,
}
MIN_TTL_S, MAX_TTL_S = 10, int(cp.MAX_LIFETIME_S)
NO_ANSWER_GRACE_S = 30.0  # after the expiry: an answer on its way may still come
MAX_BULK = 5000
MAX_ATTACHMENT_BYTES = 32 * 1024 * 1024
MAX_HISTORY = 100
FINAL = frozenset({S.DONE.value, S.REFUSED.value, S.FAILED.value, S.EXPIRED.value})
OPEN = (S.ISSUED.value, S.SENT.value, S.RECEIVED.value, S.PENDING.value, S.RUNNING.value)
_RANK = {S.ISSUED.value: 0, S.UNSENT.value: 0, S.SENT.value: 1, S.RECEIVED.value: 2,
         S.PENDING.value: 3, S.RUNNING.value: 4, S.DONE.value: 5, S.FAILED.value: 5,
         S.EXPIRED.value: 5, S.REFUSED.value: 5}
NO_ANSWER = "no_answer"


class CommandError(Exception):
    """A command not made: `key` is a translation key, `status` the HTTP status."""

    def __init__(self, key: str, detail: str = "", status: int = 400) -> None:
        super().__init__(f"{key}: {detail}" if detail else key)
        self.key, self.detail, self.status = key, detail, status


# -- publishing ---------------------------------------------------------------------------------
class Publisher:
    """The centre's MQTT client for commands (the centre's user may write every terminal's
    `commands` topic). A publish counts only once the broker's PUBACK came and did not
    refuse it; while the client is not connected nothing is queued (paho would send a
    queued command later, after the console was told it was not sent)."""

    def __init__(self, broker: str, username: str, password: str, *, ca_file: str = "",
                 client_id: str = "") -> None:
        self.address = parse_broker_url(broker)
        self.connected = threading.Event()
        self.failed = threading.Event()  # a connection attempt failed (paho retries)
        self._refused: dict[int, str] = {}
        self._lock = threading.Lock()
        c = mqtt.Client(CallbackAPIVersion.VERSION2,
                        client_id=client_id or f"opscentre-cmd-{secrets.token_hex(4)}",
                        protocol=MQTTProtocolVersion.MQTTv5)
        c.username_pw_set(username, password)
        if self.address.tls:
            c.tls_set(ca_certs=ca_file or None, cert_reqs=ssl.CERT_REQUIRED,
                      tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.reconnect_delay_set(1, 30)
        c.max_inflight_messages_set(1000)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_connect_fail = lambda *_a: self.failed.set()
        c.on_publish = self._on_publish
        c.on_socket_open = _no_delay
        c.suppress_exceptions = True
        self.client = c

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        if reason.is_failure:
            log.error("commands: broker %s refused the centre: %s", self.address.url, reason)
            self.failed.set()
            return
        self.connected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self.connected.clear()

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        if reason.is_failure:  # set before paho marks the message published
            self._refused[mid] = str(reason)

    def start(self, wait_s: float = 0.0) -> Publisher:
        a = self.address
        self.client.connect_async(a.host, a.port, keepalive=30)
        self.client.loop_start()
        deadline = time.monotonic() + wait_s
        # a one-shot caller (the CLI) waits for the first attempt's outcome, not the time
        while not (self.connected.is_set() or self.failed.is_set()) and \
                time.monotonic() < deadline:
            self.connected.wait(0.05)
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, messages: Sequence[tuple[str, bytes]], timeout_s: float = 10.0
                ) -> list[str]:
        """Publish (terminal, payload) pairs on their `commands` topics; for each, "" once
        the broker acknowledged it, or why not."""
        if not self.connected.is_set():
            return ["broker_unavailable"] * len(messages)
        infos: list[mqtt.MQTTMessageInfo | None] = []
        with self._lock:
            for terminal, payload in messages:
                sent = self.client.publish(protocol.topic(terminal, "commands"), payload,
                                           qos=protocol.QOS["commands"],
                                           retain=protocol.RETAIN["commands"])
                infos.append(sent if sent.rc == MQTTErrorCode.MQTT_ERR_SUCCESS else None)
        deadline = time.monotonic() + timeout_s
        out = []
        for info in infos:
            if info is None:
                out.append("broker_unavailable")
                continue
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError):
                out.append("broker_unavailable")
                continue
            if not info.is_published():
                out.append("no_puback")
                continue
            refused = self._refused.pop(info.mid, "")
            out.append(f"refused: {refused}" if refused else "")
        return out


def _no_delay(_c: Any, _u: Any, sock: Any) -> None:
    """Commands are small and one at a time: Nagle's algorithm would hold one back until
    the broker acknowledged the previous segment (a delayed ACK: up to 40 ms)."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


# -- making commands ------------------------------------------------------------------------------
def ttl_for(action: str, ttl_s: float | None) -> int:
    if ttl_s is None:
        return DEFAULT_TTL_S.get(action, 300)
    if not MIN_TTL_S <= ttl_s <= MAX_TTL_S:
        raise CommandError("command.bad_ttl", f"{MIN_TTL_S}-{MAX_TTL_S} s")
    return int(ttl_s)


def wire_command(cmd: Command) -> cp.Command:
    """The protocol's command of a row (whole seconds, as it was signed)."""
    return cp.Command(cmd.id, cmd.terminal_id, cmd.action, dict(cmd.args), cmd.operator,
                      int(cmd.issued_at.timestamp()), int(cmd.expires_at.timestamp()))


def signed_payload(cmd: Command | cp.Command, key: CommandKey) -> bytes:
    """The envelope's bytes: the command, its signature and the key's id."""
    wire = wire_command(cmd) if isinstance(cmd, Command) else cmd
    body = cp.sign(wire, key.private)
    return protocol.encode(protocol.Envelope(wire.terminal, cp.COMMAND_TYPE, body))


@dataclass(frozen=True)
class Request:
    """What an operator asks for: one action with its arguments for some terminals."""

    terminals: tuple[str, ...]
    action: str
    args: Mapping[str, Any]
    ttl_s: float | None = None


class CommandService:
    """Makes, signs, publishes commands; the console and the CLI share it."""

    def __init__(self, key: CommandKey | None, publisher: Publisher | None) -> None:
        self.key = key
        self.publisher = publisher

    @property
    def ready(self) -> str:
        """"" when commands can be issued, else the translation key of what is missing."""
        if self.key is None:
            return "command.no_key"
        if self.publisher is None:
            return "command.no_broker"
        return ""

    def create(self, db: Session, req: Request, actor: str, *, address: str = "",
               now: float | None = None) -> list[Command]:
        """Store the commands with their audit entries (committed), signed-ready."""
        if self.key is None:
            raise CommandError("command.no_key", status=503)
        terminals = list(dict.fromkeys(req.terminals))
        if not terminals:
            raise CommandError("command.no_terminals")
        if len(terminals) > MAX_BULK:
            raise CommandError("command.too_many", str(MAX_BULK))
        for tid in terminals:
            if not protocol.TERMINAL_ID.match(tid):
                raise CommandError("command.bad_terminal", tid[:64])
        ttl = ttl_for(req.action, req.ttl_s)
        batch = secrets.token_hex(8) if len(terminals) > 1 else ""
        operator = actor[:cp.MAX_OPERATOR]
        rows = []
        for tid in terminals:
            try:
                wire = cp.new_command(tid, req.action, req.args, operator=operator,
                                      ttl_s=ttl, now=now)
            except cp.CommandRefused as exc:
                raise CommandError(f"command.{exc.reason}", exc.detail) from None
            entry = AuditEntry(at=utcnow(), actor=actor[:80], action="command_issued",
                               target=f"command:{wire.id}", address=address[:64],
                               detail={"terminal": tid, "action": wire.action,
                                       "args": dict(wire.args), "batch": batch,
                                       "expires_at": wire.expires_at})
            db.add(entry)
            row = Command(id=wire.id, terminal_id=tid, action=wire.action,
                          args=dict(wire.args), operator=operator,
                          issued_at=from_unix(wire.issued_at),
                          expires_at=from_unix(wire.expires_at), key_id=self.key.key_id,
                          batch=batch, state=S.ISSUED.value, reason="", detail="",
                          result={}, history=[])
            db.add(row)
            rows.append((row, entry))
        db.flush()
        for row, entry in rows:
            row.audit_id = entry.id
        if batch:
            db.add(AuditEntry(at=utcnow(), actor=actor[:80], action="command_bulk",
                              target=f"batch:{batch}", address=address[:64],
                              detail={"action": req.action, "terminals": len(terminals)}))
        db.commit()
        return [r for r, _ in rows]

    def publish(self, db: Session, rows: Sequence[Command]) -> list[Command]:
        """Sign and publish stored commands; their state becomes sent or unsent."""
        if self.key is None:
            raise CommandError("command.no_key", status=503)
        problems = (self.publisher.publish([(r.terminal_id, signed_payload(r, self.key))
                                            for r in rows])
                    if self.publisher is not None else ["broker_unavailable"] * len(rows))
        now = utcnow()
        sent = [r.id for r, p in zip(rows, problems, strict=True) if not p]
        for part in _chunks(sent, 500):
            # only an issued command becomes sent: the terminal's answer may have come first
            db.execute(update(Command).where(Command.id.in_(part)).values(
                sent_at=now, state=case((Command.state == S.ISSUED.value, S.SENT.value),
                                        else_=Command.state)))
        for r, p in zip(rows, problems, strict=True):
            if p == "no_puback":  # maybe delivered: the answers will tell
                db.execute(update(Command).where(Command.id == r.id).values(detail=p))
            elif p:
                db.execute(update(Command).where(Command.id == r.id,
                                                 Command.state == S.ISSUED.value)
                           .values(state=S.UNSENT.value, reason=p.partition(":")[0],
                                   detail=p[:500], finished_at=now))
        db.commit()
        ids = [r.id for r in rows]
        out = {c.id: c for part in _chunks(ids, 500)
               for c in db.scalars(select(Command).where(Command.id.in_(part))
                                   .execution_options(populate_existing=True))}
        return [out[i] for i in ids]

    def issue(self, db: Session, req: Request, actor: str, *, address: str = "",
              now: float | None = None) -> list[Command]:
        """Create, then publish: the commands as they are after the broker's answer."""
        if self.ready:
            raise CommandError(self.ready, status=503)
        return self.publish(db, self.create(db, req, actor, address=address, now=now))


def service_for(opts: Any) -> CommandService:
    """A running centre's service (`opscentre.server.ServeOptions`): its signing key, if
    one is configured, and a publisher of its own on the centre's broker account."""
    key = load_key(opts.command_key) if opts.command_key else None
    if key is None:
        log.warning("commands: no signing key (--command-key); the console cannot send any")
    else:
        log.info("commands: signing with key %s", key.key_id)
    publisher = Publisher(opts.broker, opts.broker_user, opts.broker_password,
                          ca_file=opts.ca_file,
                          client_id=f"opscentre-{opts.instance or 'centre'}-cmd-"
                                    f"{secrets.token_hex(3)}").start()
    return CommandService(key, publisher)


def _chunks(items: Sequence[str], n: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


# -- following the answers (called by the ingest, in its transaction) ----------------------------
def stored_result(body: Mapping[str, Any]) -> dict[str, Any]:
    """A result body as the events table keeps it: an attachment chunk without its data
    (that goes to `command_chunks` once, not into the event history for 180 days)."""
    out = dict(body)
    result = out.get("result")
    if isinstance(result, Mapping) and isinstance(result.get("attachment"), Mapping):
        att = {k: v for k, v in result["attachment"].items() if k != "data"}
        out["result"] = {**result, "attachment": att}
    return out


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else \
        sqlite.insert


def apply_result(session: Session, terminal: str, env: protocol.Envelope,
                 received: dt.datetime) -> bool:
    """Apply one answer (applied once per message id by the caller); True if it changed
    a command."""
    try:
        r = cp.parse_result(env.body)
    except ValueError as exc:
        log.info("commands: a malformed answer from %s (%s)", terminal, exc)
        return False
    cmd = session.scalar(select(Command).where(Command.id == r["command_id"])
                         .with_for_update())
    if cmd is None or cmd.terminal_id != terminal:
        # not ours (another centre's database), or a terminal answering for another
        log.info("commands: %s answered %s for a command it was not sent", terminal,
                 r["state"])
        return False
    att = r["result"].get("attachment")
    changed = _advance(cmd, r, from_unix(env.at), received, chunk=isinstance(att, Mapping))
    if isinstance(att, Mapping):
        _attachment(session, cmd, att)
        changed = True
    return changed


def _advance(cmd: Command, r: Mapping[str, Any], at: dt.datetime, received: dt.datetime,
             *, chunk: bool) -> bool:
    state, current = r["state"], cmd.state
    if current in FINAL:
        takes = False
    elif state == S.REFUSED.value:  # a refusal means something only before acceptance
        takes = _RANK[current] <= _RANK[S.SENT.value]
    else:
        takes = _RANK[state] >= _RANK[current]
    first_chunk = chunk and r["result"]["attachment"].get("chunk") in (1, None)
    if not chunk or first_chunk or takes:
        entry = {"state": state, "reason": r["reason"][:64], "at": at.isoformat(),
                 "received": received.isoformat()}
        if not takes:
            entry["ignored"] = True
        cmd.history = [*(cmd.history or []), entry][-MAX_HISTORY:]
    if not takes:
        return False
    cmd.state = state
    cmd.reason = r["reason"][:64]
    cmd.detail = r["detail"][:500]
    if state in FINAL:  # what received/pending/running carry only repeats the command
        result = {k: v for k, v in r["result"].items() if k not in ("attachment", "action")}
        if result:
            cmd.result = {**(cmd.result or {}), **result}
    cmd.updated_at = received
    if state in FINAL:
        cmd.finished_at = received
    return True


@dataclass(frozen=True)
class ChunkMeta:
    """What every chunk of one attachment repeats (and must repeat the same)."""

    name: str
    media_type: str
    size: int
    sha256: str
    chunks: int

    @classmethod
    def of(cls, att: Mapping[str, Any]) -> ChunkMeta | None:
        name, media, size, digest, chunks = (att.get(k) for k in (
            "name", "media_type", "size", "sha256", "chunks"))
        if not (isinstance(name, str) and isinstance(media, str) and isinstance(digest, str)
                and isinstance(size, int) and isinstance(chunks, int)
                and 1 <= chunks <= 100_000 and isinstance(att.get("chunk"), int)
                and isinstance(att.get("data"), str)):
            return None
        return cls(name[:128], media[:64], size, digest[:64], chunks)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "media_type": self.media_type, "size": self.size,
                "sha256": self.sha256, "chunks": self.chunks}


def _attachment(session: Session, cmd: Command, att: Mapping[str, Any]) -> None:
    meta = ChunkMeta.of(att)
    if meta is None:
        log.info("commands: a malformed attachment chunk for %s", cmd.id)
        return
    too_large = meta.size > MAX_ATTACHMENT_BYTES
    session.execute(_insert(session)(CommandFile).values(
        command_id=cmd.id, **meta.to_json(), received=0,
        problem="too_large" if too_large else "").on_conflict_do_nothing())
    # locked: chunks applied by two centre instances at once both count the other's
    f = session.scalar(select(CommandFile).where(CommandFile.command_id == cmd.id)
                       .with_for_update().execution_options(populate_existing=True))
    if f is None or f.data is not None or f.problem:
        return
    if ChunkMeta(f.name, f.media_type, f.size, f.sha256, f.chunks) != meta:
        f.problem = "mixed_chunks"
        return
    n = att["chunk"]
    if not 1 <= n <= f.chunks:
        return
    session.execute(_insert(session)(CommandChunk).values(
        command_id=cmd.id, n=n, data=att["data"]).on_conflict_do_nothing())
    f.received = session.scalar(select(func.count()).select_from(CommandChunk)
                                .where(CommandChunk.command_id == cmd.id)) or 0
    if f.received < f.chunks:
        return
    joined = cp.Reassembly()
    whole = None
    try:
        for c in session.scalars(select(CommandChunk).where(CommandChunk.command_id == cmd.id)
                                 .order_by(CommandChunk.n)):
            whole = joined.add({"attachment": {**meta.to_json(), "chunk": c.n,
                                               "data": c.data}})
    except ValueError as exc:
        log.warning("commands: the attachment of %s does not join (%s)", cmd.id, exc)
        f.problem = "bad_attachment"
    if whole is not None:
        f.data, f.completed_at = whole.data, utcnow()
    session.execute(delete(CommandChunk).where(CommandChunk.command_id == cmd.id))


# -- reading ---------------------------------------------------------------------------------------
def shown_state(cmd: Command, now: dt.datetime | None = None) -> str:
    """The state to show: the stored one, or `no_answer` once an open one is overdue."""
    now = now or utcnow()
    if cmd.state in OPEN and now > cmd.expires_at + dt.timedelta(seconds=NO_ANSWER_GRACE_S):
        return NO_ANSWER
    return cmd.state


def is_final(state: str) -> bool:
    return state in FINAL or state in (S.UNSENT.value, NO_ANSWER)


def command_row(cmd: Command, file: CommandFile | None = None,
                now: dt.datetime | None = None) -> dict[str, Any]:
    """One command as JSON-able data (times ISO 8601 UTC)."""
    now = now or utcnow()
    state = shown_state(cmd, now)

    def iso(t: dt.datetime | None) -> str | None:
        return t.isoformat() if t else None

    attachment = None
    if file is not None:
        attachment = {"name": file.name, "media_type": file.media_type, "size": file.size,
                      "sha256": file.sha256, "chunks": file.chunks, "received": file.received,
                      "complete": file.data is not None, "problem": file.problem or None,
                      "url": f"/api/commands/{cmd.id}/attachment"}
    return {"id": cmd.id, "terminal": cmd.terminal_id, "action": cmd.action,
            "args": cmd.args, "operator": cmd.operator, "issued_at": iso(cmd.issued_at),
            "expires_at": iso(cmd.expires_at), "key_id": cmd.key_id, "batch": cmd.batch or None,
            "state": state, "final": is_final(state),
            "waiting_for_session": state == S.PENDING.value,
            "time_left_s": max(0, round((cmd.expires_at - now).total_seconds())),
            "reason": cmd.reason or None, "detail": cmd.detail or None,
            "result": cmd.result or {}, "attachment": attachment, "history": cmd.history or [],
            "sent_at": iso(cmd.sent_at), "updated_at": iso(cmd.updated_at),
            "finished_at": iso(cmd.finished_at), "audit_id": cmd.audit_id}


@dataclass(frozen=True)
class CommandQuery:
    terminal: str | None = None
    state: str | None = None  # a stored state, or no_answer / open
    action: str | None = None
    batch: str | None = None
    ids: tuple[str, ...] = ()
    limit: int = 100
    offset: int = 0


def _where(q: CommandQuery, now: dt.datetime) -> list[Any]:
    conds: list[Any] = []
    if q.terminal:
        conds.append(Command.terminal_id == q.terminal)
    if q.action:
        conds.append(Command.action == q.action)
    if q.batch:
        conds.append(Command.batch == q.batch)
    if q.ids:
        conds.append(Command.id.in_(q.ids))
    overdue = now - dt.timedelta(seconds=NO_ANSWER_GRACE_S)
    if q.state == NO_ANSWER:
        conds += [Command.state.in_(OPEN), Command.expires_at < overdue]
    elif q.state == "open":
        conds += [Command.state.in_(OPEN), Command.expires_at >= overdue]
    elif q.state in OPEN:
        conds += [Command.state == q.state, Command.expires_at >= overdue]
    elif q.state:
        conds.append(Command.state == q.state)
    return conds


def list_commands(db: Session, q: CommandQuery, now: dt.datetime | None = None
                  ) -> tuple[list[dict[str, Any]], int]:
    """Commands newest first, with their attachments' state; (rows, total)."""
    now = now or utcnow()
    conds = _where(q, now)
    total = db.scalar(select(func.count()).select_from(Command).where(*conds)) or 0
    cmds = db.scalars(select(Command).where(*conds)
                      .order_by(Command.issued_at.desc(), Command.id)
                      .limit(q.limit).offset(q.offset)).all()
    files = _files(db, [c.id for c in cmds])
    return [command_row(c, files.get(c.id), now) for c in cmds], total


def _files(db: Session, ids: list[str]) -> dict[str, CommandFile]:
    if not ids:
        return {}
    cols = [CommandFile.command_id, CommandFile.name, CommandFile.media_type,
            CommandFile.size, CommandFile.sha256, CommandFile.chunks, CommandFile.received,
            CommandFile.problem, CommandFile.completed_at,
            (CommandFile.data.is_not(None)).label("complete")]
    out = {}
    for r in db.execute(select(*cols).where(CommandFile.command_id.in_(ids))):
        # the data stays in the database: a list never loads a screenshot
        f = CommandFile(command_id=r.command_id, name=r.name, media_type=r.media_type,
                        size=r.size, sha256=r.sha256, chunks=r.chunks, received=r.received,
                        problem=r.problem, completed_at=r.completed_at,
                        data=b"" if r.complete else None)
        out[r.command_id] = f
    return out


def get_command(db: Session, cid: str, now: dt.datetime | None = None) -> dict[str, Any] | None:
    cmd = db.get(Command, cid)
    if cmd is None:
        return None
    return command_row(cmd, _files(db, [cid]).get(cid), now)


def attachment(db: Session, cid: str) -> CommandFile | None:
    """The complete attachment of a command (with its bytes), or None."""
    f = db.get(CommandFile, cid)
    return f if f is not None and f.data is not None else None


def terminals_matching(db: Session, where: Sequence[Any]) -> list[str]:
    """Terminal ids for a bulk command (conditions on `Terminal`)."""
    return list(db.scalars(select(Terminal.id).where(*where).order_by(Terminal.id)))


def known_terminals(db: Session, ids: Sequence[str]) -> dict[str, bool]:
    """{id: online} of the terminals among `ids` that the centre has heard from."""
    out: dict[str, bool] = {}
    for part in _chunks(list(ids), 500):
        out.update({tid: bool(online) for tid, online in db.execute(
            select(Terminal.id, Terminal.online).where(Terminal.id.in_(part)))})
    return out


def overdue_open(db: Session, now: dt.datetime | None = None) -> int:
    """How many commands show `no_answer` now (for the centre's health page)."""
    now = now or utcnow()
    return db.scalar(select(func.count()).select_from(Command).where(
        Command.state.in_(OPEN),
        Command.expires_at < now - dt.timedelta(seconds=NO_ANSWER_GRACE_S))) or 0

