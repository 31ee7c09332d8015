"""The relay's own pages: one talker per channel, all paced by one real-time thread.

A :class:`Talk` is a page in progress, from an uploaded file or a live WebSocket
stream. Whatever ends it (its audio ends, a stop message, its client goes away, a limit,
its token revoked, the relay shutting down), the pacer
(`polyptt.send.pacer_thread.PacerThread`) sends the 12 end packets; the audit log and
the hub are told once it is over. The hub also gets its audio as it goes out
(`polyptt.relay.echo`), for the listeners of its channel.

A channel is busy while one of the relay's pages or a page heard on the LAN is on it
(`polyptt.receive.busy`, the rule ``polyptt loop`` applies too): a new page there is
refused with `Busy`, which names who has the channel. While a page goes out to the
group, the receiver ignores this serial on its channel, and only there: another polyptt
on this host pages under the same serial, and its pages are heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from polyptt.audio.live import LiveFrames
from polyptt.protocol import ALERT_COUNT, ALERT_INTERVAL_S
from polyptt.receive.busy import blocking_page
from polyptt.receive.receiver import Receiver
from polyptt.relay.audit import AuditLog
from polyptt.relay.auth import Grant
from polyptt.relay.connections import Connection
from polyptt.relay.echo import EchoSink
from polyptt.relay.hub import Hub
from polyptt.send import MONOTONIC, Clock, PacerThread, PageParams, PageReport
from polyptt.send.pacing import Sink
from polyptt.send.source import FrameSource

__all__ = ["Busy", "LiveLimits", "Talk", "Talks"]

#: When a page's audio begins, after the start of its alerts.
ALERTS_S = ALERT_COUNT * ALERT_INTERVAL_S
#: A live page is cut this long after ``max_page_s`` of audio would have gone out: a
#: talker in real time meets the frame limit (exactly ``max_page_s`` of audio) first.
WALL_GRACE_S = 0.2
#: How long after its end packets went out the receiver still ignores a page of ours:
#: the datagrams may still wait in the receive socket when the pacer returns (all of
#: them, on a clock that does not wait), and they must not come back as a heard page.
HEAR_AGAIN_S = 0.5


@dataclass(frozen=True)
class LiveLimits:
    """The clocks that end a live page whatever its talker does (or fails to do).

    Attributes
    ----------
    max_s : float
        ``max_page_s``: the page ends this long after its audio began, in wall-clock
        time, however little audio came (frames are counted too, `Talk.max_frames`).
    silence_s : float
        ``talk_silence_s``: the page ends when no audio message came for this long
        (not after ``stop``: what was said then still goes out).
    """

    max_s: float
    silence_s: float


class Busy(Exception):
    """The channel carries a page already: one of the relay's, or one heard on the LAN.

    Attributes
    ----------
    channel : int or None
        The channel asked for (None: the relay is shutting down).
    caller_id : str or None
        Who has it: the talker's token name, or the caller id of the page heard (its
        serial if it has none).
    """

    def __init__(self, message: str, channel: int | None = None, caller_id: str | None = None):
        super().__init__(message)
        self.channel = channel
        self.caller_id = caller_id


@dataclass(eq=False)  # hashed by identity: the hub follows the page by its Talk
class Talk:
    """A page the relay is sending.

    Attributes
    ----------
    params : PageParams
        The page, as the pacer sends it (channel, the token's name as caller id, codec,
        frame length, frame limit).
    reason : str or None
        Why it was ended early (``stop``, ``disconnect``, ``limit``, ``silence``,
        ``revoked``, ``shutdown``), None while it runs or if its audio ran out.
    """

    page_id: int
    grant: Grant
    params: PageParams
    via: str
    remote: str
    target: str | None
    live: LiveFrames | None
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    report: PageReport = field(default_factory=PageReport)
    reason: str | None = None
    started: float = field(default_factory=time.monotonic)
    task: asyncio.Task[PageReport] | None = None
    digest: str = ""
    heard: float = field(default_factory=time.monotonic)
    watcher: asyncio.Task[None] | None = None

    def heard_audio(self) -> None:
        """A talker's audio came now (resets the `LiveLimits.silence_s` clock)."""
        self.heard = time.monotonic()

    @property
    def channel(self) -> int:
        return self.params.channel

    @property
    def codec(self) -> str:
        """The codec's name (``g722``)."""
        return self.params.codec.codec_name

    @property
    def frame_ms(self) -> int:
        return self.params.frame_ms

    @property
    def max_frames(self) -> int | None:
        return self.params.max_frames

    def end(self, reason: str) -> None:
        """End the page: ``stop`` sends what was already said first, others end now."""
        if self.reason is None:
            self.reason = reason
        if reason == "stop" and self.live is not None:
            self.live.close()
        else:
            self.stop_event.set()
            if self.live is not None:
                self.live.close()

    @property
    def outcome(self) -> str:
        if self.reason is not None:
            return self.reason
        if self.max_frames is not None and self.report.transmits >= self.max_frames:
            return "limit"
        return "completed"

    async def wait(self) -> PageReport:
        assert self.task is not None
        return await asyncio.shield(self.task)


