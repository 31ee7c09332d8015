"""A bell's audio as a page's frames, made ahead of its due time (in a worker thread).

A file is read as ``polyptt send`` reads it (`polyptt.audio.load_page`, repeats and
the page limit included); a ``say`` text is synthesized (`polyptt.audio.speech`, the
chime first if asked) and framed by the same function the relay's spoken pages use.
"""

from __future__ import annotations

from polyptt.relay.bells.timetable import Schedule

__all__ = ["frames"]


def frames(
    schedule: Schedule, codec: str, frame_ms: int, max_s: float, gap_s: float
) -> list[bytes]:
    """The encoded frames of `schedule`'s page.

    Raises
    ------
    polyptt.audio.files.AudioError, polyptt.errors.BadInput, polyptt.errors.Missing
        The file cannot be read, the speech cannot be made, or the page is too long.
    """
    if schedule.audio is not None:
        from polyptt.audio import load_page

        audio = load_page(
            schedule.audio, codec, frame_ms, repeat=schedule.repeat, gap_s=gap_s, max_s=max_s
        )
        return audio.frames
    return _spoken(schedule, codec, frame_ms, max_s, gap_s)


def _spoken(
    schedule: Schedule, codec: str, frame_ms: int, max_s: float, gap_s: float
) -> list[bytes]:
    raise NotImplementedError("say bells need polyptt.audio.speech (the tts branch)")
