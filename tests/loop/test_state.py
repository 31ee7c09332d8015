"""The walkie-talkie's rules, fed events with made-up times (no I/O, no clock)."""

from __future__ import annotations

import pytest

from polyptt.loop.state import (
    ALERTS_S,
    BUSY_SHOWN_S,
    NOTICE_S,
    HeardPage,
    HoldDetector,
    LoopState,
    Phase,
    TalkVerdict,
    VoxGate,
)

OURS = 0x5000


def page(serial: int = 0x7000, channel: int = 26, name: str = "alice", at: float = 0.0):
    return HeardPage(("10.0.0.9", 5001, serial, channel), name, channel, serial, at)


def test_space_starts_then_stops_and_phases_follow_the_clock() -> None:
    state = LoopState(26, OURS)
    assert state.phase(0.0) is Phase.IDLE
    assert state.press_talk(10.0) is TalkVerdict.START
    assert state.phase(10.0) is Phase.ALERTING
    assert state.phase(10.0 + ALERTS_S - 0.001) is Phase.ALERTING
    assert state.phase(10.0 + ALERTS_S + 1e-9) is Phase.TALKING
    assert state.talk_seconds(10.0 + ALERTS_S + 61.5) == pytest.approx(61.5)
    assert state.press_talk(80.0) is TalkVerdict.STOP
    # the page is still sending its last audio and ends: another press waits
    assert state.press_talk(80.1) is TalkVerdict.IGNORED
    assert state.transmitting
    state.transmit_ended(81.0)
    assert not state.transmitting
    assert state.phase(81.0) is Phase.IDLE
    assert state.press_talk(82.0) is TalkVerdict.START


def test_half_duplex_mutes_incoming_while_transmitting() -> None:
    state = LoopState(26, OURS)
    assert state.plays_incoming()
    state.press_talk(1.0)
    assert not state.plays_incoming()
    state.release_talk(2.0)
    assert not state.plays_incoming()  # until the ends are out
    state.transmit_ended(3.0)
    assert state.plays_incoming()
    state.toggle_mute()
    assert not state.plays_incoming()


def test_full_duplex_plays_while_talking() -> None:
    state = LoopState(26, OURS, full_duplex=True)
    state.press_talk(1.0)
    assert state.plays_incoming()


def test_talk_refused_while_someone_else_holds_the_channel() -> None:
    state = LoopState(26, OURS)
    bob = page(name="bob")
    assert not state.heard_started(bob, 1.0)
    assert state.phase(1.0) is Phase.HEARING
    assert state.holder() == bob
    assert state.press_talk(2.0) is TalkVerdict.REFUSED
    assert not state.transmitting
    assert state.phase(2.0) is Phase.BUSY
    assert state.notice_at(2.0) == "busy: 'bob' holds ch 26"
    assert state.notice_at(2.0 + NOTICE_S) is None  # notices do not stay for ever
    assert state.phase(2.0 + BUSY_SHOWN_S) is Phase.HEARING
    state.heard_ended(bob.key, 5.0)
    assert state.phase(5.0) is Phase.IDLE
    assert state.recent[0].end == 5.0
    assert state.press_talk(6.0) is TalkVerdict.START


def test_the_busy_notice_goes_when_the_holder_ends() -> None:
    state = LoopState(26, OURS)
    bob, carol = page(name="bob"), page(serial=0x7001, name="carol", channel=27)
    state.heard_started(bob, 1.0)
    state.heard_started(carol, 1.5)
    assert state.press_talk(2.0) is TalkVerdict.REFUSED
    state.heard_ended(carol.key, 3.0)  # another page: the channel is still bob's
    assert state.notice_at(3.0) == "busy: 'bob' holds ch 26"
    state.heard_ended(bob.key, 4.0, duration_s=1.5)
    assert state.notice_at(4.0) is None  # well within NOTICE_S: the page ended
    assert state.press_talk(4.5) is TalkVerdict.START
    assert (state.recent[0].caller_id, state.recent[0].duration_s) == ("bob", 1.5)