class Talks:
    """The pages in progress, by channel.

    Parameters
    ----------
    sink_for : callable
        Target name or None -> the sink a page goes to (may raise
        `polyptt.transport.NetworkError`).
    serial : int
        The relay's host serial, in every page it sends.
    hub, audit : Hub, AuditLog
        Told when each page starts and ends; the hub also knows the pages heard.
    clock : Clock
        What the pacing thread keeps the pages on (tests pass one that only waiting
        moves).

    Attributes
    ----------
    receiver : Receiver or None
        The relay's receiver, once it listens: told to ignore each page to the group
        while it goes out.
    """

    def __init__(
        self,
        sink_for: Callable[[str | None], Sink],
        serial: int,
        hub: Hub,
        audit: AuditLog,
        clock: Clock = MONOTONIC,
    ) -> None:
        self.sink_for = sink_for
        self.serial = serial
        self.hub = hub
        self.audit = audit
        self.by_channel: dict[int, Talk] = {}
        self.closing = False
        self.receiver: Receiver | None = None
        #: Paces every page from one real-time thread: the loop's timers are only as
        #: punctual as the loop is idle, and it serves every client too.
        self.pacer = PacerThread(clock=clock)

    def check_free(self, channel: int) -> None:
        """Raise `Busy` if `channel` has a talker or a page heard on the LAN that a new
        page may not talk over (or the relay is shutting down)."""
        if self.closing:
            raise Busy("the relay is shutting down")
        if channel in self.by_channel:
            talker = self.by_channel[channel].grant.name
            raise Busy(f"channel {channel} is busy ({talker} is talking)", channel, talker)
        heard = blocking_page(channel, self.hub.heard_pages())
        if heard is not None:
            caller = heard.caller_id or f"serial 0x{heard.serial:08X}"
            raise Busy(f"channel {channel} is busy ({caller} is talking)", channel, caller)

    def start(
        self,
        frames: Iterable[bytes] | LiveFrames | FrameSource,
        *,
        grant: Grant,
        digest: str,
        channel: int,
        codec: str,
        frame_ms: int,
        via: str,
        remote: str,
        target: str | None = None,
        max_frames: int | None = None,
        talker: Connection | None = None,
        live_limits: LiveLimits | None = None,
        sink: Sink | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Talk:
        """Start a page now; raises `Busy`, or NetworkError if the target's sink fails.

        `talker` is the WebSocket whose live audio it is: its listeners hear the page,
        it does not hear itself. A live page with `live_limits` is ended by them.
        `sink` replaces the target's (a page to other sites: `polyptt.relay.sites`);
        `extra` fields go into its record.
        """
        from polyptt.codecs import wire_id

        self.check_free(channel)
        sink = sink if sink is not None else self.sink_for(target)
        live = frames if isinstance(frames, LiveFrames) else None
        params = PageParams(
            channel, self.serial, grant.name, wire_id(codec), frame_ms, None, max_frames
        )
        talk = Talk(0, grant, params, via, remote, target, live)
        talk.digest = digest
        fields = {
            "channel": channel,
            "caller_id": grant.name,
            "codec": codec,
            "frame_ms": frame_ms,
            "serial": self.serial,
            "source": "relay",
            "target": target,
            "via": via,
            **(extra or {}),
        }
        talk.page_id = page_id = self.hub.started(talk, "sent", fields, talker=talker)
        self.by_channel[channel] = talk
        self.audit.log(
            "page_start",
            who=grant.name,
            channel=channel,
            target=target,
            codec=codec,
            via=via,
            remote=remote,
            page=page_id,
        )
        if target is None:
            self._own_page(talk.channel, sink, ignore=True)
        talk.task = asyncio.create_task(self._run(talk, frames, sink))
        if live is not None and live_limits is not None:
            talk.watcher = asyncio.create_task(self._watch(talk, live_limits))
        return talk

    async def _watch(self, talk: Talk, limits: LiveLimits) -> None:
        """End `talk` when its wall-clock limit or its talker's silence runs out."""
        deadline = talk.started + ALERTS_S + limits.max_s + WALL_GRACE_S
        while True:
            quiet_until = talk.heard + limits.silence_s
            if talk.live is not None and talk.live.closed:
                quiet_until = math.inf  # stopped: what was said goes out, then the ends
            now = time.monotonic()
            if now >= deadline:
                self._cut(talk, "limit", "max_page_s", limits.max_s)
                return
            if now >= quiet_until:
                self._cut(talk, "silence", "talk_silence_s", limits.silence_s)
                return
            await asyncio.sleep(min(deadline, quiet_until) - now)

    def _cut(self, talk: Talk, reason: str, key: str, seconds: float) -> None:
        """End `talk` for `reason`, and say which limit (`key` = `seconds`) in the audit."""
        self.audit.log(
            "talk_cut",
            who=talk.grant.name,
            channel=talk.channel,
            page=talk.page_id,
            reason=reason,
            limit=key,
            limit_s=seconds,
            after_s=round(time.monotonic() - talk.started, 3),
            remote=talk.remote,
        )
        talk.end(reason)

    def _own_page(self, channel: int, sink: Sink, *, ignore: bool) -> None:
        """Have the receiver ignore our page on `channel` (heard back), or hear it again."""
        if self.receiver is None:
            return
        address, port = getattr(sink, "source", (None, None))
        change = self.receiver.ignore if ignore else self.receiver.unignore
        change(self.serial, address, port, channel)

    def _hear_again(self, channel: int, sink: Sink) -> None:
        """Hear `channel` again (`HEAR_AGAIN_S` after our page on it ended), unless a
        new group page of ours has it now (it ignores the same sender)."""
        current = self.by_channel.get(channel)
        if current is None or current.target is not None:
            self._own_page(channel, sink, ignore=False)

    async def shutdown(self) -> None:
        """End every page (reason ``shutdown``) and wait for their end packets."""
        self.closing = True
        talks = list(self.by_channel.values())
        for talk in talks:
            talk.end("shutdown")
        await asyncio.gather(*(t.task for t in talks if t.task), return_exceptions=True)
        await asyncio.to_thread(self.pacer.close)

    async def _run(self, talk: Talk, frames: Any, sink: Sink) -> PageReport:
        from polyptt.codecs import info

        error: str | None = None
        loop = asyncio.get_running_loop()

        def deliver(pcm: Any) -> None:
            # the pacing thread sends: the hub (the loop's) gets the audio on the loop,
            # in order, and before the page's end (queued after it)
            loop.call_soon_threadsafe(self.hub.audio, talk, pcm, echo.rate)

        echo = EchoSink(sink, talk.codec, info(talk.codec).frame_bytes(talk.frame_ms), deliver)
        try:
            await self.pacer.send_page(
                frames, talk.params, sink=echo, stop=talk.stop_event, report=talk.report
            )
        except Exception as exc:  # the ends were still sent (see PacerThread.send_page)
            error = str(exc)
            talk.reason = talk.reason or "error"
        finally:
            if talk.watcher is not None:
                talk.watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await talk.watcher
            self.by_channel.pop(talk.channel, None)
            if talk.target is None:
                loop.call_later(HEAR_AGAIN_S, self._hear_again, talk.channel, sink)
            report = talk.report
            duration = round(report.transmits * talk.frame_ms / 1000, 3)
            self.hub.ended(
                talk,
                {
                    "duration_s": duration,
                    "frames": report.transmits,
                    "ends": report.ends,
                    "end_reason": talk.outcome,
                },
            )
            self.audit.log(
                "page_end",
                who=talk.grant.name,
                channel=talk.channel,
                target=talk.target,
                duration_s=duration,
                outcome=talk.outcome,
                ends=report.ends,
                error=error,
                via=talk.via,
                remote=talk.remote,
                page=talk.page_id,
            )
        return talk.report
