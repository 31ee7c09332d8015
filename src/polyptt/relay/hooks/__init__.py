"""The relay's outbound integrations: signed webhooks, MQTT, Home Assistant discovery.

Each hangs off `polyptt.relay.events` with a subscriber that only queues (the paging
path never waits for a receiver or a broker) and a task of its own:

- `polyptt.relay.hooks.webhooks`: ``[[webhook]]``, JSON POSTs signed with
  `polyptt.relay.hooks.signing`;
- `polyptt.relay.hooks.mqtt`: ``[mqtt]``, state and events out, pages and bells in
  (pages through `polyptt.relay.requests`, the one page-request path);
- `polyptt.relay.hooks.discovery`: the Home Assistant entities of the MQTT link.

`context` is the application's cleanup context that starts and stops them (`create_app`
registers it); `check_available` is called before the relay starts, so a ``[mqtt]``
without the ``mqtt`` extra is one line, not a traceback.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator

from aiohttp import web

from polyptt.errors import Missing
from polyptt.relay.hooks.config import HooksConfig

__all__ = ["MQTT_MISSING", "check_available", "context"]

#: What a configuration with ``[mqtt]`` says on a machine without aiomqtt.
MQTT_MISSING = (
    "[mqtt] in the configuration needs the MQTT client: pip install 'polyptt[mqtt]' "
    "(or remove [mqtt])"
)


def check_available(config: HooksConfig) -> None:
    """Raise `polyptt.errors.Missing` if the configuration needs a package not installed."""
    if config.mqtt is None:
        return
    try:
        importlib.import_module("aiomqtt")
    except ImportError:
        raise Missing(MQTT_MISSING) from None


async def context(app: web.Application) -> AsyncIterator[None]:
    """Start the webhooks and the MQTT link of the configuration; stop them at cleanup."""
    from polyptt.relay.state import RELAY

    relay = app[RELAY]
    config = relay.settings.config.hooks
    check_available(config)
    async with contextlib.AsyncExitStack() as stack:
        if config.webhooks:
            from polyptt.relay.hooks.webhooks import Webhooks

            webhooks = Webhooks(
                config.webhooks, public_url=config.public_url, metrics=relay.metrics
            )
            await webhooks.start()
            stack.push_async_callback(webhooks.close)
            stack.callback(relay.events.subscribe(webhooks))
        if config.mqtt is not None:
            from polyptt.relay.hooks.mqtt import MqttLink

            link = MqttLink(relay, config.mqtt)
            await link.start()
            stack.push_async_callback(link.close)
        yield
