"""The hooks' part of the relay's configuration: ``[[webhook]]``, ``[mqtt]``, ``[audio]``.

`polyptt.relay.config` reads the file and hands these tables here, so that the keys of
the integrations are parsed (and their errors worded) in one place. Example::

    public_url = "https://paging.example.org"   # recordings' URLs, Home Assistant's link

    [[webhook]]
    url = "https://alerts.example.org/polyptt"
    secret = "a long random string"
    events = ["page_started", "page_ended", "recording_ready"]
    channels = [26, 50]                      # optional: only pages on these

    [mqtt]
    url = "mqtts://broker.example.org:8883"
    username = "polyptt"
    password_file = "mqtt.password"
    announce_channels = [26]

    [audio]
    fire = "audio/fire-drill.wav"          # what {"audio": "fire"} pages (never a path)
"""

from __future__ import annotations

import math
import socket
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyptt.relay.events import EVENTS

__all__ = ["HooksConfig", "MqttConfig", "WebhookConfig", "default_topic", "parse_hooks"]

#: A delivery is retried for this long after its first attempt (errors and 5xx).
RETRY_FOR_S = 600.0
#: Deliveries waiting for one webhook at most (the oldest goes when one more comes).
WEBHOOK_QUEUE = 256
#: How long one attempt may take (connect, send, read the answer).
WEBHOOK_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class WebhookConfig:
    """One ``[[webhook]]``: where, signed with what, for which events and channels.

    Attributes
    ----------
    url : str
        ``http://`` or ``https://``; never logged (it may carry a token).
    secret : str
        The HMAC-SHA256 key of ``X-Polyptt-Signature``; never logged.
    events : frozenset of str
        Some of `polyptt.relay.events.EVENTS`.
    channels : frozenset of int or None
        Only events about these channels (pages, bells); None: all. ``relay_started``
        concerns no channel and always goes.
    queue, timeout_s, retry_for_s
        Deliveries kept waiting, one attempt's limit, how long one is retried.
    """

    url: str
    secret: str
    events: frozenset[str]
    channels: frozenset[int] | None = None
    queue: int = WEBHOOK_QUEUE
    timeout_s: float = WEBHOOK_TIMEOUT_S
    retry_for_s: float = RETRY_FOR_S

    def __repr__(self) -> str:  # the URL and the secret stay out of every log
        return f"WebhookConfig(events={sorted(self.events)}, channels={self.channels})"

    def wants(self, name: str, payload: dict[str, Any]) -> bool:
        """Whether the event `name` about `payload` goes to this webhook."""
        if name not in self.events:
            return False
        channel = payload.get("channel")
        return self.channels is None or channel is None or channel in self.channels


@dataclass(frozen=True)
class MqttConfig:
    """``[mqtt]``: the broker, the topics, what may be paged from it.

    Attributes
    ----------
    url : str
        ``mqtt://host:1883`` or ``mqtts://host:8883``.
    username, password : str or None
        ``password`` is read from ``password_file`` when that is given.
    ca_file : Path or None
        Trust these certificates (mqtts) instead of the system's.
    client_id : str or None
    topic : str or None
        The base topic; None is ``polyptt/<site>`` (`default_topic`).
    discovery_prefix : str
        Home Assistant's discovery prefix; empty turns discovery off.
    announce_channels : tuple of int
        The channels that may be paged from MQTT (and get Home Assistant entities).
    commands : bool
        Whether ``page/set`` and ``schedule/<name>/ring`` are listened to at all.
    """

    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    client_id: str | None = None
    topic: str | None = None
    discovery_prefix: str = "homeassistant"
    announce_channels: tuple[int, ...] = ()
    commands: bool = True

    @property
    def address(self) -> tuple[str, int, bool]:
        """(host, port, TLS) from `url`."""
        parts = urllib.parse.urlsplit(self.url)
        tls = parts.scheme == "mqtts"
        return parts.hostname or "localhost", parts.port or (8883 if tls else 1883), tls


@dataclass(frozen=True)
class HooksConfig:
    """Everything the hooks read from the configuration."""

    webhooks: tuple[WebhookConfig, ...] = ()
    mqtt: MqttConfig | None = None
    #: Name -> audio file that MQTT (``{"audio": NAME}``) may page.
    audio: dict[str, Path] = field(default_factory=dict)
    #: How users reach the relay (``https://paging.example.org``); None: unknown.
    public_url: str | None = None


