"""``polyptt listen``: monitor pages, play them, record them and report them.

What listening does is `polyptt.receive.job` (or, with ``--relay``,
`polyptt.remote.listen`); this module reads the options and turns the job's outcome
into the exit status. The job is imported inside the command: ``polyptt --help`` stays
instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from polyptt.cli import options

__all__ = ["listen"]


@click.command(cls=options.OneLineCommand)
@options.option(
    "--channels",
    type=options.CHANNELS,
    default="all",
    help="Channels to listen to: a comma list of channels and ranges, e.g. 26-50,1,24 "
    "(page:N and ptt:N notations too).",
)
@options.iface_option
@options.option(
    "--from",
    "endpoints",
    type=options.ENDPOINT,
    multiple=True,
    envvar="POLYPTT_LISTEN_FROM",
    metavar="GROUP:PORT",
    help="Multicast group and port to join; repeat for several. Unicast to the port is "
    "accepted too.  [default: 224.0.1.116:5001]",
)
@options.option(
    "--play/--no-play",
    default=None,
    help="Play pages on the default output device, one at a time by the phones' priority "
    "rules; at --count or --timeout the last page still plays to its end (a signal stops "
    "it at once).  [default: on if an output device exists]",
)
@options.record_option(
    "Write every page to DIR: a WAV at the codec's rate and a JSON of its metadata."
)
@options.option(
    "--json",
    "as_json",
    is_flag=True,
    envvar="POLYPTT_LISTEN_JSON",
    help="JSON Lines on stdout: one object per page_start and page_end event.",
)
@options.option(
    "--pcap",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    metavar="FILE",
    help="Read pages from a capture (pcap or pcapng) instead of the network, as fast as "
    "possible, its timestamps standing in for the clock.",
)
@options.option(
    "--count", type=click.IntRange(min=1), metavar="N", help="Exit after N pages have ended."
)
@options.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Exit after SECONDS (pages still running end as interrupted).",
)
@options.option(
    "--page-timeout",
    type=click.FloatRange(min=0.05),
    default=1.0,
    metavar="SECONDS",
    help="Silence after which a page without end packets is over.",
)
@options.relay_option
@options.token_option
@options.console_options("Also report what was dropped (on stderr).")
def listen(**kwargs: Any) -> None:
    """Monitor pages: report, record and play them.

    Joins the paging group (224.0.1.116:5001 unless --from says otherwise), follows every
    page on the chosen channels, repairs lost packets from the redundancy the senders
    add, and prints one line when a page starts and one when it ends.

    Exit status: 0 done (--count, --timeout or end of --pcap), 1 network failure or a
    recording that could not be written, 2 bad usage (an unwritable --record DIR too),
    130/143 stopped by SIGINT/SIGTERM (recordings are finalized first).
    """
    ctx = click.get_current_context()
    console = options.console(kwargs)
    if kwargs["relay"] is not None:
        from polyptt.cli import remote

        remote.refuse_local_options(ctx, remote.LISTEN_LOCAL_ONLY)
        ctx.exit(remote.listen_via_relay(kwargs, console))
    del kwargs["relay"], kwargs["token"]
    from polyptt.receive import job

    try:
        with options.job_errors():
            status = job.run(job.ListenJob(**kwargs), console)
    except KeyboardInterrupt:  # before anything was listened to: nothing to finalize
        status = 130
    ctx.exit(status)
