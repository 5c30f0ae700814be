"""The network monitor against the reference backend through a TCP proxy that is cut."""

from __future__ import annotations

import random

from kiosk.network import LinkState, NetworkMonitor

from .helpers import client_for


def test_monitor_follows_the_link_and_tells_listeners(backend, proxy) -> None:  # type: ignore[no-untyped-def]
    client = client_for(backend, proxy.url)
    monitor = NetworkMonitor(lambda: client.health(timeout=1.0), interval_s=0.2,
                             backoff_base_s=0.05, backoff_cap_s=0.2)
    seen: list[LinkState] = []
    monitor.subscribe(seen.append)
    monitor.start()
    try:
        assert monitor.wait_for(LinkState.ONLINE, 10)
        proxy.cut()
        monitor.report(False)  # a failed delivery: probe now rather than at the next round
        assert monitor.wait_for(LinkState.OFFLINE, 10)
        assert not monitor.online
        proxy.restore()
        assert monitor.wait_for(LinkState.ONLINE, 10)
    finally:
        monitor.stop()
    assert seen == [LinkState.ONLINE, LinkState.OFFLINE, LinkState.ONLINE]


def test_offline_probing_backs_off_with_full_jitter() -> None:
    monitor = NetworkMonitor(lambda: False, interval_s=15, backoff_base_s=1, backoff_cap_s=30,
                             min_delay_s=0.0, rng=random.Random(3))
    delays = []
    for failures in range(1, 9):
        monitor.check()
        assert monitor._failures == failures
        window = min(30, 2 ** (failures - 1))
        ds = [monitor.next_delay() for _ in range(200)]
        assert all(0 <= d <= window for d in ds)
        assert max(ds) > 0.8 * window and min(ds) < 0.2 * window  # spread over the window
        delays.append(window)
    assert delays[-1] == 30  # capped
    monitor.report(True)
    assert monitor.state is LinkState.ONLINE and monitor.next_delay() == 15


def test_a_probe_that_raises_counts_as_offline() -> None:
    def boom() -> bool:
        raise OSError("no route to host")

    monitor = NetworkMonitor(boom)
    assert monitor.check() is LinkState.OFFLINE


def test_no_verdict_keeps_the_state() -> None:
    answers = iter([None, True, None, False])
    monitor = NetworkMonitor(lambda: next(answers))
    assert monitor.check() is LinkState.UNKNOWN  # still starting: no offline banner yet
    assert monitor.check() is LinkState.ONLINE
    assert monitor.check() is LinkState.ONLINE
    assert monitor.check() is LinkState.OFFLINE
