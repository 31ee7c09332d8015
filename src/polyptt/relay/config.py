"""The relay's configuration: one TOML file an admin writes, read once at start.

Everything in it is policy (who may come from where, what channels are called, how long
a page may be); the network identity (``--to``, ``--iface``, ``--ttl``, ``--bind``) stays
on the command line with the other commands' options. A missing file is the defaults:
``polyptt relay`` on localhost needs no configuration. A file the user named that does
not exist is an error (`load_config` with ``must_exist``: a typo must not start a relay
with other tokens than meant); `create_config` starts one (``relay token add`` does).

Example::

    origins = ["https://paging.example.org"]
    audit_log = "/var/log/polyptt/relay-audit.jsonl"

    [channels]
    26 = "All staff"
    50 = "Emergency"

    [targets]
    reception = "192.0.2.20"       # a phone, paged by unicast

    [limits]
    max_page_s = 60

    [tts]                          # how the relay speaks a text (POST /api/v1/pages JSON)
    engine = "espeak-ng"           # or "piper"
    voice = "en-us"                # an espeak-ng voice, or the piper FILE.onnx
    rate = 160                     # words per minute
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyptt.audio.speech import Voice

if TYPE_CHECKING:
    from polyptt.relay.bells.timetable import Schedule

from polyptt.relay.hooks.config import HooksConfig, parse_hooks
from polyptt.relay.sites.config import NatsConfig, parse_nats, parse_site

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["ConfigError", "Limits", "RelayConfig", "create_config", "load_config"]


class ConfigError(Exception):
    """The configuration file cannot be used; the message is one line naming it."""


@dataclass(frozen=True)
class Limits:
    """What one client may do; every limit is enforced per request or message.

    Attributes
    ----------
    max_page_s : float
        A page (uploaded or live) is ended with its end packets after this long: an
        upload longer is refused (its header is checked before decoding), a live page
        ends this long after its audio began, in wall-clock time.
    talk_silence_s : float
        A live page whose talker sent no audio for this long is ended (reason
        ``silence``): a talker that went quiet must not hold its channel.
    max_upload_bytes : int
        Largest audio file ``POST /api/v1/pages`` accepts (413 beyond).
    max_message_bytes : int
        Largest WebSocket message; larger closes the connection (1009). A 20 ms frame
        is 640 bytes plus an 8-byte header.
    realtime_slack_s : float
        How far a live talker may run ahead of real time before its audio is dropped.
    send_queue : int
        Messages queued for one listener before it is dropped as too slow.
    connections_per_token : int
        WebSockets open at once under one token.
    login_failures : int
        Failed logins from one address within `ban_s` before it is refused (429).
    ban_s : float
        The window of `login_failures`, and how long the refusal lasts.
    heartbeat_s : float
        WebSocket ping period; a client that does not answer is closed.
    idle_s : float
        A WebSocket that sends no message, listens not and has no page going out for
        this long is closed (answering pings is not using the relay).
    connections_per_address : int
        TCP connections open at once from one address (trusted proxies exempt); more
        are closed at accept.
    """

    max_page_s: float = 60.0
    talk_silence_s: float = 5.0
    max_upload_bytes: int = 32 << 20
    max_message_bytes: int = 4096
    realtime_slack_s: float = 0.5
    send_queue: int = 100
    connections_per_token: int = 8
    login_failures: int = 10
    ban_s: float = 300.0
    heartbeat_s: float = 20.0
    idle_s: float = 300.0
    connections_per_address: int = 64


@dataclass(frozen=True)
class RelayConfig:
    """The relay's policy (see the module docstring for the file).

    Attributes
    ----------
    path : Path or None
        The file it came from; the token store lives beside it (`tokens_path`).
    origins : tuple of str
        Origins browsers may open the WebSocket from; empty means the relay's own.
    channel_names : dict
        Channel number -> name shown to clients.
    targets : dict
        Name -> address of a phone that pages to it go to by unicast.
    limits : Limits
    audit_log : Path or None
        JSON Lines of who did what; None logs audit events nowhere.
    tokens : Path or None
        The token store, if not beside the file (`tokens_path`).
    data : Path or None
        The data directory (database, recordings): ``--data`` overrides it; None is the
        platform's state directory (`polyptt.relay.store.database.default_data_dir`).
    bridges : tuple of polyptt.bridge.config.Mapping
        RTP <-> Poly mappings the relay runs (``[[bridge]]`` tables, as ``polyptt bridge
        --config`` reads them; see `polyptt.relay.bridges`).
    trusted_proxies : tuple of str
        Addresses of reverse proxies whose ``X-Forwarded-For`` names the client (for the
        audit log and the login bans); a request from anywhere else is its own client.
    tts : polyptt.audio.speech.Voice
        How the relay speaks a text (``[tts]``: ``engine``, ``voice``, ``rate``); a
        Piper voice file is relative to the configuration file.
    record : tuple of str
        The directions of the pages recorded (``heard``, ``sent``); empty: none.
    keep_days : float or None
        Pages (rows and recordings) older than this are deleted; None keeps them.
    keep_gb : float or None
        The recordings' total size (GB, 10^9 bytes) beyond which the oldest pages are
        deleted; None sets no bound.
    """

    path: Path | None = None
    origins: tuple[str, ...] = ()
    channel_names: dict[int, str] = field(default_factory=dict)
    targets: dict[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    audit_log: Path | None = None
    tokens: Path | None = None
    trusted_proxies: tuple[str, ...] = ()
    data: Path | None = None
    tts: Voice = field(default_factory=Voice)
    record: tuple[str, ...] = ("heard", "sent")
    keep_days: float | None = None
    keep_gb: float | None = None
    bridges: tuple[Any, ...] = ()  # polyptt.bridge.config.Mapping, from [[bridge]]
    #: The ``[[schedule]]`` tables (`polyptt.relay.bells`), in the file's order.
    schedules: tuple[Schedule, ...] = ()
    #: Webhooks, MQTT, the audio MQTT may page (`polyptt.relay.hooks.config`).
    hooks: HooksConfig = field(default_factory=HooksConfig)
    #: This relay's site, the pages it shares and its federation (`polyptt.relay.sites`).
    site: str | None = None
    share: tuple[int, ...] = ()
    nats: NatsConfig | None = None

    @property
    def tokens_path(self) -> Path:
        """Where the hashed tokens are kept: ``tokens`` in the file, or beside it."""
        if self.tokens is not None:
            return self.tokens
        if self.path is not None:
            return self.path.with_name(self.path.stem + ".tokens.json")
        return Path("polyptt-relay.tokens.json")


def load_config(path: Path | None, *, must_exist: bool = False) -> RelayConfig:
    """Read `path` (TOML); None or a file that does not exist gives the defaults.

    Relative paths in the file (``audit_log``, ``tokens``) are relative to it.

    Parameters
    ----------
    path : Path or None
    must_exist : bool
        A missing `path` is an error, not the defaults (the user named it).

    Raises
    ------
    ConfigError
        A missing file with `must_exist`; an unreadable file, bad TOML, unknown keys or
        values of the wrong kind.
    """
    if path is not None and must_exist and not path.exists():
        raise ConfigError(f"{path}: no such file ('polyptt relay token add' creates one)")
    if path is None or not path.exists():
        return RelayConfig(path=path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        return _parse(path, data)
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


#: What `create_config` writes: every setting commented out, at its default.
STARTER = """\
# polyptt relay configuration (TOML). Every setting is optional; uncomment to change.
# The hashed tokens live beside this file (NAME.tokens.json): polyptt relay token add.

