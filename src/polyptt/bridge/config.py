"""What a bridge carries: its mappings, from the command's options or a configuration file.

A :class:`BridgeJob` holds one or more :class:`Mapping`\\ s (an RTP group and port, a
Poly channel, a direction and the codecs on each side) and the Poly side's network
identity. :func:`run` serves all of them from one asyncio loop until SIGINT or SIGTERM:

- RTP to Poly (`polyptt.bridge.rtp_to_poly`): each mapping's RTP and RTCP ports are
  read on the loop; pages are paced by one real-time thread for every mapping.
- Poly to RTP (`polyptt.bridge.poly_to_rtp`): one receiver on the Poly group hears
  every mapped channel (`polyptt.receive.inbound.serve_async`); its pages go out as RTP.

On a signal every page in progress ends at once with its end packets (RTP streams with
their BYE), and `run` returns 128 + the signal. Each stream or page that ends is one
JSON line on stdout (``{"event": "page_end", "direction": ...}``), the run's counters
one last line (``{"event": "stopped", ...}``).

A configuration file holds many mappings as ``[[bridge]]`` tables, whose keys are the
command's options (``rtp``, ``channel``, ``direction``, ``rtp_codec``, ``payload_type``
for a dynamic type, ``rtp_ptime``, ``codec``, ``caller_id``, ``idle_ms``); every
mistake is refused with one line before anything is sent (`polyptt.errors.BadInput`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyptt.bridge.formats import PayloadFormat, parse_format
from polyptt.errors import BadInput
from polyptt.transport import DEFAULT_TTL, Destination

__all__ = [
    "DIRECTIONS",
    "FRAME_MS",
    "BridgeJob",
    "Mapping",
    "job_from_options",
    "load_config",
    "mapping",
]

DIRECTIONS = ("rtp-to-poly", "poly-to-rtp", "both")
#: Poly frame length of bridged pages: RTP devices send 20 ms packets, and so do these
#: (G.726QI, which phones take in 30 ms frames only, excepted).
FRAME_MS = 20
_KEYS = {
    "rtp",
    "channel",
    "direction",
    "rtp_codec",
    "payload_type",
    "rtp_ptime",
    "codec",
    "caller_id",
    "idle_ms",
}


@dataclass(frozen=True)
class Mapping:
    """One RTP group and port <-> one Poly channel.

    Attributes
    ----------
    rtp : Destination
        The RTP group and port (RTCP on the next port up).
    channel : int
        The Poly channel, 1-50.
    direction : str
        One of `DIRECTIONS`.
    rtp_format : PayloadFormat
        What the bridge sends as RTP; it takes the static types and this one.
    rtp_ptime : int
        Milliseconds of audio per RTP packet it sends.
    codec : str
        The Poly pages' codec (``g722``, ``g711u``, ``g726qi``).
    caller_id : str or None
        Shown on the phones for pages from RTP (the job's by default).
    idle_ms : int
        A stream without a packet for this long is over.
    """

    rtp: Destination
    channel: int
    direction: str = "rtp-to-poly"
    rtp_format: PayloadFormat = field(default_factory=lambda: parse_format("pcmu"))
    rtp_ptime: int = 20
    codec: str = "g722"
    caller_id: str | None = None
    idle_ms: int = 500

    @property
    def frame_ms(self) -> int:
        """The Poly pages' frame length: `FRAME_MS` where the codec allows it."""
        from polyptt import codecs

        allowed = codecs.info(self.codec).frame_ms
        return FRAME_MS if FRAME_MS in allowed else allowed[0]

    @property
    def to_poly(self) -> bool:
        return self.direction in ("rtp-to-poly", "both")

    @property
    def to_rtp(self) -> bool:
        return self.direction in ("poly-to-rtp", "both")


@dataclass(frozen=True)
class BridgeJob:
    """Mappings and the Poly side's identity (the shared network options)."""

    mappings: tuple[Mapping, ...]
    destination: Destination = field(default_factory=lambda: Destination("224.0.1.116", 5001))
    interface: str | None = None
    ttl: int = DEFAULT_TTL
    serial: int | None = None
    caller_id: str | None = None


def mapping(values: dict[str, Any], where: str = "") -> Mapping:
    """A mapping from option values (the command's, or a ``[[bridge]]`` table's).

    `where` prefixes the option names in errors (``[[bridge]] 2: rtp``).
    """
    from polyptt import codecs
    from polyptt.protocol import parse_channel
    from polyptt.receive.inbound import parse_endpoint

    def bad(key: str, message: str) -> BadInput:
        return BadInput(message, f"{where}{key}" if where else f"--{key.replace('_', '-')}")

    unknown = set(values) - _KEYS
    if unknown:
        raise bad(sorted(unknown)[0], f"unknown key (known: {', '.join(sorted(_KEYS))})")
    try:
        rtp = values.get("rtp")
        if rtp is None:
            raise bad("rtp", "the RTP group is required (GROUP:PORT)")
        if not isinstance(rtp, Destination) and ":" not in str(rtp):
            raise bad("rtp", f"{rtp!r}: give the port too (GROUP:PORT, e.g. 239.1.2.3:5004)")
        endpoint = rtp if isinstance(rtp, Destination) else parse_endpoint(str(rtp))
    except ValueError as exc:
        raise bad("rtp", str(exc)) from None
    if endpoint.port >= 65535:
        raise bad("rtp", "the port must leave room for RTCP on the next port (at most 65534)")
    try:
        channel = values.get("channel")
        if channel is None:
            raise bad("channel", "the Poly channel is required (1-50, page:N or ptt:N)")
        channel = channel if isinstance(channel, int) else parse_channel(str(channel))
    except ValueError as exc:
        raise bad("channel", str(exc)) from None
    direction = str(values.get("direction") or "rtp-to-poly").lower()
    if direction not in DIRECTIONS:
        raise bad("direction", f"{direction!r} is not one of {', '.join(DIRECTIONS)}")
    try:
        fmt = parse_format(str(values.get("rtp_codec") or "pcmu"), values.get("payload_type"))
    except ValueError as exc:
        raise bad("rtp_codec", str(exc)) from None
    ptime = values.get("rtp_ptime") or 20
    if not isinstance(ptime, int) or ptime not in (10, 20, 30, 40, 50, 60):
        raise bad("rtp_ptime", f"{ptime!r} is not one of 10, 20, 30, 40, 50, 60")
    codec = str(values.get("codec") or codecs.DEFAULT).lower()
    if codec not in codecs.WIRE_NAMES:
        raise bad("codec", f"{codec!r} is not one of {', '.join(codecs.WIRE_NAMES)}")
    idle = values.get("idle_ms") or 500
    if not isinstance(idle, int) or not 20 <= idle <= 60000:
        raise bad("idle_ms", f"{idle!r} is not a number of milliseconds from 20 to 60000")
    caller_id = values.get("caller_id")
    return Mapping(endpoint, channel, direction, fmt, ptime, codec, caller_id, idle)


def load_config(path: Path) -> tuple[Mapping, ...]:
    """The ``[[bridge]]`` tables of a TOML file; `BadInput` (``--config``) for any mistake."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise BadInput(f"cannot read {path}: {reason}", "--config") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path} is not valid TOML: {exc}", "--config") from None
    tables = data.get("bridge")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise BadInput(f"{path} has no [[bridge]] tables", "--config")
    return tuple(
        mapping(table, f"{path.name} [[bridge]] {n}: ") for n, table in enumerate(tables, 1)
    )


def job_from_options(values: dict[str, Any]) -> BridgeJob:
    """The job the command's options describe (``--config`` or one mapping's options)."""
    config = values.pop("config", None)
    shared = {k: values.pop(k) for k in ("destination", "interface", "ttl", "serial")}
    caller_id = values.get("caller_id")
    if config is not None:
        given = [k for k, v in values.items() if v is not None and k != "caller_id"]
        if given:
            raise BadInput(f"--{given[0].replace('_', '-')} and --config: give one", "--config")
        mappings = load_config(config)
    else:
        mappings = (mapping({k: v for k, v in values.items() if v is not None}),)
    seen: set[tuple[Destination, int]] = set()
    for each in mappings:
        if (each.rtp, each.channel) in seen:
            raise BadInput(f"{each.rtp} and channel {each.channel} are mapped twice", "--config")
        seen.add((each.rtp, each.channel))
    return BridgeJob(mappings, caller_id=caller_id, **shared)
