"""Fixtures of the hooks' tests: a real mosquitto (tests/support/mosquitto.py)."""

from tests.support.mosquitto import mosquitto

__all__ = ["mosquitto"]
