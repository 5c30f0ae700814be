"""The command contract (kiosk/fleet/commands_protocol.py): canonical bytes, signatures,
every refusal, argument schemas, result bodies and chunking."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.fleet import commands_protocol as cp
from kiosk.fleet import protocol

NOW = 1_800_000_000
TID = "GD-DG-0001"

# RFC 8032 test vector 1's private key: signatures are deterministic, so the bytes of a
# signed command are a fixed vector too.
RFC8032_SK = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PK = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(RFC8032_SK)


def command(**over: Any) -> cp.Command:
    fields: dict[str, Any] = {"id": "c-0001", "terminal": TID, "action": "set_volume",
                              "args": {"level": 40}, "operator": "ops:王工",
                              "issued_at": NOW, "expires_at": NOW + 600}
    fields.update(over)
    return cp.Command(**fields)


def keys() -> dict[str, Any]:
    return cp.pinned([key().public_key()])


def refusal(body: Any, **kw: Any) -> str:
    kw.setdefault("terminal", TID)
    kw.setdefault("now", NOW + 1)
    with pytest.raises(cp.CommandRefused) as info:
        cp.verify(body, kw.pop("public_keys", keys()), **kw)
    return info.value.reason


# -- canonical form (byte vectors) ---------------------------------------------------------
def test_canonical_bytes_are_sorted_compact_utf8() -> None:
    assert cp.canonical(command()) == (
        '{"action":"set_volume","args":{"level":40},"expires_at":1800000600,"id":"c-0001",'
        '"issued_at":1800000000,"operator":"ops:王工","terminal":"GD-DG-0001"}').encode()
    nested = command(action="out_of_service",
                     args={"message": {"zh_HK": "暫停", "en": "Closed", "zh_CN": "暂停"}})
    assert cp.canonical(nested) == (
        '{"action":"out_of_service","args":{"message":{"en":"Closed","zh_CN":"暂停",'
        '"zh_HK":"暫停"}},"expires_at":1800000600,"id":"c-0001","issued_at":1800000000,'
        '"operator":"ops:王工","terminal":"GD-DG-0001"}').encode()


def test_canonical_is_the_same_for_the_dict_as_received() -> None:
    # The terminal re-serialises what it decoded: key order on the wire must not matter.
    wire = json.dumps({"terminal": TID, "operator": "ops:王工", "id": "c-0001",
                       "issued_at": NOW, "expires_at": NOW + 600, "action": "set_volume",
                       "args": {"level": 40}}, indent=2)
    assert cp.canonical(json.loads(wire)) == cp.canonical(command())


def test_canonical_refuses_nan() -> None:
    with pytest.raises(ValueError):
        cp.canonical(command(issued_at=float("nan")))


def test_signature_vector_and_key_id() -> None:
    assert cp.public_raw(key().public_key()) == RFC8032_PK
    body = cp.sign(command(), key())
    assert body["key_id"] == "21fe31dfa154a261"
    assert body["key_id"] == hashlib.sha256(RFC8032_PK).hexdigest()[:16]
    # Ed25519 is deterministic: this exact signature over the canonical bytes above.
    assert body["signature"] == ("gW3UnNz0zPM8zSjlHW9ntScaUMjNDfjhLYqjevpc9X4aAunOsRbhuaqa592H"
                                 "U8BjPTGvfV2PZhvO10bGQ+kGBg==")
    assert cp.verify(body, keys(), terminal=TID, now=NOW + 1) == command()


def test_signed_command_travels_in_a_fleet_envelope() -> None:
    env = protocol.Envelope(TID, cp.COMMAND_TYPE, cp.sign(command(), key()))
    back = protocol.decode(protocol.topic(TID, "commands"), protocol.encode(env))
    assert cp.verify(back.body, keys(), terminal=TID, now=NOW) == command()


# -- refusals --------------------------------------------------------------------------------
def test_unsigned() -> None:
    assert refusal({"command": command().to_json()}) == "unsigned"
    assert refusal({"command": command().to_json(), "signature": "", "key_id": ""}) == "unsigned"


def test_malformed_bodies() -> None:
    bodies: list[Any] = [None, [], {}, {"command": "x"}, {"command": [1]}]
    for bad in bodies:
        assert refusal(bad) == "malformed"
    body: dict[str, Any] = cp.sign(command(), key())
    body["signature"] = 12
    assert refusal(body) == "malformed"


def test_tampered_command_is_bad_signature() -> None:
    good = cp.sign(command(), key())
    for change in ({"args": {"level": 100}}, {"terminal": "GD-DG-0002"},
                   {"expires_at": NOW + 6000}, {"action": "restart", "args": {}},
                   {"operator": "ops:someone-else"}):
        body = copy.deepcopy(good)
        body["command"].update(change)
        assert refusal(body) == "bad_signature", change
    body = copy.deepcopy(good)
    body["command"]["extra"] = 1  # a field added after signing is covered too
    assert refusal(body) == "bad_signature"
    body = copy.deepcopy(good)
    body["signature"] = "not base64!"
    assert refusal(body) == "bad_signature"
    body = copy.deepcopy(good)
    body["signature"] = base64.b64encode(b"\0" * 64).decode()
    assert refusal(body) == "bad_signature"


def test_wrong_key() -> None:
    other = Ed25519PrivateKey.generate()
    assert refusal(cp.sign(command(), other)) == "unknown_key"
    # Signed by another key but claiming the pinned key's id: the signature fails.
    body = cp.sign(command(), other)
    body["key_id"] = cp.key_id(key().public_key())
    assert refusal(body) == "bad_signature"
    # No key pinned at all: nothing is believed.
    assert refusal(cp.sign(command(), key()), public_keys={}) == "unknown_key"


def test_wrong_terminal() -> None:
    assert refusal(cp.sign(command(terminal="GD-DG-0002"), key())) == "wrong_terminal"


def test_expired_and_not_yet_valid_and_too_long() -> None:
    body = cp.sign(command(), key())
    assert refusal(body, now=NOW + 600) == "expired"
    assert refusal(body, now=NOW + 10_000) == "expired"
    assert cp.verify(body, keys(), terminal=TID, now=NOW + 599).id == "c-0001"
    # A terminal's clock a little behind the centre's still runs it; far behind does not.
    assert cp.verify(body, keys(), terminal=TID, now=NOW - cp.CLOCK_SKEW_S).id == "c-0001"
    assert refusal(body, now=NOW - cp.CLOCK_SKEW_S - 1) == "not_yet_valid"
    long = cp.sign(command(expires_at=NOW + cp.MAX_LIFETIME_S + 1), key())
    assert refusal(long) == "lifetime_too_long"
    backwards = cp.sign(command(expires_at=NOW - 1), key())
    assert refusal(backwards) == "lifetime_too_long"


def test_replayed() -> None:
    body = cp.sign(command(), key())
    assert refusal(body, seen={"c-0001"}) == "replayed"
    assert cp.verify(body, keys(), terminal=TID, now=NOW, seen={"c-0002"}).id == "c-0001"


def test_refusal_carries_the_claimed_id() -> None:
    body = cp.sign(command(terminal="elsewhere"), key())
    with pytest.raises(cp.CommandRefused) as info:
        cp.verify(body, keys(), terminal=TID, now=NOW)
    assert info.value.command_id == "c-0001"
    assert cp.claimed_id({"command": {"id": "../../etc"}}) == ""


def test_unknown_action_and_bad_args_are_refused_after_the_signature() -> None:
    assert refusal(cp.sign(command(action="format_disk", args={}), key())) == "unknown_action"
    assert refusal(cp.sign(command(args={"level": 101}), key())) == "bad_args"


# -- argument schemas ------------------------------------------------------------------------
GOOD = [
    ("screenshot", {}), ("screenshot", {"format": "jpeg"}), ("selftest", {}),
    ("selftest", {"device": "receipt"}), ("print_test", {"printer": "a4"}),
    ("print_test", {"printer": "receipt"}), ("logs", {}), ("restart", {}),
    ("out_of_service", {"message": {"zh_CN": "维护中", "zh_HK": "維護中", "en": "Maintenance"}}),
    ("in_service", {}), ("poll_packages", {}), ("set_volume", {"level": 0}),
    ("set_volume", {"level": 100}), ("screen_schedule", {"off": "23:00", "on": "06:30"}),
    ("screen_schedule", {}),
]
BAD = [
    ("screenshot", {"format": "bmp"}), ("screenshot", {"region": "all"}),
    ("selftest", {"device": "toaster"}), ("print_test", {}), ("print_test", {"printer": "x"}),
    ("logs", {"days": 3}), ("restart", {"now": True}),
    ("out_of_service", {}), ("out_of_service", {"message": {"zh_CN": "a", "en": "b"}}),
    ("out_of_service", {"message": {"zh_CN": "a", "zh_HK": "b", "en": "  "}}),
    ("out_of_service", {"message": {"zh_CN": "a", "zh_HK": "b", "en": "x" * 201}}),
    ("out_of_service", {"message": {"zh_CN": "a", "zh_HK": "b", "en": "c", "fr": "d"}}),
    ("set_volume", {"level": -1}), ("set_volume", {"level": 101}),
    ("set_volume", {"level": 50.0}), ("set_volume", {"level": True}), ("set_volume", {}),
    ("screen_schedule", {"off": "23:00"}), ("screen_schedule", {"off": "24:00", "on": "06:00"}),
    ("screen_schedule", {"off": "7:00", "on": "06:00"}),
    ("screen_schedule", {"off": "06:00", "on": "06:00"}),
]


@pytest.mark.parametrize(("action", "args"), GOOD)
def test_good_args(action: str, args: dict[str, Any]) -> None:
    assert cp.check_args(action, args) is None
    assert cp.verify(cp.sign(command(action=action, args=args), key()), keys(),
                     terminal=TID, now=NOW).action == action


@pytest.mark.parametrize(("action", "args"), BAD)
def test_bad_args(action: str, args: dict[str, Any]) -> None:
    problem = cp.check_args(action, args)
    assert problem is not None and problem[0] == "bad_args"
    assert refusal(cp.sign(command(action=action, args=args), key())) == "bad_args"


def test_new_command_checks_args_and_uses_whole_seconds() -> None:
    cmd = cp.new_command(TID, "set_volume", {"level": 5}, operator="ops", ttl_s=60,
                         now=NOW + 0.7)
    assert (cmd.issued_at, cmd.expires_at) == (NOW, NOW + 60)
    assert b".0" not in cp.canonical(cmd)
    with pytest.raises(cp.CommandRefused) as info:
        cp.new_command(TID, "set_volume", {"level": 500}, operator="ops")
    assert info.value.reason == "bad_args"


def test_parse_args_text() -> None:
    assert cp.parse_args_text("set_volume", ["level=40"]) == {"level": 40}
    assert cp.parse_args_text("out_of_service", ["message.zh_CN=维护", "message.zh_HK=維護",
                                                 "message.en=1"]) == \
        {"message": {"zh_CN": "维护", "zh_HK": "維護", "en": "1"}}
    with pytest.raises(cp.CommandRefused):
        cp.parse_args_text("set_volume", ["level"])


def test_which_actions_wait_for_the_session() -> None:
    waits = {a for a in cp.ACTIONS if command(action=a).waits_for_session}
    assert waits == {"restart", "out_of_service", "set_volume", "print_test", "selftest"}


# -- keys --------------------------------------------------------------------------------------
def test_public_key_forms(tmp_path: Any) -> None:
    pub = key().public_key()
    assert cp.public_raw(cp.parse_public_key(cp.public_b64(pub))) == RFC8032_PK
    assert cp.public_raw(cp.parse_public_key(cp.public_pem(pub))) == RFC8032_PK
    f = tmp_path / "command.pub"
    f.write_bytes(cp.public_pem(pub))
    assert cp.public_raw(cp.load_public_key(str(f))) == RFC8032_PK
    assert cp.public_raw(cp.load_public_key(cp.public_b64(pub))) == RFC8032_PK
    for bad in ("", "abc", base64.b64encode(b"x" * 31).decode(), "-----BEGIN PUBLIC KEY-----"):
        with pytest.raises(cp.CommandKeyError):
            cp.load_public_key(bad) if bad else cp.load_public_key("   ")
    with pytest.raises(cp.CommandKeyError):
        cp.load_public_key(str(tmp_path / "missing.pub"))
    priv = cp.load_private_pem(cp.private_pem(key()))
    assert cp.public_raw(priv.public_key()) == RFC8032_PK


# -- results and chunks ------------------------------------------------------------------------
def test_result_body() -> None:
    body = cp.result_body("c-1", cp.State.REFUSED, reason="expired", detail="x" * 900)
    assert body == {"command_id": "c-1", "state": "refused", "reason": "expired",
                    "detail": "x" * 500, "result": {}}
    assert cp.parse_result(body)["state"] == "refused"
    with pytest.raises(ValueError):
        cp.result_body("c-1", "finished")
    for bad in ({}, {"command_id": "c", "state": "nope"}, {"command_id": 1, "state": "done"}):
        with pytest.raises(ValueError):
            cp.parse_result(bad)


def test_chunks_fit_one_message_and_reassemble_in_any_order() -> None:
    data = bytes(range(256)) * 700  # 179,200 bytes
    att = cp.Attachment("screenshot.png", "image/png", data)
    chunks = cp.chunk_attachment(att)
    assert len(chunks) == 5 and [c["attachment"]["chunk"] for c in chunks] == [1, 2, 3, 4, 5]
    for c in chunks:
        env = protocol.Envelope(TID, cp.RESULT_TYPE,
                                cp.result_body("c-1", cp.State.DONE, result=c))
        assert len(protocol.encode(env)) < protocol.MAX_MESSAGE_BYTES
    r = cp.Reassembly()
    order = [chunks[3], chunks[0], chunks[0], chunks[4], chunks[2]]
    assert all(r.add(c) is None for c in order)
    back = r.add(chunks[1])
    assert back is not None and back.data == data and back.name == "screenshot.png"


def test_reassembly_refuses_a_corrupt_chunk() -> None:
    chunks = cp.chunk_attachment(cp.Attachment("a", "b", b"abcdef"), chunk_bytes=4)
    bad = copy.deepcopy(chunks[1])
    bad["attachment"]["data"] = base64.b64encode(b"zz").decode()
    r = cp.Reassembly()
    r.add(chunks[0])
    with pytest.raises(ValueError):
        r.add(bad)
    with pytest.raises(ValueError):
        cp.Reassembly().add({"attachment": {**chunks[0]["attachment"], "chunks": 0}})


def test_empty_attachment_is_one_chunk() -> None:
    (only,) = cp.chunk_attachment(cp.Attachment("logs.zip", "application/zip", b""))
    assert cp.Reassembly().add(only) == cp.Attachment("logs.zip", "application/zip", b"")


def test_package_body() -> None:
    assert cp.package_body("core", "1.2.0", "rolled_back", "load_failed") == {
        "package": "core", "version": "1.2.0", "state": "rolled_back", "reason": "load_failed"}
    with pytest.raises(ValueError):
        cp.package_body("core", "1", "exploded")


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c,
                                                                         max_size=4),
                    max_leaves=20))
def test_verify_never_raises_anything_but_a_refusal(body: Any) -> None:
    for candidate in (body, {"command": body, "signature": "AA==", "key_id": "21fe31dfa154a261"}):
        with pytest.raises(cp.CommandRefused):
            cp.verify(candidate, keys(), terminal=TID, now=NOW)


def test_a_digest_with_an_id_shaped_run_is_not_personal_data() -> None:
    """A screenshot's sha256 now and then holds 18 digits in a row (about 1 in 800): the
    channel refused the command's result as "an ID number" (seen once in CI). A real ID
    number (a birth date in its place) is still refused."""
    import hashlib

    from kiosk.fleet import protocol
    from synthetic.citizens import CITIZENS

    digest = next(h for h in (hashlib.sha256(str(i).encode()).hexdigest() for i in range(10**5))
                  if protocol.FULL_ID_NUMBER.search(h))  # found: sha256(b"…") of a small i
    protocol.check_private({"result": {"attachment": {"sha256": digest}}})  # not refused
    for citizen in CITIZENS:
        with pytest.raises(protocol.ProtocolError, match="personal_data"):
            protocol.check_private({"note": f"证件 {citizen.id_number} 已读"})
