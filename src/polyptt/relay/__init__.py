"""``polyptt relay``: page and listen from outside the LAN, through one aiohttp service.

Modules, one job each: `config` (the TOML policy), `auth` (hashed tokens and what they
grant), `security` (the door: tokens, Origin, access log), `audit` (who did what),
`hub` (pages numbered and told to listeners), `talks` (the relay's own pages),
`echo` (their audio, as sent, for the listeners),
`connections` (one WebSocket's bounded outgoing queue), `api` (HTTP), `ws` (the
WebSocket), `webpage` (the web page at ``/``, from the package's ``web/`` folder), `app`
(`create_app` and the life cycle).
"""

from __future__ import annotations

from polyptt.relay.app import create_app
from polyptt.relay.config import RelayConfig, load_config
from polyptt.relay.state import RelaySettings

__all__ = ["RelayConfig", "RelaySettings", "create_app", "load_config"]
