"""Home Assistant's MQTT discovery: the relay's entities, as retained JSON configs.

Home Assistant (with its MQTT integration, discovery on by default) reads
``<discovery_prefix>/<component>/<node_id>/<object_id>/config`` and makes the entities;
nothing is written in its YAML. One device per relay (`Identity`), and:

- per announce channel: a ``notify`` entity "Page All staff" whose message is spoken as a
  page (published as plain text on ``<topic>/channel/<n>/say``), a ``binary_sensor``
  "All staff paging" (``device_class: sound``, from ``<topic>/channel/<n>/state``), and a
  ``sensor`` "All staff last caller" (the ``caller_id`` of ``<topic>/channel/<n>/page``);
- per schedule: a ``button`` "Ring <name>" (``<topic>/schedule/<name>/ring``) and a
  ``switch`` "<name> enabled" (``<topic>/schedule/<name>/enabled``, set on ``.../set``).

Every entity is available while ``<topic>/status`` says ``online`` (the relay's last will
says ``offline``), and its ``unique_id`` is ``<node_id>_<object_id>``: stable across
restarts, so Home Assistant keeps the user's names and areas for it. The keys are the
full names Home Assistant's MQTT documentation lists for each component (no
abbreviations: a reader of the broker sees what they mean); tests/relay/hooks/test_mqtt.py
holds every payload to the key lists of Home Assistant's documentation, written out there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from polyptt import __version__

__all__ = ["Identity", "configs", "schedule_topic"]


def _slug(text: str) -> str:
    """`text` in Home Assistant's id alphabet ``[a-zA-Z0-9_-]``."""
    return re.sub(r"[^a-zA-Z0-9_-]+", "_", text).strip("_") or "x"


def schedule_topic(name: str) -> str:
    """A schedule's name as one topic level (``/``, ``+`` and ``#`` cannot be in one)."""
    return re.sub(r"[/+#\s]+", "_", name)


@dataclass(frozen=True)
class Identity:
    """Who the relay is to Home Assistant.

    Attributes
    ----------
    topic : str
        The relay's base topic (``polyptt/<site>``).
    prefix : str
        The discovery prefix (``homeassistant``).
    configuration_url : str or None
        The relay's web page (the config's ``public_url``).
    """

    topic: str
    prefix: str
    configuration_url: str | None = None

    @property
    def node_id(self) -> str:
        """``polyptt_<site>``: this relay's level in the discovery topics."""
        return _slug(self.topic.replace("/", "_"))

    @property
    def scan(self) -> str:
        """Every discovery config of this relay (a subscription's wildcard)."""
        return f"{self.prefix}/+/{self.node_id}/+/config"

    def device(self) -> dict[str, Any]:
        site = self.topic.rsplit("/", 1)[-1]
        device = {
            "identifiers": [self.node_id],
            "name": f"polyptt {site}",
            "model": "polyptt relay",
            "manufacturer": "polyptt",
            "sw_version": __version__,
        }
        if self.configuration_url:
            device["configuration_url"] = self.configuration_url
        return device

    def entity(self, component: str, object_id: str, **keys: Any) -> tuple[str, dict[str, Any]]:
        """The config topic and payload of one entity."""
        payload = {
            "unique_id": f"{self.node_id}_{object_id}",
            "device": self.device(),
            "availability_topic": f"{self.topic}/status",
            "payload_available": "online",
            "payload_not_available": "offline",
            **keys,
        }
        return f"{self.prefix}/{component}/{self.node_id}/{object_id}/config", payload


def _channel(identity: Identity, channel: int, name: str) -> list[tuple[str, dict[str, Any]]]:
    base = f"{identity.topic}/channel/{channel}"
    return [
        identity.entity(
            "notify",
            f"channel_{channel}_page",
            name=f"Page {name}",
            command_topic=f"{base}/say",
            icon="mdi:bullhorn",
            qos=1,
            retain=False,
        ),
        identity.entity(
            "binary_sensor",
            f"channel_{channel}_paging",
            name=f"{name} paging",
            state_topic=f"{base}/state",
            payload_on="paging",
            payload_off="idle",
            device_class="sound",
        ),
        identity.entity(
            "sensor",
            f"channel_{channel}_last_caller",
            name=f"{name} last caller",
            state_topic=f"{base}/page",
            value_template="{{ value_json.caller_id }}",
            icon="mdi:account-voice",
        ),
    ]


def _schedule(identity: Identity, name: str) -> list[tuple[str, dict[str, Any]]]:
    base = f"{identity.topic}/schedule/{schedule_topic(name)}"
    slug = _slug(name)
    return [
        identity.entity(
            "button",
            f"schedule_{slug}_ring",
            name=f"Ring {name}",
            command_topic=f"{base}/ring",
            payload_press="PRESS",
            icon="mdi:bell-ring",
            qos=1,
            retain=False,
        ),
        identity.entity(
            "switch",
            f"schedule_{slug}_enabled",
            name=f"{name} enabled",
            command_topic=f"{base}/enabled/set",
            state_topic=f"{base}/enabled",
            payload_on="ON",
            payload_off="OFF",
            state_on="ON",
            state_off="OFF",
            icon="mdi:bell-cog",
            qos=1,
            retain=False,
        ),
    ]


def configs(
    identity: Identity, channels: dict[int, str], schedules: list[str]
) -> dict[str, dict[str, Any]]:
    """Every entity's config topic -> payload: `channels` (number -> name) and the
    `schedules` by name."""
    entities = [e for c, name in sorted(channels.items()) for e in _channel(identity, c, name)]
    entities += [e for name in sorted(schedules) for e in _schedule(identity, name)]
    return dict(entities)
