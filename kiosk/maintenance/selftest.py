"""Run device self-tests with a deadline each, in parallel; report pass/fail per device.

Shared by the maintenance screens (devices already open) and `kiosk selftest` (devices
created from a configuration, opened, tested and closed). A kind the terminal has not
fitted (`AbsentDevice`) is reported as `not_fitted`, not as a failure.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from kiosk.config import Config
from kiosk.devices.base import Check, Device, DeviceError
from kiosk.identity import scrub_text
from kiosk.maintenance.health import safe_uri

log = logging.getLogger(__name__)


class Verdict(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    NOT_FITTED = "not_fitted"


@dataclass(frozen=True)
class DeviceResult:
    kind: str
    uri: str
    verdict: Verdict
    checks: tuple[Check, ...] = ()
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "uri": self.uri, "verdict": self.verdict.value,
                "passed": self.verdict is not Verdict.FAIL, "seconds": round(self.seconds, 3),
                "checks": [{"name": c.name, "passed": c.passed, "detail": scrub_text(c.detail)}
                           for c in self.checks]}


@dataclass(frozen=True)
class SelftestRun:
    results: tuple[DeviceResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.verdict is not Verdict.FAIL for r in self.results)

    def result(self, kind: str) -> DeviceResult | None:
        return next((r for r in self.results if r.kind == kind), None)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "devices": [r.to_dict() for r in self.results]}

    def render(self) -> str:
        """A plain-text report for a shell (one line per device, one per failed check)."""
        lines = []
        for r in self.results:
            mark = {"pass": "PASS", "fail": "FAIL", "not_fitted": "----"}[r.verdict.value]
            lines.append(f"{mark}  {r.kind:<8} {r.uri}  ({r.seconds:.2f}s)")
            for c in r.checks:
                if not c.passed or r.verdict is Verdict.FAIL:
                    lines.append(f"        {'ok  ' if c.passed else 'FAIL'} {c.name}: "
                                 f"{scrub_text(c.detail)}")
        failed = sum(r.verdict is Verdict.FAIL for r in self.results)
        lines.append(f"{'all devices passed' if not failed else f'{failed} device(s) failed'}"
                     f" ({len(self.results)} configured)")
        return "\n".join(lines)


def _is_absent(device: Device) -> bool:
    from kiosk.devices.none import AbsentDevice

    return isinstance(device, AbsentDevice)


def check_device(kind: str, device: Device, *, open_first: bool = False) -> DeviceResult:
    """Self-test one device (opening it first when asked); exceptions become failed checks."""
    uri = safe_uri(device.uri.raw)
    if _is_absent(device):
        return DeviceResult(kind, uri, Verdict.NOT_FITTED, (Check("fitted", True, "none"),))
    started = time.monotonic()
    checks: list[Check] = []
    try:
        if open_first:
            device.open()
            checks.append(Check("open", True))
        report = device.self_test()
        checks.extend(report.checks)
        ok = report.passed
    except DeviceError as exc:
        checks.append(Check("error", False, f"{exc.key} {exc.detail}".strip()))
        ok = False
    except Exception as exc:  # a driver bug fails the test; it must not end the run
        log.exception("self-test of %s raised", kind)
        checks.append(Check("error", False, type(exc).__name__))
        ok = False
    return DeviceResult(kind, uri, Verdict.PASS if ok else Verdict.FAIL, tuple(checks),
                        time.monotonic() - started)


def run_all(devices: Mapping[str, Device], *, timeout_s: float = 30.0,
            open_first: bool = False) -> SelftestRun:
    """Self-test every device in parallel; one that does not finish in time fails."""
    results: dict[str, DeviceResult] = {}

    def one(kind: str, dev: Device) -> None:
        results[kind] = check_device(kind, dev, open_first=open_first)

    threads = {k: threading.Thread(target=one, args=(k, d), daemon=True, name=f"selftest-{k}")
               for k, d in devices.items()}
    for t in threads.values():
        t.start()
    deadline = time.monotonic() + timeout_s
    for t in threads.values():
        t.join(max(0.0, deadline - time.monotonic()))
    out = []
    for kind, dev in devices.items():
        res = results.get(kind)
        if res is None:
            res = DeviceResult(kind, safe_uri(dev.uri.raw), Verdict.FAIL,
                               (Check("timeout", False, f"no result within {timeout_s:g}s"),),
                               timeout_s)
        out.append(res)
    return SelftestRun(tuple(out))


def run_configured(config: Config, *, timeout_s: float = 30.0,
                   only: set[str] | None = None) -> SelftestRun:
    """Create every configured device, open it, self-test it and close it again.

    The configuration is checked first by the same schema as at start (`kiosk demo`,
    `kiosk run`), so a value that would stop the kiosk fails the self-test too
    (ConfigError) instead of passing it.
    """
    from dataclasses import fields

    from kiosk.config import validate_config
    from kiosk.devices.registry import create_device

    config = validate_config(config)

    devices: dict[str, Device] = {}
    broken: dict[str, DeviceResult] = {}
    order = []
    for f in fields(config.devices):
        uri = getattr(config.devices, f.name)
        if not uri or (only and f.name not in only):
            continue
        order.append(f.name)
        try:
            devices[f.name] = create_device(f.name, uri)
        except DeviceError as exc:
            broken[f.name] = DeviceResult(f.name, safe_uri(uri), Verdict.FAIL,
                                          (Check("create", False, f"{exc.key} {exc.detail}"),))
        except Exception as exc:  # noqa: BLE001 - an import error of an optional driver, a bad URI
            broken[f.name] = DeviceResult(f.name, safe_uri(uri), Verdict.FAIL,
                                          (Check("create", False, type(exc).__name__),))
    try:
        run = run_all(devices, timeout_s=timeout_s, open_first=True)
    finally:
        closers = [threading.Thread(target=_close_quietly, args=(dev,), daemon=True)
                   for dev in devices.values()]
        for t in closers:
            t.start()
        for t in closers:
            t.join(5.0)
    by_kind = {r.kind: r for r in run.results} | broken
    return SelftestRun(tuple(by_kind[k] for k in order))


def _close_quietly(dev: Device) -> None:
    try:
        dev.close()
    except Exception:  # noqa: BLE001, S110 - closing after a self-test is best effort
        pass
