"""Which inputs of a page go together: one source (a file, the microphone, raw audio or a
text to speak) and only the options that fit it.

The rules are the send job's (a library user building a `polyptt.send.job.SendJob`
meets the same ones); `source_problem` says what is wrong in the words the command line
shows as a usage error. `given` tells an option the user gave from one left at its
default: ``--chime`` left off is no problem without ``--say``, ``--chime`` given is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["source_problem"]

#: The options of a spoken page, by parameter.
_SAY_OPTIONS = {
    "chime": "--chime",
    "tts_engine": "--tts-engine",
    "voice": "--voice",
    "rate_wpm": "--rate",
}
_MISSING = "Missing argument 'FILE' (an audio file, - for standard input) or --mic."


def source_problem(
    file: str | None, values: Mapping[str, Any], given: Callable[[str], bool]
) -> str | None:
    """What is wrong with `file` and `values` (``send``'s options), or None.

    Raises
    ------
    polyptt.errors.BadInput
        A codec and frame length phones do not take (G.726QI is 30 ms only).
    """
    from polyptt.send.job import wire_codec

    wire_codec(values["codec"], values["frame_ms"])
    mic, raw, say = values["mic"], values["raw_rate"] is not None, values["say"] is not None
    if mic and (file is not None or raw):
        return "--mic takes no FILE and no --raw"
    if say and (mic or raw or file is not None):
        return "--say takes no FILE, --mic or --raw"
    for name, flag in _SAY_OPTIONS.items():
        if given(name) and not say:
            return f"{flag} goes with --say"
    if not (mic or say or file is not None):
        return _MISSING
    if values["sites"] is not None and values["relay"] is None:
        return "--sites goes with --relay"
    for name in ("input_device", "keep_pauses"):
        if given(name) and not mic:
            return f"--{name.replace('_', '-')} goes with --mic"
    for name in ("repeat", "gap"):
        if given(name) and (mic or raw):
            return f"--{name} is for files, not live audio"
    return None
