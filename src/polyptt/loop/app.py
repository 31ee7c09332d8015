"""The walkie-talkie: one asyncio loop hears pages, reads keys, talks and draws the panel.

Everything runs in the event loop's thread: `polyptt.receive.inbound.serve_async` feeds
the receiver, the terminal is a reader on standard input, a talk is a
`polyptt.send.send_page_async` task whose source is a `polyptt.audio.live.Microphone`,
and a timer redraws the panel. The rules (half duplex, busy channel, contention) are
`polyptt.loop.state.LoopState`'s; this module only turns events into its calls and its
verdicts into actions.

A microphone is opened (not started) ahead of each talk, so that the key press only
starts capturing: the first alert goes out at once and everything said from the press
on is kept while the alerts last. Stopping a talk stops the capture; what was captured is
still sent, then the 12 end packets. A lost contention, ``q``, Ctrl-C, SIGTERM and SIGHUP
(the terminal or the SSH session went away) stop the page at once, with its end packets.

With ``--vox`` one capture (`polyptt.loop.vox.VoxInput`) runs for the whole session:
its level opens the gate at each panel tick and its audio carries the page.
"""

from __future__ import annotations

import asyncio
import math
import signal
import time
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from polyptt import codecs, protocol
from polyptt.audio.levels import level_db
from polyptt.audio.live import DeviceError, LiveFrames, Microphone
from polyptt.loop.keys import RawTerminal, decode_keys
from polyptt.loop.panel import PanelView, Screen, render
from polyptt.loop.state import HeardPage, HoldDetector, LoopState, TalkVerdict, VoxGate
from polyptt.loop.vox import VoxInput
from polyptt.receive.inbound import COALESCE_PLAYING_S, COALESCE_S, serve_async
from polyptt.receive.receiver import Receiver
from polyptt.receive.session import Page, Pcm
from polyptt.send import PageParams, PageReport, send_page_async
from polyptt.transport import NetworkError

__all__ = ["LoopApp", "TalkSettings"]

