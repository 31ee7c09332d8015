"""The panel's text and the key decoding, without a terminal."""

from __future__ import annotations

import io

import pytest

from polyptt.loop.keys import decode_keys
from polyptt.loop.panel import KEYS_LINE, PanelView, Screen, meter, render
from polyptt.loop.state import HeardPage, Phase


def test_keys_are_named_and_escape_sequences_do_not_act_as_letters() -> None:
    assert decode_keys(b" q7\r\x1b[A\x7fM") == [
        "space",
        "q",
        "7",
        "enter",
        "escape",
        "backspace",
        "m",
    ]
    assert decode_keys(b"\x1bOB c") == ["escape", "space", "c"]


@pytest.mark.parametrize(
    ("level", "bar"),
    [(None, "." * 20), (-120.0, "." * 20), (-30.0, "#" * 10 + "." * 10), (0.0, "#" * 20)],
)
def test_meter(level: float | None, bar: str) -> None:
    assert meter(level) == f"[{bar}]"


def heard(
    name: str, channel: int, start: float, end: float | None = None, seconds: float | None = None
) -> HeardPage:
    return HeardPage(("h", 1, 1, channel), name, channel, 1, start, end, seconds)


@pytest.mark.parametrize(
    ("view", "state_line"),
    [
        (PanelView(26, "g722", "me", Phase.IDLE), "state: idle"),
        (
            PanelView(26, "g722", "me", Phase.HEARING, heard=heard("alice", 27, 0)),
            "state: hearing 'alice' on ch 27",
        ),
        (PanelView(26, "g722", "me", Phase.ALERTING), "state: ALERTING"),
        (PanelView(26, "g722", "me", Phase.TALKING, talk_s=75.2), "state: TALKING 01:15"),
        (
            PanelView(26, "g722", "me", Phase.BUSY, holder=heard("bob", 26, 0)),
            "state: BUSY: 'bob' holds ch 26",
        ),
    ],
)
def test_render_states_within_80_columns(view: PanelView, state_line: str) -> None:
    lines = render(view)
    assert lines[1] == state_line
    assert lines[-1] == KEYS_LINE
    assert all(len(line) <= 80 for line in lines)


def test_render_cuts_long_lines_and_lists_recent_pages() -> None:
    # the duration shown is the audio's (as listen reports it), not the time from the
    # first alert to the last end packet
    recent = [heard("x" * 13, 26, 1000.0, 1007.11, 6.176)]
    view = PanelView(26, "g722", "y" * 13, Phase.IDLE, notice="n" * 200, recent=recent)
    lines = render(view)
    assert all(len(line) <= 80 for line in lines)
    assert lines[3].startswith("note: nnn")
    assert lines[5].endswith("'xxxxxxxxxxxxx'   6.18 s")


def test_screen_redraws_in_place_only_when_changed() -> None:
    stream = io.StringIO()
    screen = Screen(stream)
    assert screen.draw(["a", "b"])
    assert stream.getvalue() == "\x1b[2Ka\n\x1b[2Kb\n"
    assert not screen.draw(["a", "b"])
    assert screen.draw(["c"])  # shrinks: moves up 2, draws 1, clears 1, comes back up
    assert stream.getvalue().endswith("\r\x1b[2A\x1b[2Kc\n\x1b[2K\n\x1b[1A")
