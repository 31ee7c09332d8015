"""``polyptt relay``: page and listen from outside the LAN, through one aiohttp service.

Modules, one job each: `wire` (what clients send and receive: the one copy), `config`
(the TOML policy), `auth` (hashed tokens and what they grant), `security` (the door:
tokens, Origin, access log), `audit` (who did what), `hub` (pages numbered and told to
listeners), `requests` (a request to page, from HTTP or the WebSocket, admitted and
started), `talks` (the relay's own pages), `echo` (their audio, as sent, for the
listeners), `connections` (one WebSocket's bounded outgoing queue), `api` (HTTP), `ws`
(the WebSocket), `webpage` (the web page at ``/``, from the package's ``web/`` folder
and the generated ``wire.js``), `app` (`create_app` and the life cycle). The relay's
client is `polyptt.remote`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyptt.relay.app import create_app
    from polyptt.relay.config import RelayConfig, load_config
    from polyptt.relay.state import RelaySettings

__all__ = ["RelayConfig", "RelaySettings", "create_app", "load_config"]

#: Where each name is, imported when first asked for: a client importing
#: `polyptt.relay.wire` must not load the server (its hub, recorder and aiohttp).
_LAZY = {
    "RelayConfig": "polyptt.relay.config",
    "load_config": "polyptt.relay.config",
    "RelaySettings": "polyptt.relay.state",
    "create_app": "polyptt.relay.app",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
