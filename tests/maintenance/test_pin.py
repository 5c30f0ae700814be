"""Technician PIN: salted scrypt hash on disk, lockout that survives a restart."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from kiosk.maintenance import pin as pinmod
from kiosk.maintenance.pin import PinOutcome, PinPolicyError, PinStore, check_policy


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def store(folder: Path, clock: Clock, **kw) -> PinStore:  # type: ignore[no-untyped-def]
    return PinStore(folder, max_failures=kw.get("max_failures", 3),
                    lockout_s=kw.get("lockout_s", 60.0), clock=clock)


def test_hash_on_disk_is_salted_scrypt_and_private(tmp_path: Path) -> None:
    s = store(tmp_path, Clock())
    s.set_pin("48151623")
    data = json.loads(s.hash_file.read_text())
    assert data["kdf"] == "scrypt" and data["n"] >= 2**14 and len(bytes.fromhex(data["salt"])) == 16
    assert "48151623" not in s.hash_file.read_text()
    assert stat.S_IMODE(s.hash_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(s.lock_file.stat().st_mode) == 0o600
    other = store(tmp_path / "b", Clock())
    other.set_pin("48151623")  # same PIN, different salt, different hash
    assert json.loads(other.hash_file.read_text())["hash"] != data["hash"]


def test_right_and_wrong_pin(tmp_path: Path) -> None:
    s = store(tmp_path, Clock())
    assert s.verify("48151623").outcome is PinOutcome.NOT_SET
    s.set_pin("48151623")
    assert s.verify("48151623").ok
    wrong = s.verify("48151624")
    assert wrong.outcome is PinOutcome.WRONG and wrong.failures == 1 and wrong.attempts_left == 2


def test_lockout_after_failures_then_cooldown_then_doubling(tmp_path: Path) -> None:
    clock = Clock()
    s = store(tmp_path, clock)
    s.set_pin("48151623")
    assert [s.verify("000000").outcome for _ in range(3)] == [
        PinOutcome.WRONG, PinOutcome.WRONG, PinOutcome.LOCKED]
    # Locked: even the right PIN is refused, and the wait is reported.
    locked = s.verify("48151623")
    assert locked.outcome is PinOutcome.LOCKED and locked.retry_after_s == pytest.approx(60)
    clock.t += 59
    assert s.verify("48151623").outcome is PinOutcome.LOCKED
    clock.t += 2
    assert s.state().outcome is PinOutcome.OK
    # The second lock lasts twice as long.
    for _ in range(3):
        last = s.verify("111111")
    assert last.outcome is PinOutcome.LOCKED and last.retry_after_s == pytest.approx(120)
    clock.t += 121
    assert s.verify("48151623").ok  # a right PIN resets the count and the doubling
    for _ in range(3):
        last = s.verify("111111")
    assert last.retry_after_s == pytest.approx(60)


def test_lock_survives_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    s = store(tmp_path, clock)
    s.set_pin("48151623")
    s.verify("1"), s.verify("2")
    again = store(tmp_path, clock)  # a new process: state comes from disk
    assert again.verify("3").outcome is PinOutcome.LOCKED
    assert store(tmp_path, clock).verify("48151623").outcome is PinOutcome.LOCKED


def test_no_hashing_while_locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    s = store(tmp_path, clock)
    s.set_pin("48151623")
    for _ in range(3):
        s.verify("000000")
    calls = []
    real = pinmod._scrypt

    def counted(*a: Any) -> Any:
        calls.append(1)
        return real(*a)

    monkeypatch.setattr(pinmod, "_scrypt", counted)
    for _ in range(20):
        s.verify("48151623")
    assert calls == []


def test_unreadable_lock_state_fails_closed(tmp_path: Path) -> None:
    clock = Clock()
    s = store(tmp_path, clock)
    s.set_pin("48151623")
    s.lock_file.write_text("{not json")
    assert s.verify("48151623").outcome is PinOutcome.LOCKED
    clock.t += 61
    assert s.verify("48151623").ok


def test_corrupt_hash_file_means_no_pin(tmp_path: Path) -> None:
    s = store(tmp_path, Clock())
    s.set_pin("48151623")
    s.hash_file.write_text(json.dumps({"kdf": "scrypt", "salt": "zz"}))
    assert s.verify("48151623").outcome is PinOutcome.NOT_SET


@pytest.mark.parametrize("bad,key", [
    ("12345", "maintenance.pin.length"), ("1234567890123", "maintenance.pin.length"),
    ("12a456", "maintenance.pin.digits_only"),
    ("１２３４５６", "maintenance.pin.digits_only"),  # noqa: RUF001 - full-width digits, on purpose
    ("111111", "maintenance.pin.too_simple"), ("123456", "maintenance.pin.too_simple"),
    ("987654", "maintenance.pin.too_simple"), ("890123", "maintenance.pin.too_simple"),
])
def test_pin_policy(bad: str, key: str) -> None:
    with pytest.raises(PinPolicyError) as err:
        check_policy(bad)
    assert err.value.key == key


def test_policy_accepts_ordinary_pins() -> None:
    for good in ("48151623", "209174", "123457", "000001"):
        check_policy(good)
