"""How long an integration waits before it tries again (webhooks, the MQTT link)."""

from __future__ import annotations

__all__ = ["retry_delay"]


def retry_delay(attempt: int, first_s: float, most_s: float, jitter: float) -> float:
    """Seconds before retry `attempt` (0 first): `first_s` doubling per attempt, at most
    `most_s`, scaled by `jitter` in [0, 1) to [0.5, 1) so that the webhooks and MQTT
    links of relays that lost the same receiver do not come back in step."""
    return min(most_s, first_s * 2**attempt) * (0.5 + jitter / 2)
