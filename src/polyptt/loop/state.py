"""What ``polyptt loop`` is doing and may do: a state machine with the clock as argument.

It owns the walkie-talkie's rules and nothing else (no socket, device, terminal or
clock), so every rule is tested by feeding it events with made-up times:

- Half duplex: while we transmit, incoming pages are not played (`plays_incoming`),
  unless ``--full-duplex``.
- Busy channel: talk is refused while a page from someone else is open on the talk
  channel, except on a priority or emergency channel (24/25, 49/50), as on the phones
  (`polyptt.receive.busy`, the rule the relay applies too). The "busy" notice goes
  when that page ends.
- Contention: a page from someone else that starts on the talk channel while we
  transmit takes it if its host serial is lower than ours (the phones' rule); we must
  then stop at once and send our end packets (`heard_started` says so).

Phases, as the panel shows them: idle, hearing (a page is open), alerting (the first
0.93 s of our page), talking, busy (talk was just refused and the holder still talks).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, replace

from polyptt.protocol import ALERT_COUNT, ALERT_INTERVAL_S, channel_priority
from polyptt.receive.busy import blocking_page, holding_page

__all__ = [
    "ALERTS_S",
    "HeardPage",
    "HoldDetector",
    "LoopState",
    "Phase",
    "TalkVerdict",
    "VoxGate",
]

#: How long our page's alerts last: the panel says "alerting" meanwhile.
ALERTS_S = ALERT_COUNT * ALERT_INTERVAL_S
#: How long the panel says "busy" after a refused talk (if the holder still talks).
BUSY_SHOWN_S = 3.0
#: How long a notice stays on the panel.
NOTICE_S = 8.0


class Phase(str, enum.Enum):
    """What the panel shows as the state."""

    IDLE = "idle"
    HEARING = "hearing"
    ALERTING = "alerting"
    TALKING = "talking"
    BUSY = "busy"


class TalkVerdict(str, enum.Enum):
    """What a talk key press asks the application to do."""

    START = "start"  # open a page now
    STOP = "stop"  # stop capturing: what was said is sent, then the ends
    REFUSED = "refused"  # the channel is busy: nothing is sent
    IGNORED = "ignored"  # nothing to do (a page still sending its last audio and ends)


@dataclass(frozen=True)
class HeardPage:
    """A page from someone else, as the panel lists it.

    Attributes
    ----------
    key : hashable
        The receiver's page key (source, serial, channel).
    caller_id : str
        What the sender calls itself.
    channel : int
        Its wire channel.
    serial : int
        Its host serial (the lower wins a contention).
    start : float
        When it started (its first packet: the alerts come first).
    end : float or None
        When it ended, None while it runs.
    duration_s : float or None
        Its audio's duration once it ended, as ``listen`` reports it
        (`polyptt.receive.session.Page.duration_s`): the alerts and end packets are
        not part of it.
    """

    key: Hashable
    caller_id: str
    channel: int
    serial: int
    start: float
    end: float | None = None
    duration_s: float | None = None


class LoopState:
    """The rules of the walkie-talkie, fed events with their time.

    Parameters
    ----------
    talk_channel : int
        The channel we talk on (1-50); `set_channel` changes it while not transmitting.
    serial : int
        Our host serial, for contention.
    full_duplex : bool
        Play incoming pages while we talk too.
    history : int
        How many ended pages `recent` keeps.

    Attributes
    ----------
    open_pages : dict
        Pages from others in progress, by key, in the order they started.
    recent : deque of HeardPage
        The last `history` pages heard, the newest first.
    notice : str or None
        The last thing the user must be told (a refusal, a lost contention); see `tell`
        and `notice_at`.
    talk_start : float or None
        When our page started (its first alert), None while we do not transmit.
    stopping : bool
        Our page is sending its last audio and end packets: talk keys wait for it.
    muted : bool
        The speaker is muted (``m``).
    """

    def __init__(
        self, talk_channel: int, serial: int, *, full_duplex: bool = False, history: int = 4
    ) -> None:
        channel_priority(talk_channel)  # validates 1-50
        self.talk_channel = talk_channel
        self.serial = serial
        self.full_duplex = full_duplex
        self.open_pages: dict[Hashable, HeardPage] = {}
        self.recent: deque[HeardPage] = deque(maxlen=history)
        self.notice: str | None = None
        self._notice_at = 0.0
        self.talk_start: float | None = None
        self.stopping = False
        self.muted = False
        self._refused_at: float | None = None
        self._busy_with: Hashable | None = None  # the page the busy notice names

    # ------------------------------------------------------------------ queries

    @property
    def transmitting(self) -> bool:
        """Our page is on the wire (alerts, audio or end packets)."""
        return self.talk_start is not None

    def phase(self, now: float) -> Phase:
        """The state the panel shows at `now`."""
        if self.talk_start is not None:
            return Phase.ALERTING if now - self.talk_start < ALERTS_S else Phase.TALKING
        if (
            self._refused_at is not None
            and now - self._refused_at < BUSY_SHOWN_S
            and self.holder() is not None
        ):
            return Phase.BUSY
        return Phase.HEARING if self.open_pages else Phase.IDLE

    def talk_seconds(self, now: float) -> float:
        """Seconds we have talked, after the alerts (0 while alerting or idle)."""
        if self.talk_start is None:
            return 0.0
        return max(0.0, now - self.talk_start - ALERTS_S)

    def holder(self) -> HeardPage | None:
        """The page from someone else that holds the talk channel, if any (the first)."""
        return holding_page(self.talk_channel, self.open_pages.values())

    def hearing(self) -> HeardPage | None:
        """The page the panel names as heard: the latest one open."""
        return next(reversed(self.open_pages.values()), None)

    def notice_at(self, now: float) -> str | None:
        """The notice to show at `now`: the last one, for `NOTICE_S` after it was told."""
        return self.notice if now - self._notice_at < NOTICE_S else None

    def plays_incoming(self) -> bool:
        """Whether incoming audio goes to the speaker now (half duplex, mute)."""
        return not self.muted and (self.full_duplex or self.talk_start is None)

    # ------------------------------------------------------------------ events

    def press_talk(self, now: float) -> TalkVerdict:
        """The talk key (Space, or VOX/hold starting): start, or stop if talking."""
        if self.talk_start is not None:
            return TalkVerdict.IGNORED if self.stopping else self.release_talk(now)
        holder = blocking_page(self.talk_channel, self.open_pages.values())
        if holder is not None:
            self._refused_at = now
            self.tell(f"busy: {holder.caller_id!r} holds ch {self.talk_channel}", now)
            self._busy_with = holder.key
            return TalkVerdict.REFUSED
        self.talk_start = now
        self.stopping = False
        self.notice = None
        return TalkVerdict.START

    def release_talk(self, now: float) -> TalkVerdict:
        """Stop talking (Space again, the key released in hold mode, VOX hang over)."""
        if self.talk_start is None or self.stopping:
            return TalkVerdict.IGNORED
        self.stopping = True
        return TalkVerdict.STOP

    def transmit_ended(self, now: float) -> None:
        """Our page's last end packet is out."""
        self.talk_start = None
        self.stopping = False

    def heard_started(self, page: HeardPage, now: float) -> bool:
        """A page from someone else started; True if it wins our talk channel from us.

        Then the application must stop our page at once (its end packets still go out).
        """
        self.open_pages[page.key] = page
        if (
            self.talk_start is not None
            and not self.stopping
            and page.channel == self.talk_channel
            and page.serial < self.serial
        ):
            self.stopping = True
            self.tell(
                f"lost ch {page.channel} to {page.caller_id!r} "
                f"(serial 0x{page.serial:08X} < ours); ended our page",
                now,
            )
            return True
        return False

    def heard_ended(self, key: Hashable, now: float, duration_s: float | None = None) -> None:
        """A page from someone else ended, with `duration_s` seconds of audio.

        A "busy" notice that names it goes: the channel is free.
        """
        page = self.open_pages.pop(key, None)
        if page is not None:
            self.recent.appendleft(replace(page, end=now, duration_s=duration_s))
        if key == self._busy_with:
            self.notice = None
            self._busy_with = None

    def tell(self, text: str, now: float) -> None:
        """Show `text` as the notice from `now` on."""
        self.notice = text
        self._notice_at = now
        self._busy_with = None

    def set_channel(self, channel: int, now: float) -> bool:
        """Talk on `channel` from now on; False (nothing changes) while transmitting.

        Raises
        ------
        ValueError
            If `channel` is outside 1-50.
        """
        channel_priority(channel)
        if self.talk_start is not None:
            self.tell("the channel changes after this page", now)
            return False
        self.talk_channel = channel
        self.notice = None
        return True

    def toggle_mute(self) -> bool:
        """Mute or unmute the speaker; whether it is muted now."""
        self.muted = not self.muted
        return self.muted


