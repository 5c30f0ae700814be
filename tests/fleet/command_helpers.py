"""Helpers for the remote-command tests: the operations centre's side on the real broker
(signed commands published as the `opscentre` user, results read by a subscriber) and a
terminal runtime configured with the centre's pinned key."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fleet_helpers import Subscriber, wait_for
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from kiosk.fleet import commands_protocol as cp
from kiosk.fleet import protocol


class Centre:
    """Publishes commands to terminals as the centre does and collects their answers."""

    def __init__(self, broker: Any, key: Ed25519PrivateKey, watch: Subscriber) -> None:
        self.key, self.watch = key, watch
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"centre-{uuid.uuid4().hex[:8]}",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.username_pw_set("opscentre", broker.setup.password("opscentre"))
        connected = threading.Event()
        self.client.on_connect = lambda *_a: connected.set()
        self.client.connect(broker.setup.host, broker.setup.port, 30)
        self.client.loop_start()
        assert connected.wait(10), "the centre's client did not connect"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, terminal: str, body: Any, *, kind: str = cp.COMMAND_TYPE) -> None:
        """Any body on the terminal's commands topic, in a proper fleet envelope."""
        env = protocol.Envelope(terminal, kind, body)
        info = self.client.publish(protocol.topic(terminal, "commands"),
                                   json.dumps(env.to_json(), ensure_ascii=False).encode(),
                                   qos=1)
        info.wait_for_publish(10)

    def command(self, terminal: str, action: str, args: dict[str, Any] | None = None, *,
                ttl_s: float = 600, now: float | None = None,
                key: Ed25519PrivateKey | None = None) -> tuple[cp.Command, dict[str, Any]]:
        """A signed command body (not sent), arguments as given (bad ones too)."""
        at = int(time.time() if now is None else now)
        cmd = cp.Command(uuid.uuid4().hex, terminal, action, dict(args or {}), "ops:test", at,
                         at + int(ttl_s))
        return cmd, cp.sign(cmd, key or self.key)

    def send(self, terminal: str, action: str, args: dict[str, Any] | None = None,
             **kw: Any) -> str:
        """Sign and publish; the command's id."""
        to = kw.pop("to", None)
        cmd, body = self.command(terminal, action, args, **kw)
        self.publish(to or terminal, body)
        return cmd.id

    def answers(self, terminal: str, cid: str) -> list[dict[str, Any]]:
        """The command's answers in order, each once (QoS 1 and the outbox deliver at
        least once: a copy carries the same envelope id, which the centre applies once)."""
        seen: set[str] = set()
        out = []
        for m in self.watch.bodies(terminal, "results"):
            if m["type"] == cp.RESULT_TYPE and m["body"]["command_id"] == cid \
                    and m["id"] not in seen:
                seen.add(m["id"])
                out.append(m["body"])
        return out

    def states(self, terminal: str, cid: str) -> list[str]:
        return [a["state"] for a in self.answers(terminal, cid)]

    def wait(self, terminal: str, cid: str, state: str, timeout: float = 30.0,
             ) -> dict[str, Any]:
        """The first answer in `state` (waits for it)."""
        def found() -> dict[str, Any] | None:
            return next((a for a in self.answers(terminal, cid) if a["state"] == state), None)

        return dict(wait_for(found, timeout, f"{cid} {state}"))

    def attachment(self, terminal: str, cid: str, timeout: float = 30.0) -> cp.Attachment:
        """The attachment of a done command, put together from its chunks."""
        def whole() -> cp.Attachment | None:
            r = cp.Reassembly()
            got = None
            for a in self.answers(terminal, cid):
                if a["state"] == "done" and "attachment" in a["result"]:
                    got = r.add(a["result"]) or got
            return got

        return wait_for(whole, timeout, f"{cid} attachment")  # type: ignore[no-any-return]


def write_key(folder: Path) -> tuple[Ed25519PrivateKey, Path]:
    """A centre key made now; its public half as the terminal pins it (a .pub file)."""
    key = Ed25519PrivateKey.generate()
    folder.mkdir(parents=True, exist_ok=True)
    pub = folder / "command.pub"
    pub.write_bytes(cp.public_pem(key.public_key()))
    return key, pub