#: Panel redraws (and hold-key checks) per second while something moves, and when idle.
BUSY_REDRAW_S = 0.05
IDLE_REDRAW_S = 0.2
#: Exit status after ``q``; a signal gives 128 + its number.
EXIT_OK = 0
#: The signals that end the run in order: Ctrl-C, ``kill``/systemd, a closed terminal.
QUIT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: Quiet time after the last page heard before the output stream is closed (it costs a
#: few percent of a core open; the next page opens it again).
RELEASE_SPEAKER_S = 2.0


class TalkSource(Protocol):
    """What a talk is captured from: a `Microphone`, or a VOX talk (`polyptt.loop.vox`)."""

    frames: LiveFrames

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class TalkSettings:
    """How our pages are sent (the ``send`` options ``loop`` shares)."""

    codec: str
    frame_ms: int
    caller_id: str
    serial: int
    max_talk_s: float

    @property
    def max_frames(self) -> int:
        return max(1, math.ceil(self.max_talk_s * 1000 / self.frame_ms))

    def page(self, channel: int) -> PageParams:
        """Our page on `channel`, as the pacer takes it."""
        codec = codecs.wire_id(self.codec)
        return PageParams(
            channel, self.serial, self.caller_id, codec, self.frame_ms, None, self.max_frames
        )


class _Listened(Container[int]):
    """The receiver's channels: those asked for, and always the one we talk on."""

    def __init__(self, channels: Container[int] | None, state: LoopState) -> None:
        self._channels = channels
        self._state = state

    def __contains__(self, channel: object) -> bool:
        return (
            self._channels is None
            or channel in self._channels
            or channel == self._state.talk_channel
        )


class LoopApp:
    """The running walkie-talkie; `run` until quit.

    Parameters
    ----------
    state : LoopState
        The rules, with the talk channel and our serial.
    talk : TalkSettings
        How pages are sent.
    sink : Sink
        Where our pages go (a `polyptt.transport.UdpSink`).
    sockets : sequence of socket.socket
        Where pages are heard (`polyptt.receive.inbound.open_sockets`).
    terminal : RawTerminal
        The keys (entered by the caller, who restores it).
    screen : Screen
        Where the panel is drawn.
    open_microphone : callable
        ``monitor -> Microphone`` (opened, not started).
    player : Player, optional
        Plays the pages heard (None: not playing).
    recorder : listener, optional
        Gets every page heard, while talking too.
    channels : container of int, optional
        The channels listened to (all by default); the talk channel always is.
    hold : bool
        Talk while Space is held, instead of Space toggling.
    vox : VoxGate, optional
        Talk while the microphone is loud (Space still works too).
    vox_input : VoxInput, optional
        The capture VOX measures and talks with (needed with `vox`; started by `run`).
    """

    def __init__(
        self,
        *,
        state: LoopState,
        talk: TalkSettings,
        sink: Any,
        sockets: Sequence[Any],
        terminal: RawTerminal,
        screen: Screen,
        open_microphone: Callable[[Callable[[Pcm], None]], Microphone],
        player: Any = None,
        recorder: Any = None,
        channels: Container[int] | None = None,
        hold: bool = False,
        vox: VoxGate | None = None,
        vox_input: VoxInput | None = None,
    ) -> None:
        self.state = state
        self.talk = talk
        self.sink = sink
        self.sockets = sockets
        self.terminal = terminal
        self.screen = screen
        self.player = player
        self.hold = HoldDetector() if hold else None
        self.reports: list[PageReport] = []
        self._open_microphone = open_microphone
        listeners: list[Any] = [self]
        if recorder is not None:
            listeners.append(recorder)
        self.receiver = Receiver(listeners, channels=_Listened(channels, state))
        address, port = sink.source
        self._sender = (talk.serial, address, port)  # our pages, heard back
        self._level: float | None = None
        self._entry: str | None = None
        self._microphone: Microphone | None = None  # opened ahead of the next talk
        self._talking: TalkSource | None = None
        self._stop_page: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._quit: asyncio.Event | None = None
        self._status = EXIT_OK
        self._redraw: asyncio.TimerHandle | None = None
        self.vox = vox
        self.vox_input = vox_input
        self._vox_talk = False  # the page in progress was opened by VOX
        self._last_heard = 0.0  # when the last page heard ended

    # ------------------------------------------------------------------ running

    async def run(self) -> int:
        """Hear, talk and draw until ``q`` or a signal (`QUIT_SIGNALS`); the exit status."""
        loop = asyncio.get_running_loop()
        self._quit = asyncio.Event()
        stop_serving = asyncio.Event()
        self._prepare_microphone()
        if self.vox_input is not None:
            self.vox_input.start()
        for signum in QUIT_SIGNALS:
            loop.add_signal_handler(signum, self.quit, 128 + signum)
        loop.add_reader(self.terminal.fd, self._on_terminal)
        coalesce = COALESCE_PLAYING_S if self.player is not None else COALESCE_S
        serving = asyncio.create_task(
            serve_async(self.sockets, self.receiver, stop=stop_serving, coalesce_s=coalesce)
        )
        self._draw()
        try:
            quitting = asyncio.create_task(self._quit.wait())
            await asyncio.wait((quitting, serving), return_when=asyncio.FIRST_COMPLETED)
            quitting.cancel()
            self._end_talk(at_once=True)
            if self._task is not None:
                await asyncio.shield(self._task)
        finally:
            loop.remove_reader(self.terminal.fd)
            for signum in QUIT_SIGNALS:
                loop.remove_signal_handler(signum)
            if self._redraw is not None:
                self._redraw.cancel()
            stop_serving.set()
            await serving  # raises what a listener raised
            self.receiver.close(time.time())
            if self._microphone is not None:
                self._microphone.close()
            if self.vox_input is not None:
                self.vox_input.close()
            self._draw()
        return self._status

    def quit(self, status: int = EXIT_OK) -> None:
        """End the run (a page in progress ends with its end packets first)."""
        if self._quit is not None and not self._quit.is_set():
            self._status = status
            self._quit.set()

    # ------------------------------------------------------------------ keys

    def _on_terminal(self) -> None:
        data = self.terminal.read()
        if not data:  # the terminal hung up
            self.quit(EXIT_OK)
            return
        for key in decode_keys(data):
            self.key(key, time.time())
        self._draw()

    def key(self, key: str, now: float) -> None:
        """Act on one key (see `polyptt.loop.keys.decode_keys` for the names)."""
        if key == "space":
            if self.hold is None or self.hold.press(now):
                self._act(self.state.press_talk(now))
        elif key == "q":
            self.quit(EXIT_OK)
        elif key == "m":
            self.state.toggle_mute()
        elif key == "c":
            self.state.set_channel(self.state.talk_channel % protocol.CHANNEL_MAX + 1, now)
        elif key.isdigit():
            self._entry = (self._entry or "") + key
            if len(self._entry) == 2:
                self._choose_channel(now)
        elif key == "enter" and self._entry:
            self._choose_channel(now)
        elif key in ("escape", "backspace"):
            self._entry = None

    def _choose_channel(self, now: float) -> None:
        assert self._entry is not None
        number, self._entry = int(self._entry), None
        if protocol.CHANNEL_MIN <= number <= protocol.CHANNEL_MAX:
            self.state.set_channel(number, now)
        else:
            self.state.tell(f"no channel {number}: channels are 1-50", now)

    def _act(self, verdict: TalkVerdict) -> None:
        if verdict is TalkVerdict.START:
            self._start_talk()
        elif verdict is TalkVerdict.STOP:
            self._end_talk(at_once=False)

    # ------------------------------------------------------------------ talking

    def _prepare_microphone(self) -> None:
        if self._microphone is not None:
            return
        try:
            self._microphone = self._open_microphone(self._on_microphone)
        except DeviceError as exc:
            self.state.tell(f"microphone: {exc}", time.time())

    def _on_microphone(self, pcm: Pcm) -> None:  # PortAudio's thread: one float store
        self._level = level_db(pcm)

    def _follow_vox(self, now: float) -> None:
        """Open or close a talk as the VOX gate says (at each panel tick)."""
        assert self.vox is not None
        assert self.vox_input is not None
        loud = self.vox.update(self.vox_input.take_peak(), now)
        if loud and not self.state.transmitting:
            if self.state.press_talk(now) is TalkVerdict.START:
                self._vox_talk = True
                self._start_talk(self.vox_input.talk())
        elif not loud and self._vox_talk and self.state.transmitting:
            self._vox_talk = False
            self._act(self.state.release_talk(now))

    def _start_talk(self, source: TalkSource | None = None) -> None:
        """Open a page from `source` (a VOX talk) or from the microphone opened ahead."""
        if source is None:
            self._prepare_microphone()
            source, self._microphone = self._microphone, None
        microphone = source
        if microphone is None:  # the notice says why
            self.state.transmit_ended(time.time())
            return
        if self.player is not None and not self.state.plays_incoming():
            queue = self.player.queue
            if queue is not None:
                queue.clear()  # half duplex: what was about to play goes
        self._talking = microphone
        self._stop_page = asyncio.Event()
        self._level = None
        loop = asyncio.get_running_loop()
        channel = self.state.talk_channel
        # only this page is ours: other polyptt processes here page under our serial
        # from our address and port too, and are heard (polyptt.receive.receiver)
        self.receiver.ignore(*self._sender, channel)
        self._task = loop.create_task(self._transmit(microphone, self._stop_page, channel))
        # after the task's first step: the first alert goes out before the device starts
        loop.call_soon(self._start_capture, microphone)

    def _start_capture(self, microphone: TalkSource) -> None:
        try:
            microphone.start()
        except Exception as exc:  # PortAudio refused: the page ends with no audio
            self.state.tell(f"microphone: {exc}", time.time())
            self._end_talk(at_once=True)

    async def _transmit(self, microphone: TalkSource, stop: asyncio.Event, channel: int) -> None:
        talk = self.talk
        report = PageReport()
        try:
            await send_page_async(
                microphone.frames,
                talk.page(channel),
                sink=self.sink,
                stop=stop,
                report=report,
            )
        except NetworkError as exc:
            self.state.tell(f"network: {exc}", time.time())
        finally:
            self.receiver.unignore(*self._sender, channel)  # its end packets are out
            microphone.close()
            self.reports.append(report)
            self._talking = self._stop_page = self._task = None
            self._vox_talk = False
            self.state.transmit_ended(time.time())
            if report.transmits >= talk.max_frames:
                self.state.tell(f"talk limit reached ({talk.max_talk_s:g} s)", time.time())
            self._level = None
            if not (self._quit is not None and self._quit.is_set()):
                self._prepare_microphone()
            self._draw()

    def _end_talk(self, *, at_once: bool) -> None:
        """Stop capturing; with `at_once`, also drop what was captured and not yet sent."""
        if self._talking is not None:
            self._talking.stop()
        if at_once and self._stop_page is not None:
            self._stop_page.set()

    # ------------------------------------------------------------------ pages heard

    def page_started(self, page: Page) -> None:
        heard = HeardPage(page.key, page.caller_id, page.channel, page.serial, page.start)
        if self.state.heard_started(heard, page.start):
            self._end_talk(at_once=True)
        if self.player is not None:
            self.player.page_started(page)

    def page_audio(self, page: Page, pcm: Pcm, now: float) -> None:
        if self.player is not None and self.state.plays_incoming():
            if self.player.arbiter.plays(page.key):
                self._level = level_db(pcm)
            self.player.page_audio(page, pcm, now)

    def page_ended(self, page: Page) -> None:
        self._last_heard = time.time()
        self.state.heard_ended(page.key, page.end or self._last_heard, page.duration_s)
        if self.player is not None:
            self.player.page_ended(page)
        if not self.state.open_pages and not self.state.transmitting:
            self._level = None

    # ------------------------------------------------------------------ panel

    def view(self, now: float) -> PanelView:
        """What the panel shows at `now`."""
        state = self.state
        return PanelView(
            talk_channel=state.talk_channel,
            codec=self.talk.codec,
            caller_id=self.talk.caller_id,
            phase=state.phase(now),
            hold=self.hold is not None,
            vox_db=None if self.vox is None else self.vox.threshold_db,
            muted=state.muted,
            heard=state.hearing(),
            holder=state.holder(),
            talk_s=state.talk_seconds(now),
            level_db=(
                self.vox_input.level
                if self.vox_input is not None and state.transmitting
                else self._level
            ),
            notice=state.notice_at(now),
            entry=self._entry,
            recent=tuple(state.recent),
        )

    def _draw(self) -> None:
        now = time.time()
        hold = self.hold
        if hold is not None and hold.released(now):
            self._act(self.state.release_talk(now))
        if self.vox is not None and not (self._quit is not None and self._quit.is_set()):
            self._follow_vox(now)
        if (
            self.player is not None
            and not self.state.open_pages
            and now - self._last_heard >= RELEASE_SPEAKER_S
        ):
            self.player.release_idle()
        self.screen.draw(render(self.view(now)))
        if self._redraw is not None:
            self._redraw.cancel()
        moving = (
            self.state.transmitting
            or self.state.open_pages
            or (hold and hold.held)
            or self.vox is not None
        )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if (self._quit is not None and not self._quit.is_set()) or self._task is not None:
            self._redraw = loop.call_later(BUSY_REDRAW_S if moving else IDLE_REDRAW_S, self._draw)
