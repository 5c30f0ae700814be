"""The operations centre (`kiosk-ops`): ingest of the fleet channel, storage, alerts,
notifications and the ops console. A deployable of its own: nothing under `kiosk/`
imports it, and a terminal never installs its dependencies (the `ops` extra).

Layout: `db` (engine, sessions, the declarative `Base`, migrations), `models` (tables),
`ingest` (MQTT → database), `alerts` (rules → open/acked/closed alerts), `notify`
(webhook and e-mail, retried from the database), `cli` (`kiosk-ops`), `web` (the console).
"""

from __future__ import annotations
