"""Keys read from the terminal itself, one at a time, and the terminal put back after.

``polyptt loop`` reads its keys from its own standard input, so it works over SSH and
needs no keyboard hook. The terminal is put in cbreak mode (no line editing, no echo;
Ctrl-C still raises SIGINT) by :class:`RawTerminal`, whose exit restores the saved
settings exactly, whatever ends the program: ``q``, Ctrl-C, SIGTERM (the application
turns both signals into an orderly exit) or an exception.
"""

from __future__ import annotations

import os
import termios
import tty
from typing import Any, TextIO

__all__ = ["RawTerminal", "decode_keys"]

#: Bytes a terminal sends, by the names the application handles.
_NAMES = {
    b" ": "space",
    b"\r": "enter",
    b"\n": "enter",
    b"\x1b": "escape",
    b"\x7f": "backspace",
    b"\x08": "backspace",
}

_HIDE_CURSOR = "\x1b[?25l"
_SHOW_CURSOR = "\x1b[?25h"


def decode_keys(data: bytes) -> list[str]:
    """Key names in the bytes read from the terminal, in order.

    Printable characters are themselves, lowercased (``"q"``, ``"7"``); Space, Enter,
    Escape and Backspace are named; an escape sequence (an arrow key) is one
    ``"escape"`` and its other bytes are dropped, so arrows never act as letters.
    """
    keys: list[str] = []
    index = 0
    while index < len(data):
        byte = data[index : index + 1]
        index += 1
        if byte == b"\x1b" and data[index : index + 1] in (b"[", b"O"):
            index += 1
            while index < len(data) and not 0x40 <= data[index] <= 0x7E:
                index += 1
            index += 1  # the final byte
            keys.append("escape")
            continue
        name = _NAMES.get(byte)
        if name is None and 0x21 <= byte[0] <= 0x7E:
            name = byte.decode("ascii").lower()
        if name is not None:
            keys.append(name)
    return keys


class RawTerminal:
    """A context that puts a terminal in cbreak mode and restores it on exit.

    Parameters
    ----------
    fd : int
        The terminal's file descriptor (standard input).
    output : text stream, optional
        Where the cursor is hidden meanwhile (the panel's stream).

    Raises
    ------
    termios.error
        On entry, if `fd` is not a terminal.
    """

    def __init__(self, fd: int, output: TextIO | None = None) -> None:
        self.fd = fd
        self.output = output
        self._saved: list[Any] | None = None

    def __enter__(self) -> RawTerminal:
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd, termios.TCSANOW)
        if self.output is not None:
            self.output.write(_HIDE_CURSOR)
            self.output.flush()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.restore()

    def restore(self) -> None:
        """Put the saved settings back (idempotent)."""
        if self._saved is None:
            return
        saved, self._saved = self._saved, None
        termios.tcsetattr(self.fd, termios.TCSADRAIN, saved)
        if self.output is not None:
            try:
                self.output.write(_SHOW_CURSOR)
                self.output.flush()
            except (OSError, ValueError):  # the terminal is gone (SSH dropped)
                pass

    def read(self) -> bytes:
        """What the terminal has sent (call when readable: never blocks then)."""
        try:
            return os.read(self.fd, 256)
        except BlockingIOError:
            return b""
