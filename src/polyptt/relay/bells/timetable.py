"""When a bell rings: a 5-field cron expression in a time zone, minus its skip dates.

Pure functions of a `Schedule` and the instants they are asked about (no clock of their
own), so that every rule is tested with any moment at all. Cron expressions are
`croniter`'s, evaluated on the schedule's *wall clock* (naive local times), and each
wall-clock time is then placed on the time line with `zoneinfo`:

- a wall-clock time that does not exist (the hour skipped when clocks go forward) rings
  once, at the first valid minute after it (Europe/Berlin, 2027-03-28: 02:30 rings at
  03:00 CEST; several skipped times, or one of them and 03:00 itself, ring once);
- a wall-clock time that happens twice (the hour repeated when clocks go back) rings
  once, the first time (croniter yields each wall-clock time once, and the earlier
  offset is taken).

Example::

    schedule = parse_schedule({"name": "period-1", "cron": "0 8 * * 1-5",
                               "timezone": "Europe/Berlin", "channel": 26,
                               "audio": "bell.wav"}, base=Path("/etc/polyptt"))
    next_due(schedule, datetime.now(timezone.utc))
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_GRACE_S",
    "DEFAULT_WAIT_S",
    "Schedule",
    "dues_between",
    "local_zone",
    "next_due",
    "parse_schedule",
    "upcoming",
]

#: A run missed while the relay was down rings at start-up only if less late than this.
DEFAULT_GRACE_S = 60.0
#: How long a bell waits for its busy channel to be free.
DEFAULT_WAIT_S = 30.0
#: Most times one search looks at (skip dates may cover many of them).
_MAX_CANDIDATES = 100_000
_UTC = dt.timezone.utc
_KEYS = {
    "name",
    "cron",
    "timezone",
    "channel",
    "target",
    "audio",
    "say",
    "chime",
    "repeat",
    "skip_dates",
    "enabled",
    "grace_s",
    "wait_s",
    "sites",
}


@dataclass(frozen=True)
class Schedule:
    """One bell: when (`cron` in `timezone`, not on `skip_dates`), where, and what.

    Attributes
    ----------
    audio : Path or None
        The file it plays; exactly one of `audio` and `say` is set.
    say : str or None
        The text it speaks (synthesized ahead, `polyptt.audio.speech`).
    skip_dates : tuple of (date, date)
        Inclusive ranges of local dates it does not ring on.
    timezone : str or None
        IANA name; None is the machine's zone (`local_zone`).
    """

    name: str
    cron: str
    channel: int
    timezone: str | None = None
    target: str | None = None
    audio: Path | None = None
    say: str | None = None
    chime: bool = False
    repeat: int = 1
    skip_dates: tuple[tuple[dt.date, dt.date], ...] = ()
    enabled: bool = True
    grace_s: float = DEFAULT_GRACE_S
    wait_s: float = DEFAULT_WAIT_S
    #: Other sites it rings at too (`polyptt.relay.sites`: names, or ("all",)).
    sites: tuple[str, ...] | None = None

    @property
    def zone(self) -> dt.tzinfo:
        return ZoneInfo(self.timezone) if self.timezone else local_zone()

    def skipped(self, day: dt.date) -> bool:
        return any(first <= day <= last for first, last in self.skip_dates)

    def plays(self) -> str:
        """What it plays, in a few words (``audio bell.wav``, ``say "Lunch"``)."""
        if self.audio is not None:
            return f"audio {self.audio.name}"
        return f"say {self.say!r}" + (" (chime)" if self.chime else "")

    def to_dict(self) -> dict[str, Any]:
        """As the config and the API write it (`parse_schedule` reads it back)."""
        out: dict[str, Any] = {"name": self.name, "cron": self.cron, "channel": self.channel}
        if self.timezone:
            out["timezone"] = self.timezone
        if self.target is not None:
            out["target"] = self.target
        if self.sites is not None:
            out["sites"] = list(self.sites)
        if self.audio is not None:
            out["audio"] = str(self.audio)
        else:
            out["say"] = self.say
            out["chime"] = self.chime
        out["repeat"] = self.repeat
        out["skip_dates"] = [_date_text(a, b) for a, b in self.skip_dates]
        out["enabled"] = self.enabled
        out["grace_s"] = self.grace_s
        out["wait_s"] = self.wait_s
        return out


def _date_text(first: dt.date, last: dt.date) -> str:
    return first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"


def local_zone() -> dt.tzinfo:
    """The machine's time zone, with its daylight-saving rules: ``$TZ``, else
    ``/etc/localtime``, else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with Path("/etc/localtime").open("rb") as file:
            return ZoneInfo.from_file(file, key="localtime")
    except (OSError, ValueError):
        return _UTC


def parse_schedule(data: Mapping[str, Any], base: Path | None = None) -> Schedule:
    """A ``[[schedule]]`` table (or an API body) as a `Schedule`.

    `base` is the folder a relative ``audio`` path is relative to (the config's).

    Raises
    ------
    ValueError
        One line naming the schedule and what is wrong with it.
    """
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or "/" in name or len(name) > 64:
        raise ValueError(f"a schedule needs a name (1-64 characters, no '/'), not {name!r}")
    try:
        return _parse(name, data, base)
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"schedule {name!r}: {exc}") from None


