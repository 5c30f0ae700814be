"""Helpers for the fleet channel's tests: a subscriber on the real broker, settings."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from kiosk.fleet.client import FleetSettings
from kiosk.fleet.link import LinkSettings, parse_broker_url


def wait_for(cond: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    """Poll until `cond()` is truthy; the timeout only bounds a hang (never asserted on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"condition not met: {what or cond}")


@dataclass(frozen=True)
class Seen:
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.payload)
        return data


class Subscriber:
    """A real MQTT client of the broker (default: `monitor`, reading guanjia/#)."""

    def __init__(self, broker: Any, user: str = "monitor", topic: str = "guanjia/#",
                 version: int = 5, port: int | None = None) -> None:
        self.messages: list[Seen] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.granted: list[Any] = []
        proto = MQTTProtocolVersion.MQTTv5 if version == 5 else MQTTProtocolVersion.MQTTv311
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"{user}-{id(self):x}", protocol=proto)
        self.client.username_pw_set(user, broker.setup.password(user))
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.topic = topic
        self.client.on_connect = lambda c, *_: c.subscribe(self.topic, qos=1)
        self.client.connect(broker.setup.host, port or broker.setup.port, 30)
        self.client.loop_start()
        assert self.subscribed.wait(10), "subscriber was not subscribed"

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, granted: list[Any], _p: Any) -> None:
        self.granted = list(granted)
        self.subscribed.set()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append(Seen(msg.topic, bytes(msg.payload), bool(msg.retain)))

    def on(self, terminal: str, kind: str) -> list[Seen]:
        with self.lock:
            return [m for m in self.messages
                    if m.topic == f"guanjia/v1/terminals/{terminal}/{kind}"]

    def bodies(self, terminal: str, kind: str) -> list[dict[str, Any]]:
        return [m.json() for m in self.on(terminal, kind)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def fleet_settings(broker: Any, terminal: str, password: str | None = None,
                   url: str | None = None, **link: Any) -> FleetSettings:
    address = parse_broker_url(url or broker.setup.url)
    pw = password if password is not None else broker.setup.password(terminal)
    return FleetSettings(terminal, LinkSettings(address, pw, **link), ack_timeout_s=5.0,
                         reconnect_min_s=0.05, reconnect_max_s=0.5, reconnect_spread_s=0.0)
