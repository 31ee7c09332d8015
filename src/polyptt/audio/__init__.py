"""Audio for pages: files read whole, live audio framed as it arrives.

Map by purpose
--------------
A file as codec-ready PCM, or as a page's encoded frames (everything checked before the
first packet)
    :func:`~polyptt.audio.files.load`, :func:`~polyptt.audio.files.arrange`,
    :func:`~polyptt.audio.files.load_page`, :class:`~polyptt.audio.files.AudioError`
PCM chunks of any rate and channel count -> codec frames, streaming
    :class:`~polyptt.audio.framer.Framer`
Live sources a pacer asks for frames (microphone, raw PCM from a pipe, anything that
feeds chunks)
    :class:`~polyptt.audio.live.LiveFrames`, :class:`~polyptt.audio.live.Microphone`,
    :class:`~polyptt.audio.live.RawReader`
The one capture and the one raw reader, PCM out, for every live source (a page's, the
VOX gate's, the relay client's)
    :class:`~polyptt.audio.live.Capture`, :class:`~polyptt.audio.live.PcmReader`
A raw stream's first bytes: audio, or an audio file given as raw by mistake
    :func:`~polyptt.audio.sniff.read_head`, :func:`~polyptt.audio.sniff.describe_container`
The microphones and speakers there are, and what to say when one is missing
    :func:`~polyptt.audio.devices.find`, :func:`~polyptt.audio.devices.listing`

Text spoken as a page's audio (espeak-ng, Piper)
    :func:`~polyptt.audio.speech.spoken_audio`, :func:`~polyptt.audio.speech.begin`

sounddevice (PortAudio) is imported only when a microphone is opened, so paging a file
works where PortAudio is absent. The names below come from `polyptt.audio.files`, which
is imported when one is first used: importing `polyptt.audio.speech` loads no numpy, so a
page can start speaking its text while numpy and the codecs load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyptt.audio.files import (
        STDIN,
        Audio,
        AudioError,
        PageAudio,
        arrange,
        load,
        load_page,
    )

__all__ = ["STDIN", "Audio", "AudioError", "PageAudio", "arrange", "load", "load_page"]


def __getattr__(name: str) -> Any:
    """`polyptt.audio.files`' names, imported when first asked for."""
    if name in __all__:
        from polyptt.audio import files

        return getattr(files, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