def default_topic(site: str | None) -> str:
    """``polyptt/<site>``: the relay's site name, else this host's name."""
    name = site or socket.gethostname().split(".")[0] or "relay"
    return "polyptt/" + "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def parse_hooks(path: Path, data: dict[str, Any]) -> HooksConfig:
    """The hooks' tables of the file `path` (its parsed TOML `data`); ValueError/TypeError
    name what is wrong (`polyptt.relay.config` prefixes the file)."""

    def beside(value: Any) -> Path:
        return path.parent / Path(str(value)).expanduser()

    webhooks = data.get("webhook", [])
    if not isinstance(webhooks, list):
        raise ValueError("webhook must be an array of tables: [[webhook]]")
    audio = data.get("audio", {})
    if not isinstance(audio, dict):
        raise ValueError('audio must be a table of names and files: [audio] fire = "fire.wav"')
    public_url = data.get("public_url")
    if public_url is not None and not str(public_url).startswith(("http://", "https://")):
        raise ValueError("public_url must start with http:// or https://")
    mqtt = data.get("mqtt")
    return HooksConfig(
        webhooks=tuple(_webhook(i + 1, w) for i, w in enumerate(webhooks)),
        mqtt=None if mqtt is None else _mqtt(mqtt, beside),
        audio={str(name): beside(file) for name, file in audio.items()},
        public_url=None if public_url is None else str(public_url).rstrip("/"),
    )


def _check_table(table: Any, keys: set[str], where: str, example: str = "") -> None:
    """`table` is a TOML table of `keys` only (`where` names it in the refusal)."""
    if not isinstance(table, dict):
        raise ValueError(f"{where} must be a table{example}")
    unknown = set(table) - keys
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")


_WEBHOOK_KEYS = {"url", "secret", "events", "channels", "queue", "timeout_s", "retry_for_s"}


def _webhook(number: int, table: Any) -> WebhookConfig:
    where = f"webhook {number}"
    _check_table(table, _WEBHOOK_KEYS, where)
    url, secret = table.get("url"), table.get("secret")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"{where}: url must start with http:// or https://")
    if not isinstance(secret, str) or len(secret) < 16:
        raise ValueError(f"{where}: secret must be a string of 16 characters or more")
    events = table.get("events")
    if not isinstance(events, list) or not events or set(events) - set(EVENTS):
        raise ValueError(f"{where}: events must list some of {', '.join(EVENTS)}")
    channels = table.get("channels")
    numbers: dict[str, float] = {
        k: table[k] for k in ("queue", "timeout_s", "retry_for_s") if k in table
    }
    for key, value in numbers.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{where}: {key} must be a positive number")
        if not math.isfinite(value):
            raise ValueError(f"{where}: {key} must be finite")
    return WebhookConfig(
        url=url,
        secret=secret,
        events=frozenset(events),
        channels=None if channels is None else frozenset(_channels(where, channels)),
        queue=int(numbers.get("queue", WEBHOOK_QUEUE)),
        timeout_s=float(numbers.get("timeout_s", WEBHOOK_TIMEOUT_S)),
        retry_for_s=float(numbers.get("retry_for_s", RETRY_FOR_S)),
    )


def _channels(where: str, values: Any) -> list[int]:
    from polyptt.protocol import parse_channel

    if not isinstance(values, list):
        raise ValueError(f"{where}: channels must be a list of channel numbers")
    try:
        return [parse_channel(str(v)) for v in values]
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


_MQTT_KEYS = {
    "url",
    "username",
    "password",
    "password_file",
    "ca_file",
    "client_id",
    "topic",
    "discovery_prefix",
    "announce_channels",
    "commands",
}


def _mqtt(table: Any, beside: Any) -> MqttConfig:
    _check_table(table, _MQTT_KEYS, "mqtt", example=": [mqtt]")
    url = table.get("url", "mqtt://localhost:1883")
    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("mqtt", "mqtts"):
        raise ValueError("mqtt: url must be mqtt://host:1883 or mqtts://host:8883")
    password = table.get("password")
    if "password_file" in table:
        if password is not None:
            raise ValueError("mqtt: give password or password_file, not both")
        file = beside(table["password_file"])
        try:
            password = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"mqtt: password_file {file}: {exc.strerror or exc}") from None
    commands = table.get("commands", True)
    if not isinstance(commands, bool):  # "false" would be true: say so, do not guess
        raise ValueError("mqtt: commands must be true or false (a TOML boolean, no quotes)")
    topic = table.get("topic")
    if topic is not None and (not topic or any(c in str(topic) for c in "+#")):
        raise ValueError("mqtt: topic must be a topic without wildcards, e.g. polyptt/school")
    return MqttConfig(
        url=url,
        username=None if table.get("username") is None else str(table["username"]),
        password=None if password is None else str(password),
        ca_file=None if table.get("ca_file") is None else beside(table["ca_file"]),
        client_id=None if table.get("client_id") is None else str(table["client_id"]),
        topic=None if topic is None else str(topic).rstrip("/"),
        discovery_prefix=str(table.get("discovery_prefix", "homeassistant")).rstrip("/"),
        announce_channels=tuple(_channels("mqtt", table.get("announce_channels", []))),
        commands=commands,
    )
