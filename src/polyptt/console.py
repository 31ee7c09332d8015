"""What the commands and their jobs say on stderr, and when.

Commands run from terminals and from cron alike. At a terminal a live status line
shows what is happening; anywhere else only warnings and errors are written, so a cron
job that worked mails nothing. ``-q`` keeps errors only; ``-v`` adds a summary.

The jobs the commands run (`polyptt.send.job`, `polyptt.receive.job`, `polyptt.loop.job`)
report through a :class:`Console` too, so a program calling them gets the same messages
(``Console(-1)`` for errors only, or a stream of its own).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

import click

__all__ = ["Console"]


class Console:
    """Messages and a status line on stderr, by verbosity.

    Parameters
    ----------
    verbosity : int
        -1 errors only (``-q``), 0 warnings too, 1 or more: also information (``-v``).
    stream : text file, optional
        Defaults to ``sys.stderr``.
    """

    #: Seconds between two redraws of the status line.
    STATUS_PERIOD_S = 0.1

    def __init__(self, verbosity: int = 0, stream: TextIO | None = None) -> None:
        self.verbosity = verbosity
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = verbosity >= 0 and _isatty(self.stream)
        self._status_shown = False
        self._status_at = 0.0

    @classmethod
    def from_flags(cls, quiet: bool, verbose: int) -> Console:
        """The console every subcommand's ``-q``/``-v`` ask for (``-q`` wins)."""
        return cls(-1 if quiet else verbose)

    def _line(self, text: str) -> None:
        self.clear_status()
        click.echo(text, file=self.stream)

    def error(self, text: str) -> None:
        """Always shown."""
        self._line(f"Error: {text}")

    def warn(self, text: str) -> None:
        """Shown unless ``-q``."""
        if self.verbosity >= 0:
            self._line(f"Warning: {text}")

    def say(self, text: str) -> None:
        """Shown unless ``-q``, as it is (no "Warning:"): what a service says at start."""
        if self.verbosity >= 0:
            self._line(text)

    def info(self, text: str) -> None:
        """Shown with ``-v``."""
        if self.verbosity >= 1:
            self._line(text)

    def done(self, text: str) -> None:
        """What a command produced that is not on the network (a capture file): shown at
        a terminal, where the person who ran it looks for it, and with ``-v``."""
        if self.interactive or self.verbosity >= 1:
            self._line(text)

    def status(self, text: str) -> None:
        """Redraw the one-line status, at most every ``STATUS_PERIOD_S`` (terminals only)."""
        if not self.interactive:
            return
        now = time.monotonic()
        if now - self._status_at < self.STATUS_PERIOD_S:
            return
        self._status_at = now
        self.stream.write(f"\r\x1b[2K{text}")
        self.stream.flush()
        self._status_shown = True

    def clear_status(self) -> None:
        """Erase the status line so that the next message starts on a clean line."""
        if self._status_shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._status_shown = False


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
