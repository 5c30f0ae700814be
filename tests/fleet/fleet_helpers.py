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


def make_ca(folder: Any, host: str = "127.0.0.1") -> tuple[Any, Any, Any]:
    """A throw-away CA and a server certificate for `host` (IP SAN), made now with
    `cryptography`: (ca.pem, server.pem, server.key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fleet test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    paths[2].chmod(0o600)
    return paths


class Mqtt311Broker:
    """The peer of a broker that speaks only MQTT 3.1.1, in front of a real Mosquitto:
    a CONNECT of protocol level 5 gets 3.1.1's CONNACK "unacceptable protocol version"
    (return code 1) and the connection is closed, as the 3.1.1 spec has it; anything
    else is passed through to the broker behind, byte for byte."""

    def __init__(self, upstream_port: int) -> None:
        import socket

        self.upstream_port = upstream_port
        self.levels: list[int] = []  # protocol level of each CONNECT seen
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _read_packet(conn: Any) -> bytes:
        head = conn.recv(1)
        length, mult, raw = 0, 1, bytearray(head)
        while True:
            b = conn.recv(1)
            raw += b
            length += (b[0] & 0x7F) * mult
            mult *= 128
            if not b[0] & 0x80:
                break
        body = b""
        while len(body) < length:
            chunk = conn.recv(length - len(body))
            if not chunk:
                break
            body += chunk
        return bytes(raw) + body

    def _serve(self, conn: Any) -> None:
        import socket

        try:
            packet = self._read_packet(conn)
            # variable header: fixed header, then "MQTT" (2+4 bytes), then the level
            start = packet.index(b"MQTT") + 4
            level = packet[start]
            self.levels.append(level)
            if level == 5:
                conn.sendall(b"\x20\x02\x00\x01")
                conn.close()
                return
            up = socket.create_connection(("127.0.0.1", self.upstream_port))
            up.sendall(packet)
        except (OSError, ValueError, IndexError):
            conn.close()
            return
        for a, b in ((conn, up), (up, conn)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: Any, dst: Any) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self.server.close()
