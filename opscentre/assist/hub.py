"""The signalling hub: terminals' calls, the agents on duty, the queue, and the relay of
offers and answers between them (docs/assist.md, *Signalling*).

Everything is in memory on the instance that holds the sockets, behind one lock: the
sockets may live on different event loops (each `Peer` delivers on its own loop), and
nothing here waits on a socket or the database (records go through `Records`, which
writes on a thread of its own). Messages are plain dicts, checked here field by field.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from opscentre.assist import turn
from opscentre.assist.records import Record, Records
from opscentre.db import utcnow
from opscentre.settings import AssistSettings

log = logging.getLogger(__name__)

LANGS = ("zh_CN", "zh_HK", "en")
HANGUP_REASONS = ("citizen", "no_answer", "session_end", "idle", "error")
END_OUTCOMES = ("resolved", "unresolved", "callback")
WRAPUP_S = 300.0  # after the citizen hangs up, the agent may still give the outcome
MAX_SDP = 128 * 1024


class Peer(Protocol):
    """One socket's sending side; both calls return at once, from any thread."""

    def send(self, message: dict[str, Any]) -> None: ...

    def close(self, code: int = 1000) -> None: ...


@dataclass
class Call:
    id: str
    terminal: str
    site: str
    service: str
    service_title: str
    lang: str
    peer: Peer | None
    requested: float  # monotonic
    requested_at: dt.datetime
    state: str = "waiting"  # waiting | connected | held | transferring
    agent: str = ""  # the login holding it (also while transferring: who passed it on)
    agents: list[str] = field(default_factory=list)
    transfer_to: str = ""
    answered_at: dt.datetime | None = None
    answered: float = 0.0  # monotonic
    hold_since: float | None = None
    hold_s: float = 0.0
    last_queued: tuple[int, int, int] = (0, 0, 0)
    lost: int = 0  # bumped when the terminal's socket goes: a grace timer checks it
    agent_lost: int = 0  # the same for the agent's socket (a page reloaded, a blip)

    def record(self, **kw: Any) -> Record:
        return replace(Record(self.id, self.terminal, self.site, self.service, self.lang,
                              self.requested_at, self.answered_at, agents=list(self.agents),
                              hold_s=round(self.hold_s, 1)), **kw)


@dataclass
class Agent:
    login: str
    name: str  # display name: what the citizen is told (and other agents see)
    peer: Peer
    status: str = "away"  # available | away (busy is derived: holding a call)
    names: dict[str, str] = field(default_factory=dict)  # the name in a citizen's language

    def said(self, lang: str) -> str:
        return self.names.get(lang, self.name)


@dataclass
class Ended:
    """A call the terminal ended while an agent held it: its outcome may still be given."""

    agent: str
    record: Record
    at: float


