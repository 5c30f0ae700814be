"""莞家政务 self-service terminal client."""

__version__ = "0.1.0"
