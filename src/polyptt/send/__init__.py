"""Sending pages: a schedule that does no I/O, pacers that put it on the wire.

The data path is source -> schedule -> pacer -> sink: ``send``, ``loop`` and the relay
differ only in the source (a file, a microphone, a pipe, a browser) and the pacer
(blocking, asyncio on the loop's timers, or asyncio from one real-time thread).

Map by purpose
--------------
A page as datagrams with due times, no I/O
    :class:`~polyptt.send.schedule.Schedule`, :class:`~polyptt.send.schedule.PageParams`,
    :func:`~polyptt.send.schedule.page_length`
Frames, asked for when due
    :class:`~polyptt.send.source.FrameSource`, :class:`~polyptt.send.source.IterableFrames`
Send a page
    :func:`~polyptt.send.pacing.send_page` (blocking), :func:`~polyptt.send.pacing.send_page_async`
    (asyncio), :class:`~polyptt.send.pacer_thread.PacerThread` (asyncio, many pages from
    one real-time thread: the relay), :class:`~polyptt.send.pacing.PageReport`
The time they keep
    :class:`~polyptt.send.clock.Clock`, :data:`~polyptt.send.clock.MONOTONIC`
What ``polyptt send`` does, callable without the command
    :class:`~polyptt.send.job.SendJob`, :func:`~polyptt.send.job.run` (sink choice, the
    JSON summary)
"""

from polyptt.send.clock import MONOTONIC, Clock
from polyptt.send.pacer_thread import PacerThread
from polyptt.send.pacing import PageReport, PageRun, Sink, send_page, send_page_async
from polyptt.send.schedule import PageParams, Phase, Schedule, page_length, transmit_offset
from polyptt.send.source import END_OF_AUDIO, FrameSource, IterableFrames

__all__ = [
    "END_OF_AUDIO",
    "MONOTONIC",
    "Clock",
    "FrameSource",
    "IterableFrames",
    "PacerThread",
    "PageParams",
    "PageReport",
    "PageRun",
    "Phase",
    "Schedule",
    "Sink",
    "page_length",
    "send_page",
    "send_page_async",
    "transmit_offset",
]
