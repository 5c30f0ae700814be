"""The terminal's fleet client against a real Mosquitto: states, health, events, outages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import Mqtt311Broker, fleet_settings, make_ca, wait_for

from kiosk.fleet import protocol
from kiosk.fleet.link import LinkDriver
from opscentre.broker import TlsFiles, free_port

HERE = Path(__file__).parent


def admit(broker: Any, tid: str, password: str) -> None:
    """Let a terminal in with a known password (the broker reloads its files)."""
    broker.setup.terminals[tid] = password
    broker.reload()


def test_online_state_health_events_and_goodbye(mosquitto: Any, subscriber: Any,
                                                 make_client: Any) -> None:
    tid = "DG-FC-0001"
    mosquitto.provision([tid])
    watch = subscriber()
    client = make_client(fleet_settings(mosquitto, tid),
                         online_body=lambda: {"app_version": "9.9"}).start()
    wait_for(lambda: client.connected, what="connected")
    assert client.publish_health({"devices": {"receipt": {"state": "online"}}})
    key = client.report_event("fault", {"device": "receipt", "details": ["paper_out"]})
    wait_for(lambda: watch.on(tid, "events") and watch.on(tid, "health"), what="messages")
    event = watch.bodies(tid, "events")[0]
    assert event["id"] == key and event["type"] == "fault" and event["terminal"] == tid
    assert event["body"]["details"] == ["paper_out"]
    wait_for(lambda: client.pending() == 0, what="outbox drained after the PUBACK")
    # A subscriber that comes later still learns the state: it is retained.
    late = subscriber()
    wait_for(lambda: late.on(tid, "state"), what="retained state")
    state = late.on(tid, "state")[-1]
    assert state.retain and state.json()["body"]["online"] is True
    assert state.json()["body"]["app_version"] == "9.9"
    client.stop()
    wait_for(lambda: any(not b["body"]["online"] for b in watch.bodies(tid, "state")),
             what="the goodbye")
    assert watch.bodies(tid, "state")[-1]["body"]["reason"] == "stopped"


def test_last_will_marks_a_killed_terminal_offline(mosquitto: Any, subscriber: Any,
                                                   tmp_path: Path) -> None:
    tid = "DG-FC-0002"
    creds = mosquitto.provision([tid])
    watch = subscriber()
    env = dict(os.environ, KIOSK_FLEET_PASSWORD=creds[tid])
    proc = subprocess.Popen([sys.executable, str(HERE / "terminal_child.py"),
                             mosquitto.setup.url, tid, str(tmp_path / "child")],
                            env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        wait_for(lambda: watch.on(tid, "health"), what="the child's health")
        online = [b for b in watch.bodies(tid, "state") if b["body"]["online"]]
        assert online
        proc.send_signal(signal.SIGKILL)  # no goodbye: only the broker can tell
        proc.wait(10)
        offline = wait_for(lambda: [b for b in watch.bodies(tid, "state")
                                    if not b["body"]["online"]], what="the last will")
        assert offline[-1]["body"]["reason"] == "lost"
        assert offline[-1]["body"]["session"] == online[-1]["body"]["session"]
        late = subscriber()  # and it is what the broker keeps for the next reader
        wait_for(lambda: late.on(tid, "state"), what="retained will")
        assert late.on(tid, "state")[-1].json()["body"]["online"] is False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()


def test_broker_down_at_start_events_wait_then_arrive_once(make_mosquitto: Any,
                                                            subscriber: Any,
                                                            make_client: Any) -> None:
    broker = make_mosquitto()
    tid = "DG-FC-0003"
    password = "pw-" + tid
    client = make_client(fleet_settings(broker, tid, password)).start()  # nothing listens
    assert not client.publish_health({"n": 1})  # skipped at once, never waits
    keys = [client.report_event("fault", {"device": f"d{i}"}) for i in range(3)]
    assert client.pending() == 3 and not client.connected
    broker.start()  # the terminal is not provisioned yet: refused, keeps its events
    watch = subscriber(broker)
    wait_for(lambda: "refused" in client.link.last_problem, what="login refused")
    assert client.pending() == 3
    admit(broker, tid, password)
    wait_for(lambda: client.pending() == 0, what="outbox drained")
    wait_for(lambda: len(watch.on(tid, "events")) >= 3, what="events")
    assert [b["id"] for b in watch.bodies(tid, "events")] == keys  # in order, once each
    assert client.health_skipped == 1


def test_broker_killed_mid_run_and_restarted(make_mosquitto: Any, subscriber: Any,
                                             make_client: Any) -> None:
    broker = make_mosquitto()
    tid = "DG-FC-0004"
    broker.setup.add_terminals([tid])
    broker.start()
    client = make_client(fleet_settings(broker, tid)).start()
    wait_for(lambda: client.connected, what="connected")
    first = client.report_event("fault", {"device": "a4"})
    wait_for(lambda: client.pending() == 0, what="first event out")
    broker.kill()
    wait_for(lambda: not client.connected, what="link down noticed")
    during = [client.report_event("warning", {"device": f"d{i}"}) for i in range(2)]
    assert client.pending() == 2
    password = broker.setup.terminals.pop(tid)  # held back until the watcher listens
    broker.start()  # same port, same folder
    watch = subscriber(broker)
    admit(broker, tid, password)
    wait_for(lambda: client.connected and client.pending() == 0, what="back and drained")
    wait_for(lambda: len(watch.on(tid, "events")) >= 2, what="queued events")
    assert [b["id"] for b in watch.bodies(tid, "events")] == during
    assert first not in [b["id"] for b in watch.bodies(tid, "events")]
    wait_for(lambda: any(b["body"]["online"] for b in watch.bodies(tid, "state")),
             what="online again")
    assert client.link.connects == 2


def test_an_event_the_broker_refuses_is_not_taken_as_delivered(make_mosquitto: Any,
                                                                make_client: Any) -> None:
    """MQTT 5 PUBACK 'Not authorized': paho marks the message published all the same;
    the item must go to dead letters (kept, counted), not count as delivered."""
    broker = make_mosquitto()
    broker.setup.terminal_kinds = ("state", "health")  # this broker takes no events
    tid = "DG-FC-0005"
    broker.setup.add_terminals([tid])
    broker.start()
    client = make_client(fleet_settings(broker, tid)).start()
    wait_for(lambda: client.connected, what="connected")
    key = client.report_event("fault", {"device": "a4"})
    wait_for(lambda: client.pending() == 0, what="the item left the queue")
    dead = client.outbox.status().dead
    assert [d.key for d in dead] == [key]
    assert "Not authorized" in dead[0].reason


def test_a_broker_without_mqtt5_gets_311(mosquitto: Any, subscriber: Any,
                                         make_client: Any) -> None:
    tid = "DG-FC-0006"
    mosquitto.provision([tid])
    old = Mqtt311Broker(mosquitto.setup.port)
    watch = subscriber()
    try:
        client = make_client(fleet_settings(mosquitto, tid,
                                            url=f"mqtt://127.0.0.1:{old.port}")).start()
        wait_for(lambda: client.connected, what="connected with 3.1.1")
        assert old.levels[:2] == [5, 4] and client.link.protocol_version == 4
        key = client.report_event("recovered", {"device": "a4"})
        wait_for(lambda: watch.on(tid, "events"), what="event over 3.1.1")
        assert watch.bodies(tid, "events")[0]["id"] == key
        assert client.status()["mqtt"] == "3.1.1"
    finally:
        old.close()


def test_tls_with_the_configured_ca(make_mosquitto: Any, make_client: Any,
                                    tmp_path: Path) -> None:
    ca, cert, key = make_ca(tmp_path)
    broker = make_mosquitto()
    broker.setup.tls = TlsFiles(str(ca), str(cert), str(key))
    broker.setup.tls_port = free_port()
    tid = "DG-FC-0007"
    broker.setup.add_terminals([tid])
    broker.start()
    ok = make_client(fleet_settings(broker, tid, url=broker.setup.tls_url, ca_file=str(ca)))
    ok.start()
    wait_for(lambda: ok.connected, what="TLS connection")
    assert ok.status()["broker"].startswith("mqtts://")
    ok.stop()
    # Without the CA (system CAs only) the broker's certificate is not trusted.
    stranger = make_client(fleet_settings(broker, tid, url=broker.setup.tls_url)).start()
    wait_for(lambda: "CERTIFICATE_VERIFY_FAILED" in stranger.link.last_problem,
             what="a certificate error")
    assert not stranger.connected


@pytest.mark.parametrize("payload,reason", [
    (b"not json", "not_json"),
    (b"[1, 2]", "not_object"),
    (b'{"v": 1, "id": "x", "terminal": "DG-OTHER", "at": 1, "type": "t", "body": {}}',
     "impersonation"),
    (b'{"v": 2}', "version"),
    (b'{"a":' * 40 + b"1" + b"}" * 40, "too_deep"),
    (b'{"pad": "' + b"x" * (protocol.MAX_MESSAGE_BYTES + 10) + b'"}', "too_large"),
])
def test_malformed_commands_are_dropped_and_counted(mosquitto: Any, subscriber: Any,
                                                     make_client: Any, payload: bytes,
                                                     reason: str) -> None:
    tid = "DG-FC-0008"
    mosquitto.provision([tid])
    client = make_client(fleet_settings(mosquitto, tid)).start()
    wait_for(lambda: client.connected, what="connected")
    ops = subscriber(user="opscentre", topic=protocol.subscription("health"))
    good = protocol.encode(protocol.Envelope(tid, "ping", {}))
    for data in (payload, good):  # the good one after: it proves the bad one was handled
        ops.client.publish(protocol.topic(tid, "commands"), data, qos=1).wait_for_publish(10)
    wait_for(lambda: client.link.commands == 1, what="the good command")
    assert dict(client.link.dropped) == {reason: 1}
    assert client.connected and client.publish_health({"still": "here"})
    wait_for(lambda: ops.on(tid, "health"), what="health after the bad message")


def test_many_links_on_one_driver_thread(mosquitto: Any, subscriber: Any,
                                         make_client: Any) -> None:
    ids = [f"DG-FC-1{i:03d}" for i in range(30)]
    mosquitto.provision(ids)
    watch = subscriber()
    driver = LinkDriver("shared").start()
    try:
        clients = [make_client(fleet_settings(mosquitto, t), driver=driver).start()
                   for t in ids]
        wait_for(lambda: all(c.connected for c in clients), what="all connected")
        for c in clients:
            c.publish_health({"n": 1})
        wait_for(lambda: all(watch.on(t, "health") for t in ids), what="all health")
        for c in clients:
            c.stop()
    finally:
        driver.stop()