def test_a_page_ending_leaves_other_notices_alone() -> None:
    state = LoopState(26, OURS)
    bob = page(name="bob")
    state.heard_started(bob, 1.0)
    state.press_talk(2.0)  # busy
    state.tell("no channel 99: channels are 1-50", 2.5)
    state.heard_ended(bob.key, 3.0)
    assert state.notice_at(3.0) == "no channel 99: channels are 1-50"


def test_a_page_on_another_channel_does_not_make_ours_busy() -> None:
    state = LoopState(26, OURS)
    state.heard_started(page(channel=27), 1.0)
    assert state.holder() is None
    assert state.press_talk(2.0) is TalkVerdict.START


@pytest.mark.parametrize("channel", [24, 25, 49, 50])
def test_priority_and_emergency_channels_talk_over_a_busy_channel(channel: int) -> None:
    state = LoopState(channel, OURS)
    state.heard_started(page(channel=channel), 1.0)
    assert state.press_talk(2.0) is TalkVerdict.START


def test_contention_lower_serial_wins_and_we_back_off() -> None:
    state = LoopState(26, OURS)
    state.press_talk(1.0)
    lower = page(serial=OURS - 1, name="boss")
    assert state.heard_started(lower, 1.2) is True
    assert state.stopping
    assert state.notice is not None
    assert "lost ch 26 to 'boss'" in state.notice
    # only once: the page is already stopping
    assert state.heard_started(page(serial=1, name="other"), 1.3) is False


def test_contention_higher_serial_or_other_channel_does_not_stop_us() -> None:
    state = LoopState(26, OURS)
    state.press_talk(1.0)
    assert state.heard_started(page(serial=OURS + 1), 1.2) is False
    assert state.heard_started(page(serial=1, channel=27), 1.3) is False
    assert not state.stopping


def test_channel_changes_only_between_pages() -> None:
    state = LoopState(26, OURS)
    assert state.set_channel(30, 0.5)
    state.press_talk(1.0)
    assert not state.set_channel(31, 1.5)
    assert state.talk_channel == 30
    state.transmit_ended(2.0)
    assert state.set_channel(31, 2.5)
    with pytest.raises(ValueError, match="channel"):
        state.set_channel(51, 3.0)


def test_recent_keeps_the_newest_few() -> None:
    state = LoopState(26, OURS, history=2)
    for index in range(3):
        heard = page(serial=index, channel=27, name=f"p{index}", at=index)
        state.heard_started(heard, index)
        state.heard_ended(heard.key, index + 0.5)
    assert [p.caller_id for p in state.recent] == ["p2", "p1"]


def test_hold_detector_from_key_repeat() -> None:
    hold = HoldDetector(first_repeat_s=0.8, repeat_gap_s=0.2)
    assert hold.press(0.0) is True
    assert not hold.released(0.7)  # waiting for the keyboard's repeat delay
    assert hold.press(0.5) is False  # first repeat
    for tick in range(1, 30):
        assert hold.press(0.5 + tick * 0.033) is False
        assert not hold.released(0.5 + tick * 0.033 + 0.01)
    last = 0.5 + 29 * 0.033
    assert not hold.released(last + 0.19)
    assert hold.released(last + 0.2)
    assert not hold.held
    assert hold.press(5.0) is True


def test_hold_detector_a_tap_is_released_after_the_repeat_delay() -> None:
    hold = HoldDetector(first_repeat_s=0.8, repeat_gap_s=0.2)
    hold.press(0.0)
    assert hold.deadline == pytest.approx(0.8)
    assert hold.released(0.8)
    assert not hold.released(0.9)  # once


def test_vox_opens_on_a_loud_level_and_hangs_over_pauses() -> None:
    gate = VoxGate(-30.0, hang_s=1.0)
    assert not gate.update(-45.0, 0.0)
    assert not gate.update(None, 0.1)
    assert gate.update(-20.0, 0.2)
    assert gate.update(-60.0, 0.9)  # a pause between words
    assert gate.update(-25.0, 1.1)
    assert gate.update(None, 2.0)
    assert not gate.update(-60.0, 2.1)  # quiet for 1 s since 1.1
