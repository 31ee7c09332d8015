"""The live panel: a few lines, at most 80 columns, redrawn in place.

:func:`render` turns a `PanelView` into lines and does nothing else (tests compare its
text); :class:`Screen` writes them over the previous ones with ANSI cursor movement,
and only when they changed, so an idle loop writes nothing.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from polyptt.loop.state import HeardPage, Phase

__all__ = ["KEYS_LINE", "PanelView", "Screen", "meter", "render"]

WIDTH = 80
#: The level meter's range: -60 dBFS is an empty bar, 0 dBFS a full one.
METER_FLOOR_DB = -60.0
METER_CELLS = 20

KEYS_LINE = "keys: Space talk/stop  c next channel  0-9+Enter channel  m mute  q quit"
HOLD_KEYS_LINE = "keys: hold Space to talk  c next channel  0-9+Enter channel  m mute  q quit"


@dataclass
class PanelView:
    """Everything the panel shows, gathered by the application at one instant."""

    talk_channel: int
    codec: str
    caller_id: str
    phase: Phase
    hold: bool = False
    vox_db: float | None = None
    muted: bool = False
    heard: HeardPage | None = None
    holder: HeardPage | None = None
    talk_s: float = 0.0
    level_db: float | None = None
    notice: str | None = None
    entry: str | None = None
    recent: Sequence[HeardPage] = field(default_factory=tuple)


def meter(level_db: float | None, cells: int = METER_CELLS) -> str:
    """A bar of `cells` characters for a level in dBFS (empty for None or silence)."""
    if level_db is None:
        filled = 0
    else:
        ratio = (level_db - METER_FLOOR_DB) / -METER_FLOOR_DB
        filled = round(min(1.0, max(0.0, ratio)) * cells)
    return "[" + "#" * filled + "." * (cells - filled) + "]"


def _state_text(view: PanelView) -> str:
    phase = view.phase
    if phase is Phase.TALKING:
        minutes, seconds = divmod(int(view.talk_s), 60)
        return f"TALKING {minutes:02d}:{seconds:02d}"
    if phase is Phase.ALERTING:
        return "ALERTING"
    if phase is Phase.HEARING and view.heard is not None:
        return f"hearing {view.heard.caller_id!r} on ch {view.heard.channel}"
    if phase is Phase.BUSY and view.holder is not None:
        return f"BUSY: {view.holder.caller_id!r} holds ch {view.holder.channel}"
    return phase.value


def _recent_text(page: HeardPage) -> str:
    """A recent page: when it started, its channel and caller, and (once it ended) its
    audio's duration, to the hundredth as ``listen`` reports it."""
    clock = time.strftime("%H:%M:%S", time.localtime(page.start))
    length = "" if page.duration_s is None else f" {page.duration_s:6.2f} s"
    return f"  {clock}  ch {page.channel:2d}  {page.caller_id!r}{length}"


def render(view: PanelView) -> list[str]:
    """The panel's lines (none longer than 80 columns)."""
    channel = f"{view.entry}_" if view.entry is not None else str(view.talk_channel)
    mute = "  [speaker muted]" if view.muted else ""
    if view.vox_db is not None:
        mute = f"  vox {view.vox_db:g} dBFS{mute}"
    source = "mic" if view.phase in (Phase.ALERTING, Phase.TALKING) else "spk"
    level = "" if view.level_db is None else f"{view.level_db:6.1f} dBFS"
    lines = [
        f"polyptt loop  talk ch {channel}  {view.codec}  as {view.caller_id!r}{mute}",
        f"state: {_state_text(view)}",
        f"{source} {meter(view.level_db)} {level}",
        f"note: {view.notice}" if view.notice else "",
        "recent pages:" if view.recent else "recent pages: none yet",
        *(_recent_text(page) for page in view.recent),
        HOLD_KEYS_LINE if view.hold else KEYS_LINE,
    ]
    return [line[:WIDTH] for line in lines]


class Screen:
    """Draw the panel over its previous drawing.

    Parameters
    ----------
    stream : text stream
        The terminal.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._shown: list[str] = []

    def draw(self, lines: list[str]) -> bool:
        """Redraw if `lines` differ from what is shown; whether anything was written.

        Lines are cut to the terminal's width: a line that wrapped would take two rows
        and the next redraw would start one row too low.
        """
        width = shutil.get_terminal_size((WIDTH, 24)).columns
        lines = [line[:width] for line in lines]
        if lines == self._shown:
            return False
        parts = []
        if self._shown:
            parts.append(f"\r\x1b[{len(self._shown)}A")
        parts.extend(f"\x1b[2K{line}\n" for line in lines)
        extra = len(self._shown) - len(lines)
        if extra > 0:  # the panel shrank: clear what is left below it, come back up
            parts.append("\x1b[2K\n" * extra + f"\x1b[{extra}A")
        self.stream.write("".join(parts))
        self.stream.flush()
        self._shown = list(lines)
        return True