# origins = ["https://paging.example.org"]   # where browsers may open the page from
# audit_log = "relay-audit.jsonl"             # relative to this file
# data = "/var/lib/polyptt/relay"   # pages, schedules (default ~/.local/state/polyptt/relay)
# record = ["heard", "sent"]        # which pages are recorded ([] for none)
# keep_days = 90                    # delete pages older than this
# keep_gb = 20                      # and the oldest beyond this much audio

# [channels]
# 26 = "All staff"

# [targets]
# reception = "192.0.2.20"   # a phone, paged by unicast

# [limits]
# max_page_s = 60
# talk_silence_s = 5

# [tts]                  # how texts are spoken (send --relay --say, the web page's Say)
# engine = "espeak-ng"   # or "piper" (pip install 'polyptt[piper]') with voice = "FILE.onnx"
# voice = "en-us"        # espeak-ng --voices lists them
# rate = 175             # words per minute
"""


def create_config(path: Path) -> bool:
    """Write the starter configuration (`STARTER`) at `path` unless it exists; whether it
    was written. Its folder is made if needed.

    Raises
    ------
    ConfigError
        It cannot be written.
    """
    if path.exists():
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as file:
            file.write(STARTER)
    except FileExistsError:
        return False
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create: {exc.strerror or exc}") from None
    return True


_TOP_KEYS = {
    "origins",
    "channels",
    "targets",
    "limits",
    "audit_log",
    "tokens",
    "trusted_proxies",
    "data",
    "tts",
    "record",
    "keep_days",
    "keep_gb",
    "bridge",
    "schedule",
    "site",
    "share",
    "nats",
    # polyptt.relay.hooks.config
    "webhook",
    "mqtt",
    "audio",
    "public_url",
}


def _parse(path: Path, data: dict[str, Any]) -> RelayConfig:
    from polyptt.protocol import parse_channel

    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)} (expected {sorted(_TOP_KEYS)})")
    origins = data.get("origins", [])
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise ValueError("origins must be a list of strings like 'https://host'")
    names = {parse_channel(str(k)): str(v) for k, v in data.get("channels", {}).items()}
    targets = {str(k): str(v) for k, v in data.get("targets", {}).items()}
    limit_fields = Limits.__dataclass_fields__
    raw_limits = data.get("limits", {})
    bad = set(raw_limits) - set(limit_fields)
    if bad:
        raise ValueError(f"unknown limits {sorted(bad)}")
    limits = Limits(**{k: type(getattr(Limits(), k))(v) for k, v in raw_limits.items()})

    def beside(value: Any) -> Path | None:
        return None if value is None else path.parent / Path(str(value)).expanduser()

    return RelayConfig(
        path=path,
        origins=tuple(o.rstrip("/") for o in origins),
        channel_names=names,
        targets=targets,
        limits=limits,
        audit_log=beside(data.get("audit_log")),
        tokens=beside(data.get("tokens")),
        trusted_proxies=tuple(str(a) for a in data.get("trusted_proxies", [])),
        data=beside(data.get("data")),
        tts=_tts(data.get("tts", {}), beside),
        **_store_keys(data),
        bridges=_bridges(data.get("bridge", [])),
        schedules=_schedules(path, data.get("schedule", []), targets),
        hooks=parse_hooks(path, data),
        site=None if data.get("site") is None else parse_site(data["site"]),
        share=tuple(parse_channel(str(c)) for c in data.get("share", [])),
        nats=parse_nats(data.get("nats"), beside),
    )


def _tts(table: Any, beside: Any) -> Voice:
    """``[tts]``: the engine (one of `polyptt.audio.speech.ENGINES`), its voice (a Piper
    file beside the configuration) and rate, checked as ``send --say`` checks them."""
    from polyptt.audio import speech

    if not isinstance(table, dict) or set(table) - {"engine", "voice", "rate"}:
        raise ValueError("[tts] takes engine, voice and rate")
    engine, voice, rate = table.get("engine", "espeak-ng"), table.get("voice"), table.get("rate")
    if engine not in speech.ENGINES:
        raise ValueError(f"[tts] engine must be one of {', '.join(speech.ENGINES)}")
    if engine == "piper" and not isinstance(voice, str):
        raise ValueError("[tts] engine 'piper' needs voice = \"FILE.onnx\"")
    if voice is not None and not isinstance(voice, str):
        raise ValueError("[tts] voice must be a string")
    low, high = speech.MIN_RATE_WPM, speech.MAX_RATE_WPM
    if rate is not None and (type(rate) is not int or not low <= rate <= high):
        raise ValueError(f"[tts] rate must be {low}-{high} words per minute")
    if engine == "piper":
        voice = str(beside(voice))
    return Voice(engine, voice, rate)


def _schedules(path: Path, tables: Any, targets: dict[str, str]) -> tuple[Schedule, ...]:
    """The ``[[schedule]]`` tables; ValueError names the schedule that is wrong."""
    from polyptt.relay.bells.timetable import parse_schedule

    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ValueError("schedules are [[schedule]] tables")
    schedules = tuple(parse_schedule(t, path.parent) for t in tables)
    names = [s.name for s in schedules]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"schedule {twice[0]!r} is defined twice")
    for schedule in schedules:
        if schedule.target is not None and schedule.target not in targets:
            raise ValueError(f"schedule {schedule.name!r}: no target named {schedule.target!r}")
    return schedules


def _store_keys(data: dict[str, Any]) -> dict[str, Any]:
    """``record``, ``keep_days``, ``keep_gb``: checked."""
    found: dict[str, Any] = {}
    if "record" in data:
        record = data["record"]
        if not isinstance(record, list) or not set(record) <= {"heard", "sent"}:
            raise ValueError('record must be a list of "heard" and "sent" (or [] for none)')
        found["record"] = tuple(dict.fromkeys(record))
    for key in ("keep_days", "keep_gb"):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{key} must be a number above 0")
            found[key] = float(value)
    return found


def _bridges(tables: Any) -> tuple[Any, ...]:
    """The ``[[bridge]]`` mappings (`polyptt.bridge.config.mapping`), as ``polyptt
    bridge --config`` reads them; ValueError names the table and key at fault."""
    from polyptt.bridge.config import mapping
    from polyptt.errors import BadInput

    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ValueError("bridge must be [[bridge]] tables")
    try:
        return tuple(mapping(table, f"[[bridge]] {n}: ") for n, table in enumerate(tables, 1))
    except BadInput as exc:
        raise ValueError(f"{exc.option}: {exc}") from None
