"""Field technicians and 24/7 operation, Qt-free.

`access` (PIN and technician card, lockout, audit), `health` (snapshot of devices, disk,
uptime, network, outbox, packages), `selftest`, `actions` (test prints, card read, scan,
restart), `logexport` (masked), `nightly` (restart between sessions), `sdnotify`
(systemd READY/WATCHDOG). The Qt screens are in `kiosk/ui/maintenance.py`.
"""
