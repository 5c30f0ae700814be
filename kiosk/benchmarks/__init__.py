"""Benchmarks behind `kiosk bench`. Each module has `measure(repeat: int) -> dict[str, float]`."""
