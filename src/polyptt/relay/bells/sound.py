"""A bell's audio as a page's frames, made ahead of its due time (in a worker thread).

A file is read as ``polyptt send`` reads it (`polyptt.audio.load_page`, repeats and
the page limit included); a ``say`` text is synthesized (`polyptt.audio.speech`, the
chime first if asked) and framed by the same function the relay's spoken pages use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyptt.relay.bells.timetable import Schedule

if TYPE_CHECKING:
    from polyptt.audio.speech import Voice

__all__ = ["frames"]


def frames(
    schedule: Schedule, codec: str, frame_ms: int, max_s: float, gap_s: float, voice: Voice
) -> list[bytes]:
    """The encoded frames of `schedule`'s page (`voice`: the relay's, ``[tts]``).

    Raises
    ------
    polyptt.audio.files.AudioError, polyptt.errors.BadInput, polyptt.errors.Missing,
    polyptt.relay.requests.Refused
        The file cannot be read, the speech cannot be made, or the page is too long.
    """
    if schedule.audio is not None:
        from polyptt.audio import load_page

        audio = load_page(
            schedule.audio, codec, frame_ms, repeat=schedule.repeat, gap_s=gap_s, max_s=max_s
        )
        return audio.frames
    from polyptt.audio.speech import spoken_audio
    from polyptt.relay.requests import PageRequest, encode_pcm

    assert schedule.say is not None
    pcm, rate = spoken_audio(schedule.say, voice, chime=schedule.chime)
    page = PageRequest(channel=schedule.channel, codec=codec, repeat=schedule.repeat, gap=gap_s)
    return encode_pcm(page, pcm, rate, frame_ms, max_s, name="the speech").frames
