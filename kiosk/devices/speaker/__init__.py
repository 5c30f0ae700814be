"""Speaker: plays the agent's voice during remote help (docs/assist.md)."""
