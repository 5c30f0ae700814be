"""The broker as users run it: Mosquitto with per-terminal passwords and the fleet ACL."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fleet_helpers import wait_for
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from kiosk.fleet import protocol
from opscentre.broker import BrokerSetup, acl_text, check_password, hash_password, login_accepted


def terminal_client(broker: Any, tid: str, version: int = 5) -> tuple[mqtt.Client, list[Any]]:
    """A bare paho client logged in as terminal `tid`; PUBACK reasons land in the list."""
    proto = MQTTProtocolVersion.MQTTv5 if version == 5 else MQTTProtocolVersion.MQTTv311
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=tid, protocol=proto)
    c.username_pw_set(tid, broker.setup.password(tid))
    acks: list[Any] = []
    connected = threading.Event()
    c.on_connect = lambda *_a: connected.set()
    c.on_publish = lambda _c, _u, mid, rc, _p: acks.append((mid, rc))
    c.connect(broker.setup.host, broker.setup.port, 30)
    c.loop_start()
    assert connected.wait(10)
    return c, acks


def envelope(tid: str, kind: str = "events") -> bytes:
    return protocol.encode(protocol.Envelope(tid, "fault", {"device": "receipt"}))


def test_password_file_entries_are_mosquitto_passwd_entries(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(f), "T1", "s3cret"], check=True)
    theirs = f.read_text().strip().split(":", 1)[1]
    assert check_password("s3cret", theirs) and not check_password("s3cret!", theirs)
    ours = hash_password("s3cret")
    assert ours.startswith("$7$101$") and check_password("s3cret", ours)


def test_logins_need_the_right_password(mosquitto: Any) -> None:
    creds = mosquitto.provision(["DG-ACL-0000"])
    s = mosquitto.setup
    assert login_accepted(s.host, s.port, "DG-ACL-0000", creds["DG-ACL-0000"])
    assert not login_accepted(s.host, s.port, "DG-ACL-0000", "guess")
    assert not login_accepted(s.host, s.port, "", "")  # no anonymous logins


def test_acl_text_names_the_rules() -> None:
    text = acl_text({"opscentre": "centre"})
    for kind in ("state", "health", "events", "results"):
        assert f"pattern write guanjia/v1/terminals/%u/{kind}" in text
    assert "pattern read guanjia/v1/terminals/%u/commands" in text
    assert "topic write guanjia/v1/terminals/+/commands" in text.split("user opscentre")[1]


@pytest.mark.parametrize("version", [5, 4])
def test_a_terminal_cannot_publish_as_another(mosquitto: Any, subscriber: Any,
                                              version: int) -> None:
    me, other = f"DG-ACL-{version}001", f"DG-ACL-{version}002"
    mosquitto.provision([me, other])
    centre = subscriber(user="opscentre", topic="guanjia/v1/terminals/+/events")
    c, acks = terminal_client(mosquitto, me, version)
    try:
        forged = c.publish(protocol.topic(other, "events"), envelope(other), qos=1)
        forged.wait_for_publish(10)
        honest = c.publish(protocol.topic(me, "events"), envelope(me), qos=1)
        honest.wait_for_publish(10)
        # The honest message was published after the forged one on the same connection:
        # once the centre has it, the forged one would have come first if it ever came.
        wait_for(lambda: centre.on(me, "events"), what="the honest event")
        assert centre.on(other, "events") == []
        reasons = dict(acks)
        if version == 5:
            assert reasons[forged.mid].getName() == "Not authorized"
            assert not reasons[honest.mid].is_failure
    finally:
        c.disconnect()
        c.loop_stop()


def test_a_terminal_reads_only_its_own_commands(mosquitto: Any, subscriber: Any) -> None:
    """Mosquitto grants the subscription and withholds the messages (EMQX refuses the
    SUBACK instead): either way nothing of another terminal reaches this one."""
    me, other = "DG-ACL-0011", "DG-ACL-0012"
    mosquitto.provision([me, other])
    c, _ = terminal_client(mosquitto, me)
    got: list[str] = []
    subscribed = threading.Event()
    c.on_message = lambda _c, _u, msg: got.append(msg.topic)
    c.on_subscribe = lambda *_a: subscribed.set()
    ops = subscriber(user="opscentre", topic=protocol.subscription("state"))
    try:
        c.subscribe([(protocol.topic(other, "commands"), 1), (protocol.topic(me, "commands"), 1),
                     (protocol.topic(other, "health"), 1)])
        assert subscribed.wait(10)
        for tid, kind in ((other, "commands"), (other, "health"), (me, "commands")):
            info = ops.client.publish(protocol.topic(tid, kind), envelope(tid), qos=1)
            info.wait_for_publish(10)
        wait_for(lambda: got, what="the terminal's own command")
        assert got == [protocol.topic(me, "commands")]
    finally:
        c.disconnect()
        c.loop_stop()


def test_the_centre_reads_through_a_shared_subscription_and_writes_commands(
        mosquitto: Any, subscriber: Any) -> None:
    tid = "DG-ACL-0021"
    mosquitto.provision([tid])
    shared = subscriber(user="opscentre",
                        topic=protocol.share(protocol.subscription("health")))
    assert not shared.granted[0].is_failure
    commands = subscriber(user="monitor", topic=protocol.topic(tid, "commands"))
    c, _ = terminal_client(mosquitto, tid)
    try:
        c.publish(protocol.topic(tid, "health"),
                  protocol.encode(protocol.Envelope(tid, "health", {})), qos=1)
        wait_for(lambda: shared.on(tid, "health"), what="health through $share")
        ops = shared.client
        ops.publish(protocol.topic(tid, "commands"),
                    protocol.encode(protocol.Envelope(tid, "ping", {})), qos=1)
        wait_for(lambda: commands.on(tid, "commands"), what="a command from the centre")
    finally:
        c.disconnect()
        c.loop_stop()


def test_setup_is_kept_and_reloaded(tmp_path: Path) -> None:
    setup = BrokerSetup(tmp_path / "broker", 18830)
    setup.add_user("opscentre")
    first = setup.add_terminals(["T1", "T2"])
    setup.write()
    again = BrokerSetup.load(tmp_path)  # the stack folder or the broker folder
    assert again.terminals == first and again.users["opscentre"]["role"] == "centre"
    assert again.add_terminals(["T1"]) == {"T1": first["T1"]}  # handed-out passwords stay
    assert (tmp_path / "broker" / "passwd").stat().st_mode & 0o077 == 0
    conf = (tmp_path / "broker" / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "listener 18830 127.0.0.1" in conf
