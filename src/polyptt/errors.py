"""The errors the jobs raise for input that can never work.

The jobs behind the commands (`polyptt.send.job`, `polyptt.receive.job`,
`polyptt.loop.job`) check everything before they start: an unreadable file, a missing
device, a directory that cannot be written. They raise :class:`BadInput` naming the
option to fix, so the command line shows ``Invalid value for '--record': ...`` (exit
status 2) while a program calling a job catches one exception type. Failures of the
network are `polyptt.transport.NetworkError` (exit status 1).
"""

from __future__ import annotations

__all__ = ["BadInput", "Missing", "device_refusal"]


class BadInput(ValueError):
    """Input that can never work; the message is one line.

    Parameters
    ----------
    message : str
        What is wrong, e.g. ``"cannot write to /srv: Permission denied"``.
    option : str, optional
        What to fix, as the command line names it: ``"--record"``, or ``"FILE"`` for an
        argument; None when no single option is at fault.
    """

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class Missing(BadInput):
    """Something this machine lacks (a microphone, a speaker): exit status 2 as well, but
    no option is at fault and ``--help`` holds no answer, so the command says only this."""


def device_refusal(message: str, option: str, given: str | None) -> BadInput:
    """An audio device that cannot be used: the fault of `option` if the user gave it
    (`given`), else `Missing` (a machine without a microphone is no option's fault)."""
    return Missing(message) if given is None else BadInput(message, option)
