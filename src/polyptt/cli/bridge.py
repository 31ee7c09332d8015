"""``polyptt bridge``: carry RTP multicast pages to Poly phones and back (`polyptt.bridge`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from polyptt.cli import options

_OPTIONS: list[tuple[str, str, Any]] = [
    ("--rtp", "RTP multicast group and port (RTCP: PORT+1).", "GROUP:PORT"),
    ("--channel", "Poly channel: 1-50, page:N or ptt:N.", "N"),
    ("--direction", "What is carried.  [default: rtp-to-poly]", "rtp-to-poly|poly-to-rtp|both"),
    ("--rtp-codec", "RTP codec sent: pcmu, pcma, g722, l16.  [default: pcmu]", "NAME"),
    ("--rtp-ptime", "Milliseconds of audio per RTP packet sent.  [default: 20]", int),
    ("--codec", "Codec of the Poly pages.  [default: g722]", "g722|g711u|g726qi"),
    ("--idle-ms", "An RTP stream silent this long is over.  [default: 500]", int),
    ("--config", "Many mappings: a TOML file of [[bridge]] tables with these keys.", Path),
]


def _bridge_options(command: Any) -> Any:
    for flag, text, kind in reversed(_OPTIONS):
        typed = {"metavar": kind} if isinstance(kind, str) else {"type": kind}
        command = options.option(flag, help=text, **typed)(command)
    return command


@click.command(cls=options.OneLineCommand)
@_bridge_options
@options.sender_options
@options.console_options("Say more (-v).")
def bridge(**values: Any) -> None:
    """Bridge RTP multicast paging (Yealink, Grandstream, Cisco, Asterisk...) and Poly pages.

    Streams heard on the RTP group become Poly pages on the channel; with --direction
    poly-to-rtp or both, Poly pages heard on the channel become RTP streams. One JSON line
    per page on stdout; stops on SIGINT/SIGTERM with 128 + the signal.
    """
    from polyptt.bridge.job import job_from_options, run

    console = options.console(values)
    with options.job_errors():
        sys.exit(run(job_from_options(values), say=console.say))
