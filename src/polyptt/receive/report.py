"""Tell the user about pages: one readable line per start and end, or JSON Lines.

JSON Lines (``--json``) is for log pipelines: one object per event, flushed at once, with
``event`` set to ``page_start`` or ``page_end``; a ``page_end`` carries the same keys as a
recording's JSON file, so a log and a recording directory can be joined on them.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from polyptt.protocol import Priority, format_channel
from polyptt.receive.recorder import iso_utc, page_record, page_start_record
from polyptt.receive.session import Page

__all__ = ["Reporter", "end_line", "start_line"]


def _who(page: Page) -> str:
    caller = f"{page.caller_id!r}" if page.caller_id else "(no caller id)"
    kind = "" if page.priority is Priority.NORMAL else f", {page.priority.label}"
    return f"ch{page.channel} ({format_channel(page.channel)}{kind}) {caller}"


def start_line(page: Page) -> str:
    """The readable line announcing `page`."""
    return (
        f"{iso_utc(page.start)} page start {_who(page)} from {page.source} "
        f"serial 0x{page.serial:08X}"
    )


def end_line(page: Page) -> str:
    """The readable line closing `page`, with its statistics."""
    r = page_record(page)
    how = f"{r['codec']} {r['frame_ms']} ms" if r["codec"] else "no audio"
    return (
        f"{r['end']} page end   {_who(page)}: {r['end_reason'].replace('_', ' ')}, {how}, "
        f"{r['duration_s']:.2f} s, {r['frames']} frames ({r['frames_repaired']} repaired, "
        f"{r['frames_concealed']} concealed), {r['packets']} packets "
        f"({r['duplicates']} duplicates, {r['late']} late)"
    )


class Reporter:
    """A page listener that writes events to `stream`, as text or JSON Lines."""

    def __init__(self, stream: TextIO, *, as_json: bool = False) -> None:
        self.stream = stream
        self.as_json = as_json

    def page_started(self, page: Page) -> None:
        if self.as_json:
            self._json({"event": "page_start", **page_start_record(page)})
        else:
            self._line(start_line(page))

    def page_ended(self, page: Page) -> None:
        if self.as_json:
            self._json({"event": "page_end", **page_record(page)})
        else:
            self._line(end_line(page))

    def _json(self, record: dict[str, Any]) -> None:
        self._line(json.dumps(record, ensure_ascii=False))

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
