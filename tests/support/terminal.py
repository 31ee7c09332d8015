"""``polyptt loop`` driven through a real pseudo-terminal, as a person at a terminal would.

An interactive bash (job control on, no line editing) runs in a pty made by pexpect and
types one line: ``stty -a`` into a file, the loop, its exit status, ``stty -a`` again.
The loop is then the terminal's foreground job: keys sent to the pty reach it, Ctrl-C is
the terminal's SIGINT to it alone, and the two ``stty -a`` files show whether it left the
terminal as it found it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
from pathlib import Path

import pexpect
from tests.support.processes import polyptt_command, polyptt_env

from polyptt.protocol import DEFAULT_GROUP

LOOP_SERIAL = 0x9000
LOOP_CALLER = "looper"


class LoopTerminal:
    """One ``polyptt loop`` in its own pseudo-terminal.

    Parameters
    ----------
    folder : Path
        Where the ``stty -a`` files go.
    port : int
        The paging port (the default group), for the loop's --to.
    args : str
        More options for the loop.
    serial : int or None
        Its ``--serial`` (None: this host's serial, as without the option).
    """

    def __init__(
        self, folder: Path, port: int, *args: str, serial: int | None = LOOP_SERIAL
    ) -> None:
        self.folder = folder
        self.before = folder / "stty-before.txt"
        self.after = folder / "stty-after.txt"
        env = {**polyptt_env(), "PS1": "$ ", "TERM": "xterm"}
        self.shell = pexpect.spawn(
            "bash",
            ["--norc", "--noprofile", "--noediting", "-i"],
            env=env,
            encoding="utf-8",
            dimensions=(40, 80),
            timeout=20,
        )
        self.shell.logfile_read = (folder / "terminal.log").open("w")
        command = polyptt_command(
            "loop",
            "--to",
            f"{DEFAULT_GROUP}:{port}",
            *(["--serial", hex(serial)] if serial is not None else []),
            "--caller-id",
            LOOP_CALLER,
            *args,
        )
        line = (
            f"stty -a > {self.before}; {shlex.join(command)}; echo loop-exit=$?; "
            f"stty -a > {self.after}; echo all-done"
        )
        self.shell.sendline(line)
        self.expect("state: idle")

    def expect(self, pattern: str, timeout: float = 20) -> str:
        """Wait for `pattern` (a regular expression) in what the terminal shows."""
        self.shell.expect(pattern, timeout=timeout)
        return str(self.shell.after)

    def press(self, keys: str) -> None:
        """Type `keys`."""
        self.shell.send(keys)

    @property
    def loop_pid(self) -> int:
        """The loop's process id: the shell's only child while it runs."""
        children = Path(f"/proc/{self.shell.pid}/task/{self.shell.pid}/children").read_text()
        (pid,) = children.split()
        return int(pid)

    def signal(self, signum: int = signal.SIGTERM) -> None:
        """Send `signum` to the loop (by its pid)."""
        os.kill(self.loop_pid, signum)

    def finish(self, timeout: float = 20) -> int:
        """Wait for the loop to exit; its exit status."""
        self.shell.expect(r"loop-exit=(\d+)", timeout=timeout)
        status = int(self.shell.match.group(1))
        self.shell.expect("all-done", timeout=timeout)
        self.close()
        return status

    def terminal_restored(self) -> bool:
        """Whether ``stty -a`` after the loop equals ``stty -a`` before it."""
        return self.before.read_text() == self.after.read_text()

    def close(self) -> None:
        """End the shell (and the loop, by SIGTERM, if a failed test left it running)."""
        if self.shell.closed:
            return
        if self.shell.isalive():
            with contextlib.suppress(OSError, ValueError):  # no loop running
                self.signal(signal.SIGTERM)
            self.shell.sendline("exit")
            try:
                self.shell.expect(pexpect.EOF, timeout=10)
            except pexpect.TIMEOUT:
                self.shell.terminate(force=True)
        self.shell.close()
        self.shell.logfile_read.close()

    def panel(self) -> str:
        """The panel as last drawn, escape sequences removed (call it once the drawing's
        last line, the keys, was expected)."""
        screen = self.screen()
        return screen[screen.rindex("polyptt loop  talk ch") :]

    def screen(self) -> str:
        """Everything the terminal showed so far, escape sequences removed."""
        text = (self.folder / "terminal.log").read_text()
        return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
