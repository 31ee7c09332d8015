"""Which of ``send``'s and ``listen``'s options a page or a listener through the relay
takes, and why the others mean nothing there: the relay client's own knowledge, kept
beside its jobs (`polyptt.remote.send`, `polyptt.remote.listen`) so that the command
line only wires them.
"""

from __future__ import annotations

__all__ = ["LISTEN_FIELDS", "LISTEN_LOCAL_ONLY", "SEND_FIELDS", "SEND_LOCAL_ONLY"]

#: Options of ``send`` and ``listen`` that mean nothing through a relay, and why: given
#: on the command line with ``--relay`` they are refused (exit 2). The same settings in
#: the environment (``POLYPTT_IFACE`` in a crontab shared by every command) are left
#: alone: they configure this host's own multicast, which ``--relay`` does not use.
SEND_LOCAL_ONLY = {
    "caller_id": "pages through the relay show the token's name",
    "serial": "pages through the relay carry the relay's serial",
    "destination": "the relay sends to its own --to",
    "interface": "the relay uses its own network interface",
    "ttl": "the relay sets its own TTL",
    "source_port": "the relay sends from its own port",
    "frame_ms": "the relay chooses the frame length",
    "pcap": "the relay sends the page; nothing is captured here",
    "realtime": "the relay paces the page",
    "start_count": "the relay numbers the page's samples",
    "tts_engine": "the relay speaks with its own engine ([tts] in its configuration)",
}
LISTEN_LOCAL_ONLY = {
    "interface": "the relay listens on its own network interface",
    "endpoints": "the relay listens to its own group",
    "pcap": "a capture is read here, not through a relay",
    "page_timeout": "the relay decides when a page is over",
}

#: ``send``'s options that a page through the relay takes (`RelaySendJob`'s fields).
SEND_FIELDS = (
    *("mic", "raw_rate", "input_device", "keep_pauses", "say", "chime", "voice", "rate_wpm"),
    *("channel", "codec", "repeat", "gap", "gain", "duration", "sites"),
)
#: ``listen``'s options that a listener through the relay takes (`RelayListenJob`'s).
LISTEN_FIELDS = ("channels", "play", "record", "as_json", "count", "timeout")