class Hub:
    def __init__(self, settings: AssistSettings, records: Records | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.records = records
        self.clock = clock
        self.turn_secret = turn.read_secret(settings.turn_secret_file)
        self._lock = threading.RLock()
        self.calls: dict[str, Call] = {}
        self.agents: dict[str, Agent] = {}
        self._by_peer: dict[int, str] = {}  # id(terminal peer) -> call id
        self._finished: deque[str] = deque(maxlen=2000)  # ids that may not be reused
        self._wrapup: dict[str, Ended] = {}
        self._handle: deque[float] = deque(maxlen=20)
        if records is not None:
            try:
                self._handle.extend(records.handle_times(20))
            except Exception:
                log.warning("assist: past handle times not read", exc_info=True)

    # -- terminals ---------------------------------------------------------------------------
    def terminal_message(self, peer: Peer, terminal: str, site: str,
                         msg: dict[str, Any]) -> None:
        with self._lock:
            kind = msg.get("type")
            call = self._call_of(peer)
            if kind == "call":
                self._terminal_call(peer, terminal, site, msg, call)
            elif kind == "offer":
                self._terminal_offer(peer, msg, call)
            elif kind == "hangup":
                reason = msg.get("reason")
                if reason not in HANGUP_REASONS:
                    peer.send(_error("bad_request"))
                elif call is not None:
                    self._terminal_hangup(call, str(reason))
                    peer.close(1000)
                else:
                    peer.close(1000)
            else:
                peer.send(_error("unknown_type"))

    def _call_of(self, peer: Peer) -> Call | None:
        cid = self._by_peer.get(id(peer))
        return self.calls.get(cid) if cid else None

    def _terminal_call(self, peer: Peer, terminal: str, site: str, msg: dict[str, Any],
                       current: Call | None) -> None:
        cid = msg.get("call")
        fields = {k: msg.get(k, "") for k in ("service", "service_title", "lang")}
        if (current is not None or not _is_uuid(cid) or not _short(fields["service"], 128)
                or not _short(fields["service_title"], 200) or fields["lang"] not in LANGS):
            peer.send(_error("bad_request"))
            return
        assert isinstance(cid, str)
        known = self.calls.get(cid)
        if known is not None:
            if known.terminal != terminal:
                peer.send(_error("bad_request"))
            else:
                self._rejoin(peer, known)
            return
        if cid in self._finished:
            peer.send(_error("call_ended"))
            peer.close(1000)
            return
        call = Call(cid, terminal, site, str(fields["service"]), str(fields["service_title"]),
                    str(fields["lang"]), peer, self.clock(), utcnow())
        if self._on_duty() == 0:
            peer.send({"type": "unavailable", "reason": "no_agent"})
            peer.close(1000)
            self._finished.append(cid)
            self._save(call.record(ended_at=call.requested_at, outcome="no_agent",
                                   end_reason="no_agent"))
            log.info("assist: call %s from %s: no agent on duty", cid, terminal)
            return
        self.calls[cid] = call
        self._by_peer[id(peer)] = cid
        self._save(call.record())
        log.info("assist: call %s from %s waiting", cid, terminal)
        self._changed()

    def _rejoin(self, peer: Peer, call: Call) -> None:
        """The terminal's socket came back (a network drop): the call goes on on it."""
        old = call.peer
        if old is not None and old is not peer:
            self._by_peer.pop(id(old), None)
            old.close(4409)
        call.peer = peer
        call.lost += 1  # a pending grace timer no longer applies
        self._by_peer[id(peer)] = call.id
        log.info("assist: call %s: terminal back on a new socket", call.id)
        if call.state in ("connected", "held"):
            self._send_answered(call, self.agents.get(call.agent))
            if call.state == "held":
                peer.send({"type": "hold"})
        elif call.state == "transferring":
            to = self.agents.get(call.transfer_to)
            peer.send({"type": "transferring", "to": to.said(call.lang) if to else ""})
        else:
            call.last_queued = (0, 0, 0)
        self._changed()

    def _terminal_offer(self, peer: Peer, msg: dict[str, Any], call: Call | None) -> None:
        sdp, restart = msg.get("sdp"), msg.get("restart", False)
        if not isinstance(sdp, str) or not sdp or len(sdp) > MAX_SDP or not isinstance(
                restart, bool):
            peer.send(_error("bad_request"))
            return
        if call is None or call.state not in ("connected", "held"):
            peer.send(_error("not_answered"))
            return
        agent = self.agents.get(call.agent)
        if agent is not None:
            agent.peer.send({"type": "offer", "call": call.id, "sdp": sdp, "restart": restart,
                             "ice_servers": self._ice(call),
                             "ice_policy": self.settings.ice_policy})

    def _terminal_hangup(self, call: Call, reason: str) -> None:
        answered = call.answered_at is not None
        outcome = {"citizen": "unresolved" if answered else "abandoned",
                   "no_answer": "no_answer", "session_end": "session_end",
                   "idle": "session_end", "error": "dropped"}[reason]
        holder = call.agent if call.state in ("connected", "held") else ""
        rec = self._finish(call, outcome, reason)
        if holder:
            self._wrapup[call.id] = Ended(holder, rec, self.clock())
        self._tell_agents_ended(call, reason)
        self._changed()

    def terminal_lost(self, peer: Peer) -> None:
        """The terminal's socket closed without a hangup (or after one)."""
        with self._lock:
            call = self._call_of(peer)
            self._by_peer.pop(id(peer), None)
            if call is None or call.peer is not peer:
                return
            call.peer = None
            call.lost += 1
            grace = self.settings.reconnect_grace_s
            if grace <= 0:
                self._terminal_gone(call.id, call.lost)
                return
            log.info("assist: call %s: terminal's socket lost, waiting %.0f s", call.id, grace)
            t = threading.Timer(grace, self._terminal_gone, (call.id, call.lost))
            t.daemon = True
            t.start()

    def _terminal_gone(self, cid: str, lost: int) -> None:
        with self._lock:
            call = self.calls.get(cid)
            if call is None or call.peer is not None or call.lost != lost:
                return
            self._finish(call, "dropped", "terminal_gone")
            self._tell_agents_ended(call, "terminal_gone")
            self._changed()

    # -- agents ------------------------------------------------------------------------------
    def agent_joined(self, peer: Peer, login: str, name: str,
                     names: dict[str, str] | None = None) -> None:
        with self._lock:
            old = self.agents.get(login)
            agent = Agent(login, name, peer, names=dict(names or {}))
            if old is not None:  # a second tab or a reload: the newer socket takes over
                agent.status = old.status
                old.peer.close(4409)
            self.agents[login] = agent
            for call in self.calls.values():
                if call.agent == login and call.state in ("connected", "held"):
                    peer.send({"type": "taken", "call": call.id, "terminal": call.terminal,
                               "site": call.site, "service_title": call.service_title})
                    # The page's media went with its old socket (a reload, another tab):
                    # `answered` again makes the terminal offer a new connection to it.
                    call.agent_lost += 1  # a grace timer running for this call stands down
                    agent.status = "available"  # on duty: she took this call
                    self._send_answered(call, agent)
                    log.info("assist: call %s: %s back on a new socket", call.id, login)
            self._changed()

    def agent_lost(self, peer: Peer, login: str) -> None:
        with self._lock:
            agent = self.agents.get(login)
            if agent is None or agent.peer is not peer:
                return  # replaced by a newer socket: its calls stay
            del self.agents[login]
            grace = self.settings.reconnect_grace_s
            for call in list(self.calls.values()):
                if call.agent == login and call.state in ("connected", "held"):
                    if grace > 0 and call.peer is not None:  # a reload: the agent may be back
                        call.agent_lost += 1
                        log.info("assist: call %s: %s's socket lost, waiting %.0f s", call.id,
                                 login, grace)
                        t = threading.Timer(grace, self._agent_gone,
                                            (call.id, login, call.agent_lost))
                        t.daemon = True
                        t.start()
                    else:
                        self._drop_for_agent(call)
                elif call.state == "transferring" and call.transfer_to == login:
                    self._back_to_queue(call)
            self._changed()

    def _agent_gone(self, cid: str, login: str, lost: int) -> None:
        with self._lock:
            call = self.calls.get(cid)
            if call is None or call.agent != login or call.agent_lost != lost or (
                    login in self.agents):
                return
            self._drop_for_agent(call)
            self._changed()

    def _drop_for_agent(self, call: Call) -> None:
        """The agent is gone for good: the terminal is told, the call recorded dropped."""
        if call.peer is not None:
            call.peer.send({"type": "ended", "reason": "agent_gone"})
            call.peer.close(1000)
        self._finish(call, "dropped", "agent_gone")

    def agent_message(self, peer: Peer, login: str, msg: dict[str, Any]) -> None:
        with self._lock:
            agent = self.agents.get(login)
            if agent is None or agent.peer is not peer:
                return
            handler = {"status": self._status, "take": self._take, "answer": self._answer,
                       "hold": self._hold, "resume": self._resume,
                       "transfer": self._transfer, "end": self._end}.get(str(msg.get("type")))
            if handler is None:
                peer.send(_error("unknown_type"))
                return
            error = handler(agent, msg)
            if error:
                peer.send(_error(error, msg.get("call")))
            else:
                self._changed()

    def _status(self, agent: Agent, msg: dict[str, Any]) -> str:
        state = msg.get("state")
        if state not in ("available", "away"):
            return "bad_request"
        agent.status = str(state)
        return ""

    def _own(self, agent: Agent, msg: dict[str, Any]) -> tuple[Call | None, str]:
        call = self.calls.get(str(msg.get("call")))
        if call is None:
            return None, "no_such_call"
        if call.agent != agent.login or call.state not in ("connected", "held"):
            return None, "not_yours"
        return call, ""

    def _take(self, agent: Agent, msg: dict[str, Any]) -> str:
        call = self.calls.get(str(msg.get("call")))
        if call is None:
            return "no_such_call"
        if not (call.state == "waiting" or (call.state == "transferring"
                                             and call.transfer_to == agent.login)):
            return "not_waiting"
        if self._holding(agent.login):
            return "busy"
        now = self.clock()
        if call.answered_at is None:
            call.answered_at, call.answered = utcnow(), now
        call.state, call.agent, call.transfer_to = "connected", agent.login, ""
        call.agents.append(agent.login)
        agent.peer.send({"type": "taken", "call": call.id, "terminal": call.terminal,
                         "site": call.site, "service_title": call.service_title})
        self._send_answered(call, agent)
        self._save(call.record())
        log.info("assist: call %s taken by %s", call.id, agent.login)
        return ""

    def _send_answered(self, call: Call, agent: Agent | None) -> None:
        if call.peer is not None and agent is not None:
            call.peer.send({"type": "answered", "agent": agent.said(call.lang),
                            "ice_servers": self._ice(call),
                            "ice_policy": self.settings.ice_policy})

    def _answer(self, agent: Agent, msg: dict[str, Any]) -> str:
        sdp = msg.get("sdp")
        if not isinstance(sdp, str) or not sdp or len(sdp) > MAX_SDP:
            return "bad_request"
        call, error = self._own(agent, msg)
        if call is None:
            return error
        if call.peer is not None:
            call.peer.send({"type": "answer", "sdp": sdp})
        return ""

    def _hold(self, agent: Agent, msg: dict[str, Any]) -> str:
        call, error = self._own(agent, msg)
        if call is None:
            return error
        if call.state == "connected":
            call.state, call.hold_since = "held", self.clock()
            if call.peer is not None:
                call.peer.send({"type": "hold"})
        return ""

    def _resume(self, agent: Agent, msg: dict[str, Any]) -> str:
        call, error = self._own(agent, msg)
        if call is None:
            return error
        if call.state == "held":
            self._unhold(call)
            call.state = "connected"
            if call.peer is not None:
                call.peer.send({"type": "resume"})
        return ""

    def _unhold(self, call: Call) -> None:
        if call.hold_since is not None:
            call.hold_s += self.clock() - call.hold_since
            call.hold_since = None

    def _transfer(self, agent: Agent, msg: dict[str, Any]) -> str:
        call, error = self._own(agent, msg)
        if call is None:
            return error
        to = self.agents.get(str(msg.get("to")))
        if to is None or to.login == agent.login or to.status != "available" or (
                self._holding(to.login)):
            return "no_such_agent"
        self._unhold(call)
        call.state, call.transfer_to = "transferring", to.login
        if call.peer is not None:
            call.peer.send({"type": "transferring", "to": to.said(call.lang)})
        to.peer.send({"type": "transferred", "call": call.id, "from": agent.name})
        log.info("assist: call %s passed from %s to %s", call.id, agent.login, to.login)
        return ""

    def _end(self, agent: Agent, msg: dict[str, Any]) -> str:
        outcome = msg.get("outcome")
        if outcome not in END_OUTCOMES:
            return "bad_request"
        cid = str(msg.get("call"))
        done = self._wrapup.get(cid)
        if done is not None and done.agent == agent.login:  # the citizen hung up first
            del self._wrapup[cid]
            self._save(replace(done.record, outcome=str(outcome)))
            return ""
        call, error = self._own(agent, msg)
        if call is None:
            return error
        if call.peer is not None:
            call.peer.send({"type": "ended", "reason": "agent"})
            call.peer.close(1000)
        self._finish(call, str(outcome), "agent", agent=agent.login)
        agent.peer.send({"type": "ended", "call": call.id, "reason": "agent"})
        return ""

    # -- the queue ---------------------------------------------------------------------------
    def _holding(self, login: str) -> bool:
        return any(c.agent == login and c.state in ("connected", "held")
                   for c in self.calls.values())

    def _on_duty(self) -> int:
        return sum(1 for a in self.agents.values()
                   if a.status == "available" or self._holding(a.login))

    def _state_of(self, agent: Agent) -> str:
        return "busy" if self._holding(agent.login) else agent.status

    def expected_handle_s(self) -> float:
        h = self._handle
        return sum(h) / len(h) if h else self.settings.expected_handle_s

    def _waiting(self) -> list[Call]:
        return sorted((c for c in self.calls.values() if c.state == "waiting"),
                      key=lambda c: c.requested)

    def _back_to_queue(self, call: Call) -> None:
        call.state, call.transfer_to, call.last_queued = "waiting", "", (0, 0, 0)

    def _changed(self) -> None:
        """Tell every waiting terminal its place (when it moved) and every agent the queue;
        with nobody left on duty, waiting calls are told no one can answer."""
        on_duty = self._on_duty()
        waiting = self._waiting()
        if on_duty == 0:
            for call in waiting:
                if call.peer is not None:
                    call.peer.send({"type": "unavailable", "reason": "no_agent"})
                    call.peer.close(1000)
                self._finish(call, "no_agent", "no_agent")
            waiting = []
        mean = self.expected_handle_s()
        for pos, call in enumerate(waiting, 1):
            wait_s = math.ceil(mean * pos / max(on_duty, 1))
            now = (pos, wait_s, on_duty)
            if now != call.last_queued and call.peer is not None:
                call.last_queued = now
                call.peer.send({"type": "queued", "call": call.id, "position": pos,
                                "wait_s": wait_s, "agents": on_duty})
        self._expire_wrapups()
        snapshot = self.queue()
        for agent in self.agents.values():
            agent.peer.send(snapshot)

    def queue(self) -> dict[str, Any]:
        with self._lock:
            now = self.clock()
            calls = [{"call": c.id, "terminal": c.terminal, "site": c.site,
                      "service_title": c.service_title, "lang": c.lang, "state": c.state,
                      "waited_s": int(now - c.requested), "agent": c.agent,
                      "to": c.transfer_to}
                     for c in sorted(self.calls.values(), key=lambda c: c.requested)]
            agents = [{"login": a.login, "name": a.name, "state": self._state_of(a)}
                      for a in sorted(self.agents.values(), key=lambda a: a.login)]
            return {"type": "queue", "calls": calls, "agents": agents}

    def _finish(self, call: Call, outcome: str, reason: str, agent: str = "") -> Record:
        self._unhold(call)
        self.calls.pop(call.id, None)
        if call.peer is not None:
            self._by_peer.pop(id(call.peer), None)
        self._finished.append(call.id)
        rec = call.record(ended_at=utcnow(), outcome=outcome, end_reason=reason,
                          agent=agent or call.agent)
        if call.answered_at is not None:
            self._handle.append(max(0.0, self.clock() - call.answered))
        self._save(rec)
        log.info("assist: call %s ended (%s, %s)", call.id, outcome, reason)
        return rec

    def _tell_agents_ended(self, call: Call, reason: str) -> None:
        login = call.transfer_to if call.state == "transferring" else call.agent
        if login:
            agent = self.agents.get(login)
            if agent is not None:
                agent.peer.send({"type": "ended", "call": call.id, "reason": reason})

    def _expire_wrapups(self) -> None:
        now = self.clock()
        for cid in [k for k, v in self._wrapup.items() if now - v.at > WRAPUP_S]:
            del self._wrapup[cid]

    # -- helpers -----------------------------------------------------------------------------
    def _ice(self, call: Call) -> list[dict[str, Any]]:
        s = self.settings
        return turn.ice_servers(s.turn_urls, self.turn_secret, call.id, s.turn_ttl_s)

    def _save(self, rec: Record) -> None:
        if self.records is not None:
            self.records.save(rec)

    def shutdown(self) -> None:
        """The centre stops: terminals are told, then every socket closes."""
        with self._lock:
            for call in list(self.calls.values()):
                if call.peer is not None:
                    call.peer.send({"type": "ended", "reason": "centre_shutdown"})
                    call.peer.close(1001)
                self._finish(call, "dropped", "centre_shutdown")
            for agent in self.agents.values():
                agent.peer.close(1001)
            self.agents.clear()

    def close(self) -> None:
        """Shut down and wait for the records to be written (the centre stops)."""
        self.shutdown()
        if self.records is not None:
            self.records.close()


def _error(key: str, call: Any = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "error", "error": key}
    if isinstance(call, str) and call:
        msg["call"] = call
    return msg


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 64:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _short(value: Any, limit: int) -> bool:
    return isinstance(value, str) and len(value) <= limit
