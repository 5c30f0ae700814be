"""Remote assisted service (远程帮办): the terminal's call engine (docs/assist.md)."""
