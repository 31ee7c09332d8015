"""The bridge job: what ``polyptt bridge`` does, for a program as much as for the command.

A `polyptt.bridge.config.BridgeJob` holds one or more mappings (an RTP group and port, a
Poly channel, a direction and the codecs on each side) and the Poly side's network
identity. :func:`run` serves all of them from one asyncio loop
(`polyptt.bridge.serve`) until SIGINT or SIGTERM:

- RTP to Poly (`polyptt.bridge.rtp_to_poly`): each mapping's RTP and RTCP ports are
  read on the loop; pages are paced by one real-time thread for every mapping.
- Poly to RTP (`polyptt.bridge.poly_to_rtp`): one receiver on the Poly group hears
  every mapped channel; its pages go out as RTP.

On a signal every page in progress ends at once with its end packets (RTP streams with
their BYE), and `run` returns 128 + the signal. Each stream or page that ends is one
JSON line on stdout (``{"event": "page_end", "direction": ...}``), the run's counters
one last line (``{"event": "stopped", ...}``)::

    from polyptt.bridge.config import job_from_options
    from polyptt.bridge.job import run

    job = job_from_options({"rtp": "239.1.2.3:5004", "channel": "26", ...})
    status = run(job)
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from polyptt.bridge.config import BridgeJob, job_from_options
from polyptt.bridge.serve import serve

__all__ = ["BridgeJob", "job_from_options", "run"]


def run(job: BridgeJob, *, out: TextIO | None = None, say: Callable[[str], None] = print) -> int:
    """Bridge until SIGINT or SIGTERM; 128 + that signal.

    Raises
    ------
    polyptt.transport.NetworkError
        A socket could not be opened (nothing was sent).
    BadInput
        A caller id that cannot be sent.
    """
    stream = out if out is not None else sys.stdout

    def emit(event: dict[str, Any]) -> None:
        stream.write(json.dumps(event) + "\n")
        stream.flush()

    return asyncio.run(serve(job, emit, say))
