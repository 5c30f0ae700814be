"""Sub-commands of `kiosk`. Each module has `register(subparsers)`; see kiosk.cli."""
