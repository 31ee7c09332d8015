"""Tell the user about pages: one readable line per start and end, or JSON Lines.

JSON Lines (``--json``) is for log pipelines: one object per event, flushed at once, with
``event`` set to ``page_start`` or ``page_end``; a ``page_end`` carries the same keys as a
recording's JSON file, so a log and a recording directory can be joined on them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TextIO

from polyptt.protocol import Priority, channel_priority, format_channel
from polyptt.receive.recorder import page_record, page_start_record
from polyptt.receive.session import Page

__all__ = ["Reporter", "end_line", "end_text", "start_line", "start_text"]


def _who(record: Mapping[str, Any]) -> str:
    channel = record["channel"]
    priority = channel_priority(channel)
    caller = f"{record['caller_id']!r}" if record.get("caller_id") else "(no caller id)"
    kind = "" if priority is Priority.NORMAL else f", {priority.label}"
    name = record.get("channel_name") or format_channel(channel)
    return f"ch{channel} ({name}{kind}) {caller}"


def start_line(page: Page) -> str:
    """The readable line announcing `page`."""
    return start_text(page_start_record(page))


def end_line(page: Page) -> str:
    """The readable line closing `page`, with its statistics."""
    return end_text(page_record(page))


def start_text(record: Mapping[str, Any]) -> str:
    """The line announcing a page from its record: `page_start_record`'s keys, or a
    relay's ``page_start`` event (whose ``channel_name`` is shown for the channel)."""
    return (
        f"{record['start']} page start {_who(record)} from {record['source']} "
        f"serial 0x{record['serial']:08X}"
    )


def end_text(record: Mapping[str, Any]) -> str:
    """The line closing a page from its record: `page_record`'s keys, or a relay's
    ``page_end`` event. Counts a record lacks (a page the relay sent itself has no
    packets received) are left out rather than shown as zero."""
    r = record
    how = f"{r['codec']} {r['frame_ms']} ms" if r.get("codec") else "no audio"
    reason = str(r.get("end_reason") or "ended").replace("_", " ")
    parts = [f"{reason}, {how}, {r['duration_s']:.2f} s, {_counted(r, 'frames')}"]
    if "packets" in r:
        parts.append(_counted(r, "packets"))
    return f"{r['end']} page end   {_who(r)}: {', '.join(parts)}"


#: What each count of a page's end line is followed by, in brackets.
_DETAILS = {
    "frames": (("frames_repaired", "repaired"), ("frames_concealed", "concealed")),
    "packets": (("duplicates", "duplicates"), ("late", "late")),
}


def _counted(record: Mapping[str, Any], key: str) -> str:
    details = [f"{record[k]} {label}" for k, label in _DETAILS[key] if k in record]
    return f"{record[key]} {key}" + (f" ({', '.join(details)})" if details else "")


class Reporter:
    """A page listener that writes events to `stream`, as text or JSON Lines.

    `started` and `ended` report a page from its record alone: ``listen --relay`` reports
    the relay's events with them, in the same lines.
    """

    def __init__(self, stream: TextIO, *, as_json: bool = False) -> None:
        self.stream = stream
        self.as_json = as_json

    def page_started(self, page: Page) -> None:
        self.started(page_start_record(page))

    def page_ended(self, page: Page) -> None:
        self.ended(page_record(page))

    def started(self, record: Mapping[str, Any]) -> None:
        """Report a page's start from its record."""
        if self.as_json:
            self._json({"event": "page_start", **record})
        else:
            self._line(start_text(record))

    def ended(self, record: Mapping[str, Any]) -> None:
        """Report a page's end from its record."""
        if self.as_json:
            self._json({"event": "page_end", **record})
        else:
            self._line(end_text(record))

    def _json(self, record: dict[str, Any]) -> None:
        self._line(json.dumps(record, ensure_ascii=False))

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
