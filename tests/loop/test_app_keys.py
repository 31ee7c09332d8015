"""The application's key handling, with no terminal, device or socket behind it.

The sink stands in for a UdpSink by its one attribute the constructor reads (where our
pages come from, to ignore them); nothing is sent: these keys do not talk.
"""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from polyptt.loop.app import LoopApp, TalkSettings
from polyptt.loop.panel import Screen
from polyptt.loop.state import LoopState


def app() -> LoopApp:
    return LoopApp(
        state=LoopState(26, 0x9000),
        talk=TalkSettings("g722", 30, "me", 0x9000, 120.0),
        sink=SimpleNamespace(source=("127.0.0.1", 5001)),
        sockets=[],
        terminal=None,  # type: ignore[arg-type]
        screen=Screen(io.StringIO()),
        open_microphone=None,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("keys", "channel"),
    [
        (["2", "7"], 27),  # two digits choose at once
        (["5", "enter"], 5),
        (["c"], 27),
        (["4", "escape", "c"], 27),  # escape cancels the entry
        (["9", "9"], 26),  # no channel 99: unchanged, with a notice
    ],
)
def test_channel_keys(keys: list[str], channel: int) -> None:
    loop = app()
    for key in keys:
        loop.key(key, 1.0)
    assert loop.state.talk_channel == channel
    if keys == ["9", "9"]:
        assert loop.state.notice_at(1.0) == "no channel 99: channels are 1-50"


def test_c_wraps_from_50_to_1_and_m_mutes() -> None:
    loop = app()
    loop.state.set_channel(50, 0.0)
    loop.key("c", 1.0)
    assert loop.state.talk_channel == 1
    loop.key("m", 1.0)
    assert loop.state.muted
    assert loop.view(1.0).muted


def test_the_entry_shows_on_the_panel() -> None:
    loop = app()
    loop.key("4", 1.0)
    assert loop.view(1.0).entry == "4"
