"""Playback arbitration: the phones' priority rules."""

from __future__ import annotations

import pytest

from polyptt.protocol import Priority, channel_priority
from polyptt.receive.arbiter import Arbiter


def test_first_come_first_served_among_normal_pages():
    arbiter = Arbiter()
    assert arbiter.start("a", Priority.NORMAL)
    assert not arbiter.start("b", Priority.NORMAL)
    assert arbiter.playing == "a"
    assert arbiter.plays("a")
    assert not arbiter.plays("b")


@pytest.mark.parametrize(
    ("first", "second", "preempts"),
    [
        (Priority.NORMAL, Priority.PRIORITY, True),
        (Priority.NORMAL, Priority.EMERGENCY, True),
        (Priority.PRIORITY, Priority.EMERGENCY, True),
        (Priority.PRIORITY, Priority.NORMAL, False),
        (Priority.EMERGENCY, Priority.PRIORITY, False),
        (Priority.EMERGENCY, Priority.NORMAL, False),
        (Priority.PRIORITY, Priority.PRIORITY, False),
        (Priority.EMERGENCY, Priority.EMERGENCY, False),
    ],
)
def test_more_urgent_pages_preempt(first, second, preempts):
    arbiter = Arbiter()
    assert arbiter.start("first", first)
    assert arbiter.start("second", second) is preempts
    assert arbiter.playing == ("second" if preempts else "first")


def test_emergency_over_priority_over_normal_by_channel():
    arbiter = Arbiter()
    assert arbiter.start(26, channel_priority(26))
    assert not arbiter.start(27, channel_priority(27))
    assert arbiter.start(49, channel_priority(49))
    assert not arbiter.start(26, channel_priority(26))
    assert arbiter.start(50, channel_priority(50))
    assert not arbiter.start(24, channel_priority(24))
    assert arbiter.playing == 50


def test_speaker_is_free_after_the_playing_page_ends_and_passed_over_pages_stay_silent():
    arbiter = Arbiter()
    arbiter.start("a", Priority.NORMAL)
    arbiter.start("b", Priority.NORMAL)
    arbiter.end("b")  # a page that never played ending changes nothing
    assert arbiter.playing == "a"
    arbiter.end("a")
    assert arbiter.playing is None
    assert not arbiter.plays("b")
    assert arbiter.start("c", Priority.NORMAL)


def test_preempted_page_ending_does_not_free_the_speaker():
    arbiter = Arbiter()
    arbiter.start("normal", Priority.NORMAL)
    arbiter.start("urgent", Priority.PRIORITY)
    arbiter.end("normal")
    assert arbiter.playing == "urgent"
    # the speaker went back to normal rules once the urgent page ended
    arbiter.end("urgent")
    assert arbiter.start("next", Priority.NORMAL)


@pytest.mark.parametrize(
    ("ended", "next_page", "cuts"),
    [
        (Priority.NORMAL, Priority.NORMAL, False),
        (Priority.NORMAL, Priority.PRIORITY, True),
        (Priority.PRIORITY, Priority.NORMAL, False),
        (Priority.EMERGENCY, Priority.PRIORITY, False),
        (Priority.EMERGENCY, Priority.EMERGENCY, False),
    ],
)
def test_an_ended_pages_audio_is_cut_only_by_a_more_urgent_page(ended, next_page, cuts):
    arbiter = Arbiter()
    arbiter.start("ended", ended)
    arbiter.end("ended", audible=True)
    assert arbiter.sounding == ended
    assert arbiter.playing is None
    assert arbiter.start("next", next_page)  # never passed over: heard after it, or at once
    assert arbiter.sounding == (None if cuts else ended)


def test_sounding_is_forgotten_when_played_out_and_never_set_by_pages_that_did_not_play():
    arbiter = Arbiter()
    arbiter.start("a", Priority.PRIORITY)
    arbiter.start("b", Priority.NORMAL)
    arbiter.end("b", audible=True)  # passed over: nothing of it is queued
    assert arbiter.sounding is None
    arbiter.end("a", audible=True)
    arbiter.start("c", Priority.NORMAL)  # heard after a's last words
    arbiter.end("c", audible=True)
    assert arbiter.sounding == Priority.PRIORITY  # the more urgent of the two still queued
    arbiter.played_out()
    assert arbiter.sounding is None