def _parse(name: str, data: Mapping[str, Any], base: Path | None) -> Schedule:
    from polyptt.protocol import parse_channel

    unknown = set(data) - _KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)} (expected some of {sorted(_KEYS)})")
    cron = _cron(data.get("cron"))
    zone = data.get("timezone")
    if zone is not None:
        _zone(zone)
    if "channel" not in data:
        raise ValueError("channel is required")
    channel = parse_channel(str(data["channel"]))
    audio, say = data.get("audio"), data.get("say")
    if (audio is None) == (say is None):
        raise ValueError('give exactly one of audio = "FILE" and say = "TEXT"')
    path = None
    if audio is not None:
        path = Path(_text(audio, "audio")).expanduser()
        if base is not None:  # the config's, or the API's: the file must be there
            path = path if path.is_absolute() else base / path
            if not path.is_file():
                raise ValueError(f"audio {str(path)!r}: no such file")
    elif not _text(say, "say").strip():
        raise ValueError("say must not be empty")
    return Schedule(
        name=name,
        cron=cron,
        channel=channel,
        timezone=zone,
        target=None if data.get("target") is None else _text(data["target"], "target"),
        audio=path,
        say=say,
        chime=_flag(data.get("chime", False), "chime"),
        repeat=_whole(data.get("repeat", 1), "repeat", 1, 20),
        skip_dates=tuple(_date_range(d) for d in _list(data.get("skip_dates", []))),
        enabled=_flag(data.get("enabled", True), "enabled"),
        grace_s=_seconds(data.get("grace_s", DEFAULT_GRACE_S), "grace_s"),
        wait_s=_seconds(data.get("wait_s", DEFAULT_WAIT_S), "wait_s"),
        sites=_sites(data.get("sites")),
    )


def _sites(value: Any) -> tuple[str, ...] | None:
    """``sites``: names of sites, or "all" (`polyptt.relay.sites.config.parse_sites`)."""
    from polyptt.relay.sites.config import parse_sites

    sites = parse_sites(value)
    return None if sites is None else tuple(sorted(sites))


def _cron(value: Any) -> str:
    from croniter import croniter  # type: ignore[import-untyped]

    text = _text(value, "cron").strip()
    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise ValueError(f"cron {text!r} is not a 5-field cron expression (e.g. '0 8 * * 1-5')")
    return text


def _zone(value: Any) -> None:
    try:
        ZoneInfo(_text(value, "timezone"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {value!r} is not an IANA zone (e.g. 'Europe/Berlin')") from None


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def _flag(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false")
    return value


def _whole(value: Any, key: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{key} must be a whole number from {low} to {high}")
    return value


def _seconds(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 86400:
        raise ValueError(f"{key} must be a number of seconds from 0 to 86400")
    return float(value)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError('skip_dates must be a list like ["2026-12-24", "2026-12-25..2027-01-02"]')
    return value


def _date_range(value: Any) -> tuple[dt.date, dt.date]:
    """``2026-12-24`` or ``2026-12-25..2027-01-02`` (inclusive)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):  # TOML dates
        return value, value
    text = _text(value, "each skip date")
    first_text, _, last_text = text.partition("..")
    try:
        first = dt.date.fromisoformat(first_text.strip())
        last = dt.date.fromisoformat(last_text.strip()) if last_text else first
    except ValueError:
        raise ValueError(
            f"skip date {text!r} is not YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD"
        ) from None
    if last < first:
        raise ValueError(f"skip dates {text!r} end before they begin")
    return first, last


# ------------------------------------------------------------------ when it rings


def _place(wall: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The instant (UTC) wall-clock time `wall` (naive) is in `zone`: its first occurrence
    if it happens twice, the first valid minute after it if it does not exist."""
    for _ in range(24 * 60):  # no zone skips a whole day, bar the Pacific ones: bounded
        moment = wall.replace(tzinfo=zone, fold=0)
        instant = moment.astimezone(_UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == wall:
            return instant
        wall = (wall + dt.timedelta(minutes=1)).replace(second=0, microsecond=0)
    return wall.replace(tzinfo=zone).astimezone(_UTC)


def _walls(schedule: Schedule, after: dt.datetime) -> Iterator[dt.datetime]:
    """The schedule's wall-clock times after `after` (an instant), in order."""
    from croniter import croniter

    # from the wall-clock time of `after`: a wall-clock time before it is either before
    # it on the time line too, or the second pass of a repeated hour (not rung again)
    start = after.astimezone(schedule.zone).replace(tzinfo=None)
    times = croniter(schedule.cron, start)
    for _ in range(_MAX_CANDIDATES):
        try:
            yield times.get_next(dt.datetime)
        except Exception:  # croniter: no such date ever (a 30 February): no more runs
            return


def upcoming(schedule: Schedule, after: dt.datetime) -> Iterator[dt.datetime]:
    """The instants (UTC) the schedule rings at, strictly after `after`, in order."""
    zone = schedule.zone
    last: dt.datetime | None = None
    for wall in _walls(schedule, after):
        if schedule.skipped(wall.date()):
            continue
        instant = _place(wall, zone)
        if instant <= after or instant == last:
            continue
        last = instant
        yield instant


def next_due(schedule: Schedule, after: dt.datetime) -> dt.datetime | None:
    """The first instant after `after` the schedule rings at, or None (never again)."""
    return next(upcoming(schedule, after), None)


def dues_between(schedule: Schedule, after: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
    """The instants in (`after`, `until`] the schedule rang (or should have) at."""
    dues = []
    for instant in upcoming(schedule, after):
        if instant > until:
            break
        dues.append(instant)
    return dues
