"""A terminal's fleet client in a process of its own (killed by the last-will test).

Usage: terminal_child.py BROKER_URL TERMINAL_ID DATA_DIR  (password in $KIOSK_FLEET_PASSWORD)
Prints "up" once the broker accepted it, then publishes health every second until killed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from kiosk.fleet.client import FleetClient, FleetSettings, open_fleet_outbox
from kiosk.fleet.link import LinkSettings, parse_broker_url


def main() -> None:
    url, terminal, data = sys.argv[1:4]
    settings = FleetSettings(terminal, LinkSettings(parse_broker_url(url),
                                                    os.environ["KIOSK_FLEET_PASSWORD"]),
                             reconnect_min_s=0.05, reconnect_max_s=0.5)
    client = FleetClient(settings, open_fleet_outbox(Path(data))).start()
    while not client.connected:
        time.sleep(0.02)
    print("up", flush=True)
    while True:
        client.publish_health({"alive": True})
        time.sleep(1)


if __name__ == "__main__":
    main()
