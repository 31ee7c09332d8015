"""The relay's parts on their own: configuration, token store, grants, slow listeners."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.support.synthetic import build_page

from polyptt import codecs
from polyptt.protocol import CodecId, TransmitPacket, format_channels
from polyptt.receive.receiver import Receiver
from polyptt.receive.recorder import RECORD_KEYS, Recorder
from polyptt.relay.auth import ALL_CHANNELS, Grant, TokenError, TokenStore, hash_token
from polyptt.relay.config import ConfigError, load_config
from polyptt.relay.connections import Connection
from polyptt.relay.echo import EchoSink
from polyptt.relay.hub import HeardPages, Hub, Metrics
from polyptt.relay.wire import AUDIO_HEADER, FRAME_SAMPLES, MessageType

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "relay" / "relay.toml"


def test_the_example_configuration_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.origins == ("https://paging.example.org",)
    assert config.channel_names[26] == "All staff"
    assert config.targets == {"reception": "192.0.2.20"}
    assert config.limits.max_page_s == 60
    assert config.trusted_proxies == ("127.0.0.1",)
    assert config.tokens_path == EXAMPLE.with_name("relay.tokens.json")


def test_a_missing_file_is_the_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path / "none.toml")
    assert (config.origins, config.limits.max_page_s) == ((), 60.0)
    assert config.tokens_path == tmp_path / "none.tokens.json"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("origin = []", r"unknown keys \['origin'\]"),
        ("[limits]\nmax_page = 3", r"unknown limits \['max_page'\]"),
        ("[channels]\n99 = 'x'", "99"),
        ("origins = 'https://a'", "origins must be a list"),
        ("origins = [", "Invalid value"),
    ],
)
def test_a_bad_configuration_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"^{path}: .*{message}") as error:
        load_config(path)
    assert "\n" not in str(error.value)


def test_tokens_are_stored_hashed_readable_by_the_owner_only(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token = store.add("Desk", frozenset({"talk"}), frozenset({26}))
    assert token not in store.path.read_text()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.check(token) == Grant("Desk", frozenset({"talk"}), frozenset({26}))
    assert store.check(token + "x") is None
    with pytest.raises(TokenError, match="exists"):
        store.add("Desk", frozenset({"talk"}), ALL_CHANNELS)
    TokenStore(store.path).revoke("Desk")  # another process: this store sees it at once
    assert store.check(token) is None


def test_a_store_written_before_targets_loads_with_no_targets(tmp_path: Path) -> None:
    """Records without ``targets`` (the first relay's store) still load, granting none."""
    path = tmp_path / "tokens.json"
    token = "old-token"
    record = {"sha256": hash_token(token), "scopes": ["talk"], "channels": [26, 27]}
    path.write_text(json.dumps({"Old": record}))
    store = TokenStore(path)
    grant = store.check(token)
    assert grant == Grant("Old", frozenset({"talk"}), frozenset({26, 27}), frozenset())
    assert grant.refusal(26) is None
    assert grant.refusal(26, "desk") == "this token may not page the target 'desk'"
    store.add("New", frozenset({"talk"}), ALL_CHANNELS, None)  # the old record survives
    assert [(g.name, g.targets) for g in store.grants()] == [("New", None), ("Old", frozenset())]


@pytest.mark.parametrize(
    ("targets", "target", "allowed"),
    [
        (frozenset(), None, True),  # the group: no target needed
        (frozenset(), "desk", False),
        (frozenset({"desk"}), "desk", True),
        (frozenset({"desk"}), "boss", False),
        (None, "boss", True),  # all
    ],
)
def test_target_grants(targets: frozenset[str] | None, target: str | None, allowed: bool) -> None:
    grant = Grant("x", frozenset({"talk"}), ALL_CHANNELS, targets)
    assert (grant.refusal(26, target) is None) is allowed


@pytest.mark.parametrize(
    ("scopes", "channel", "allowed"),
    [
        ({"listen"}, 26, False),
        ({"talk"}, 26, True),
        ({"talk"}, 30, False),  # not among the token's channels
        ({"talk"}, 49, False),
        ({"talk"}, 50, False),
        ({"talk", "emergency"}, 50, True),
        ({"talk", "emergency"}, 24, True),
        ({"emergency"}, 50, False),  # emergency without talk
    ],
)
def test_grants(scopes: set[str], channel: int, allowed: bool) -> None:
    grant = Grant("x", frozenset(scopes), frozenset({*range(20, 30), 24, 25, 49, 50}))
    assert (grant.refusal(channel) is None) is allowed


def test_channel_ranges_are_listed_compactly() -> None:
    assert format_channels([1, 2, 3, 26, 28, 29]) == "1-3,26,28-29"


class _StalledSocket:
    """A WebSocket whose peer stopped reading: sends never complete.

    Stands in for a real stalled TCP peer, which takes megabytes of socket buffers to
    show (the point here is the relay's queue, not the kernel's).
    """

    def __init__(self) -> None:
        self.sent = 0
        self.closed_with: Any = None

    async def send_str(self, _text: str) -> None:
        self.sent += 1
        await asyncio.Event().wait()

    send_bytes = send_str

    async def close(self, code: int, message: bytes) -> None:
        self.closed_with = (code, message)


class _ReadingSocket(_StalledSocket):
    async def send_str(self, _text: str) -> None:
        self.sent += 1

    send_bytes = send_str


def test_a_stalled_listener_is_dropped_and_the_others_get_everything() -> None:
    async def main() -> tuple[Any, Any, Metrics, list[Connection]]:
        metrics = Metrics()
        hub = Hub({}, metrics)
        dropped: list[Connection] = []
        hub.on_drop = dropped.append
        grant = Grant("x", frozenset({"listen"}))
        stalled, reading = _StalledSocket(), _ReadingSocket()
        clients = [Connection(ws, grant, "d", "127.0.0.1", 4) for ws in (stalled, reading)]  # type: ignore[arg-type]
        for client in clients:
            client.listening = True
            hub.clients.add(client)
        for _ in range(20):
            hub.started(object(), "sent", {"channel": 26, "caller_id": "x", "codec": "g722"})
            await asyncio.sleep(0)
        for client in clients:
            await client.finish()
        return stalled, reading, metrics, dropped

    stalled, reading, metrics, dropped = asyncio.run(main())
    assert reading.sent == 20
    assert stalled.sent == 1  # the first send never completed; 4 more queued, then dropped
    assert metrics.listeners_dropped == 1
    assert [c.ws for c in dropped] == [stalled]
    assert dropped[0].dropped == "send queue full (a slow or stalled listener)"


class _Collecting(_StalledSocket):
    """A WebSocket peer that reads everything: JSON events and audio messages, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Any] = []

    async def send_str(self, text: str) -> None:
        self.messages.append(json.loads(text))

    async def send_bytes(self, data: bytes) -> None:  # type: ignore[override]
        self.messages.append(bytes(data))


def _split(messages: list[Any]) -> list[tuple[dict[str, Any], list[bytes], dict[str, Any]]]:
    """(page_start, audio messages, page_end) of each page, in order."""
    pages, audio, start = [], [], None
    for message in messages:
        if isinstance(message, bytes):
            audio.append(message)
        elif message["type"] == MessageType.PAGE_START:
            start, audio = message, []
        else:
            assert message["type"] == MessageType.PAGE_END
            pages.append((start, audio, message))
    return pages


def test_heard_and_sent_pages_reach_the_hub_one_way(tmp_path: Path) -> None:
    """A page heard on the LAN (through the receiver and `HeardPages`) and one the relay
    sends (its talk's calls) go through the same three calls: the same messages to a
    listener, counted and recorded the same way (each with its own record)."""
    coded = codecs.encode("g722", (np.sin(np.arange(480 * 8) / 9) * 9000).astype(np.int16))
    frames = [coded[i * 240 : (i + 1) * 240] for i in range(8)]
    pcm = codecs.decode("g722", coded)

    async def main() -> tuple[list[Any], Metrics, Recorder]:
        metrics, recorder = Metrics(), Recorder(tmp_path, print)
        hub = Hub({26: "All staff"}, metrics, recorder)
        peer = _Collecting()
        listener = Connection(peer, Grant("x", frozenset({"listen"})), "d", "127.0.0.1", 999)  # type: ignore[arg-type]
        listener.listening = True
        hub.clients.add(listener)
        receiver = Receiver([HeardPages(hub)])
        for index, datagram in enumerate(build_page(frames, caller_id="Lobby").datagrams):
            receiver.feed(1000.0 + index * 0.03, ("127.0.0.9", 5001), datagram)
        receiver.flush()
        talk = object()
        fields = {"channel": 26, "caller_id": "Desk", "codec": "g722", "via": "http"}
        hub.started(talk, "sent", fields)
        hub.audio(talk, pcm, 16000)
        hub.ended(talk, {"end_reason": "completed"})
        await listener.finish()
        return peer.messages, metrics, recorder

    messages, metrics, recorder = asyncio.run(main())
    (heard_start, heard, heard_end), (sent_start, sent, sent_end) = _split(messages)
    assert (heard_start["direction"], sent_start["direction"]) == ("heard", "sent")
    assert (heard_end["id"], sent_end["id"]) == (1, 2)
    assert (heard_end["codec"], heard_end["caller_id"], heard_end["frames"]) == ("g722", "Lobby", 8)
    assert (sent_end["caller_id"], sent_end["end_reason"]) == ("Desk", "completed")
    for page, audio in ((1, heard), (2, sent)):  # the same audio, framed the same way
        assert [AUDIO_HEADER.unpack_from(m) for m in audio] == [(page, n) for n in range(12)]
        assert {len(m) - AUDIO_HEADER.size for m in audio} == {FRAME_SAMPLES * 2}
    assert [m[AUDIO_HEADER.size :] for m in heard] == [m[AUDIO_HEADER.size :] for m in sent]
    assert (metrics.pages_heard, metrics.pages_sent) == (1, 1)
    heard_json, sent_json = (json.loads(p.read_text()) for p in recorder.finished)
    assert tuple(heard_json) == RECORD_KEYS  # as `polyptt listen --record` writes it
    assert sent_json == {k: v for k, v in sent_end.items() if k not in ("id", "type", "wav")}
    assert (heard_end["wav"], sent_end["wav"]) == ("/api/v1/pages/1.wav", "/api/v1/pages/2.wav")
    for saved in recorder.finished:
        assert saved.with_suffix(".wav").stat().st_size == 44 + len(pcm) * 2


class _ListSink:
    paced = True

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, datagram: bytes, _offset: float) -> None:
        self.sent.append(datagram)


def _transmits(count: int) -> list[bytes]:
    pcm = (np.sin(np.arange(480 * count) / 7) * 8000).astype(np.int16)
    coded = codecs.encode("g722", pcm)
    frames = [coded[i * 240 : (i + 1) * 240] for i in range(count)]
    return [
        bytes(
            TransmitPacket.from_frames(
                channel=26,
                serial=1,
                caller_id="x",
                codec=CodecId.G722,
                sample_count=i * 240,
                frame=frame,
                redundant=frames[i - 1] if i else b"",
            )
        )
        for i, frame in enumerate(frames)
    ]


def test_the_echo_decodes_each_new_frame_as_it_is_sent() -> None:
    datagrams = _transmits(5)
    sink, heard = _ListSink(), []
    echo = EchoSink(sink, "g722", 240, heard.append)
    for datagram in datagrams:
        echo.send(datagram, 0.0)
    assert sink.sent == datagrams
    decoded = codecs.decode(
        "g722", b"".join(TransmitPacket.parse(d).audio[-240:] for d in datagrams)
    )
    np.testing.assert_array_equal(np.concatenate(heard), decoded)
    assert [len(pcm) for pcm in heard] == [480] * 5


def test_a_failing_echo_never_stops_the_page(caplog: pytest.LogCaptureFixture) -> None:
    datagrams = _transmits(3)
    sink, calls = _ListSink(), []

    def broken(pcm: np.ndarray) -> None:
        calls.append(len(pcm))
        raise RuntimeError("a bug in the hub")

    echo = EchoSink(sink, "g722", 240, broken)
    for datagram in datagrams:
        echo.send(datagram, 0.0)
    assert sink.sent == datagrams  # every datagram still went out
    assert calls == [480]  # tried once, then left alone
    assert "cannot pass a page's audio" in caplog.text
