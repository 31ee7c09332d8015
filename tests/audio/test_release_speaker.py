"""`Player.release_idle`: the loop closes the output stream between pages (an open
stream's callbacks cost a few percent of a core), and the next page opens it again.

The stream is the playback tests' stand-in (no device needed): what is tested is when
the player lets it go and that the next page is played on a new one.
"""

from __future__ import annotations

import numpy as np
from tests.support.players import FakePage, play, player_with_fake_streams


def test_the_stream_is_released_only_when_nothing_plays_or_is_left() -> None:
    player, streams = player_with_fake_streams()
    assert not player.release_idle()  # no stream yet
    page = FakePage(26)
    player.page_started(page)
    player.page_audio(page, np.ones(320, dtype=np.int16), 0.0)
    assert not player.release_idle()  # a page is playing
    player.page_ended(page)
    assert not player.release_idle()  # its audio is still queued
    play(player, 320)
    assert player.release_idle()
    assert streams[0].closed
    assert player.queue is None


def test_the_next_page_opens_a_new_stream_and_is_played() -> None:
    player, streams = player_with_fake_streams()
    first, second = FakePage(26), FakePage(27)
    player.page_started(first)
    player.page_audio(first, np.ones(320, dtype=np.int16), 0.0)
    player.page_ended(first)
    play(player, 320)
    assert player.release_idle()
    player.page_started(second)
    player.page_audio(second, np.full(320, 2, dtype=np.int16), 0.0)
    assert len(streams) == 2
    assert not streams[1].closed
    np.testing.assert_array_equal(play(player, 320), np.full(320, 2))