class HoldDetector:
    """Talk while Space is held, from the key repeat a terminal sends.

    Terminals send no key-up: a held key is one press, then (after the keyboard's repeat
    delay, typically 250-660 ms) a press every 30-40 ms. The key counts as released
    when no press came within `first_repeat_s` of the first one, or within
    `repeat_gap_s` of the last repeat.

    Parameters
    ----------
    first_repeat_s : float
        Longest wait for the first repeat.
    repeat_gap_s : float
        Longest gap between repeats.
    """

    def __init__(self, first_repeat_s: float = 0.8, repeat_gap_s: float = 0.2) -> None:
        self.first_repeat_s = first_repeat_s
        self.repeat_gap_s = repeat_gap_s
        self._last: float | None = None
        self._repeating = False

    @property
    def held(self) -> bool:
        """Whether the key is held now (as far as the presses tell)."""
        return self._last is not None

    @property
    def deadline(self) -> float | None:
        """When the key counts as released unless it repeats before; None if not held."""
        if self._last is None:
            return None
        return self._last + (self.repeat_gap_s if self._repeating else self.first_repeat_s)

    def press(self, now: float) -> bool:
        """A Space arrived; True if it is a new press (not a repeat)."""
        if self._last is None:
            self._last = now
            self._repeating = False
            return True
        self._repeating = True
        self._last = now
        return False

    def released(self, now: float) -> bool:
        """True once, when the key counts as released at `now`."""
        deadline = self.deadline
        if deadline is None or now < deadline:
            return False
        self._last = None
        self._repeating = False
        return True


class VoxGate:
    """Voice-operated talk (``--vox``): open while the microphone is loud, with hang time.

    The gate opens as soon as a level reaches `threshold_db` and closes once the levels
    have stayed below it for `hang_s`, so the pauses between words do not end the page.

    Parameters
    ----------
    threshold_db : float
        Level in dBFS that opens the gate.
    hang_s : float
        Quiet time before it closes.
    """

    def __init__(self, threshold_db: float, hang_s: float = 1.0) -> None:
        self.threshold_db = threshold_db
        self.hang_s = hang_s
        self.open = False
        self._loud_at = 0.0

    def update(self, level_db: float | None, now: float) -> bool:
        """Take the loudest level since the last update (None: none measured); whether
        the gate is open now."""
        if level_db is not None and level_db >= self.threshold_db:
            self.open = True
            self._loud_at = now
        elif self.open and now - self._loud_at >= self.hang_s:
            self.open = False
        return self.open
