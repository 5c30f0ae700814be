"""Microphone: 48 kHz mono PCM for remote help (docs/assist.md)."""
