"""Senders faster than real time: every frame is recorded, forgers stay bounded.

The original PolyPtt sender (see `tests.support.original_sender`) sends a 4 s page in
2.7 s and no end packets. A listener that bounded a page's audio by its elapsed time plus
a constant cut the end of such pages; these tests hold the listener to recording them
whole, sample for sample, while forged traffic still cannot make a recording longer than
twice the time it lasted plus a second (see `polyptt.receive.jitter`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from tests.support.listen import replay, start_listen
from tests.support.original_sender import PACKET_INTERVAL_S, original_page

from polyptt.protocol import AlertPacket, CodecId, TransmitPacket, parse_packet
from polyptt.receive.receiver import Receiver
from polyptt.receive.recorder import Recorder

SOURCE = ("10.0.0.9", 49152)


@pytest.mark.parametrize(("codec", "frame_bytes"), [("g722", 240), ("g726qi", 90)])
def test_the_synthetic_sender_sends_as_the_original_does(codec, frame_bytes):
    page = original_page(4.0, codec)
    packets = [(t, parse_packet(d)) for t, d in page.schedule]
    alerts = [t for t, p in packets if isinstance(p, AlertPacket)]
    transmits = [(t, p) for t, p in packets if isinstance(p, TransmitPacket)]
    assert len(alerts) == 32
    assert len(alerts) + len(transmits) == len(packets)  # and no end packets
    assert np.diff(alerts) == pytest.approx(0.03026)
    times = [t for t, _ in transmits]
    assert times[0] == pytest.approx(alerts[-1])
    assert np.diff(times) == pytest.approx(PACKET_INTERVAL_S)
    assert times[-1] - times[0] == pytest.approx(2.69, abs=0.01)  # 4 s of audio in 2.7 s
    assert [p.sample_count for _, p in transmits] == [240 * i for i in range(134)]
    previous = b""
    for (_, packet), frame in zip(transmits, page.frames, strict=True):
        assert packet.audio == previous + frame  # the previous frame again, then the new
        previous = frame
    assert [len(f) for f in page.frames] == [frame_bytes] * 133 + [frame_bytes // 3]  # 10 ms


def _recorded(directory: Path) -> tuple[dict, np.ndarray]:
    (meta_path,) = directory.glob("*.json")
    meta = json.loads(meta_path.read_text())
    audio, _ = soundfile.read(meta_path.with_suffix(".wav"), dtype="int16")
    return meta, audio


@pytest.mark.parametrize("codec", ["g722", "g726qi"])
def test_a_page_sent_faster_than_real_time_is_recorded_whole(tmp_path, codec):
    """4 s of audio in 2.7 s, fed at the original sender's times, timing out at the end."""
    page = original_page(4.0, codec)
    errors: list[str] = []
    receiver = Receiver([Recorder(tmp_path, errors.append)], page_timeout=1.0)
    start = 1_800_000_000.0
    for moment, datagram in page.schedule:
        receiver.tick(start + moment)
        receiver.feed(start + moment, SOURCE, datagram)
        receiver.flush()  # as the live loop does after each read
    last = start + page.last_packet
    receiver.tick(last + 0.999)
    assert receiver.pages  # not yet silent for the page timeout
    receiver.tick(last + 1.0)
    assert not receiver.pages
    meta, audio = _recorded(tmp_path)
    np.testing.assert_array_equal(audio, page.decoded)
    assert len(audio) == 4 * (16000 if codec == "g722" else 8000)
    assert meta["end_reason"] == "timeout"
    assert meta["frames"] == 134  # 133 of 30 ms and the 10 ms last one
    assert (meta["frames_repaired"], meta["frames_concealed"]) == (0, 0)
    assert meta["packets"] == 32 + 134
    assert receiver.stats.discarded == 0
    assert errors == []


def test_a_long_page_at_one_and_a_half_times_real_time_is_recorded_whole(tmp_path):
    """The margin grows with the page: a minute of audio in 40 s loses nothing either."""
    page = original_page(60.0, "g722")
    errors: list[str] = []
    receiver = Receiver([Recorder(tmp_path, errors.append)])
    for moment, datagram in page.schedule:
        receiver.feed(moment, SOURCE, datagram)
        receiver.flush()
    receiver.tick(page.last_packet + 1.0)
    _, audio = _recorded(tmp_path)
    np.testing.assert_array_equal(audio, page.decoded)
    assert receiver.stats.discarded == 0


def test_a_forger_cannot_make_a_recording_longer_than_the_bound(tmp_path):
    """A burst claiming an hour of consecutive frames over 0.5 s is cut to 2 x 0.5 s + 1 s.

    Every packet is the next frame of the stream (the header-prediction shortcut's case)
    and arrives 1 ms after the previous one: 30 times faster than real time.
    """
    errors: list[str] = []
    receiver = Receiver([Recorder(tmp_path, errors.append)])
    receiver.feed(0.0, SOURCE, bytes(AlertPacket(26, 0xBAD, "forger")))
    previous = b""
    for index in range(501):
        frame = bytes([index % 256]) * 240
        packet = TransmitPacket.from_frames(
            channel=26,
            serial=0xBAD,
            caller_id="forger",
            codec=CodecId.G722,
            sample_count=index * 240,
            frame=frame,
            redundant=previous,
        )
        receiver.feed(index * 0.001, SOURCE, bytes(packet))
        receiver.flush()
        previous = frame
    receiver.tick(10.0)
    meta, audio = _recorded(tmp_path)
    lasted = 0.5
    # 2 x elapsed + 1 s, the reorder window (60 ms) and the frame that crosses the bound
    assert meta["duration_s"] <= 2 * lasted + 1.0 + 0.06 + 0.03
    assert meta["duration_s"] >= 2 * lasted + 1.0  # and no less than the rule lets in
    assert len(audio) == round(meta["duration_s"] * 16000)
    assert receiver.stats.discarded > 400


@pytest.mark.network
@pytest.mark.parametrize("codec", ["g722", "g726qi"])
def test_listen_records_the_original_sender_whole_over_the_network(tmp_path, codec):
    """``polyptt listen --record`` receiving the original sender's page over loopback
    multicast: the recording is every sent frame, decoded as one stream."""
    from tests.support.udp_capture import free_port

    port = free_port()
    page = original_page(4.0, codec)
    listening = start_listen(tmp_path / "rec", "--count", "1", port=port)
    started = time.monotonic()
    (source,) = replay(page.schedule, port)
    assert listening.wait() == 0, listening.stderr
    took = time.monotonic() - started
    meta, audio = listening.recordings(source=source)[(0xBEEF, 26)]
    np.testing.assert_array_equal(audio, page.decoded)
    assert meta["end_reason"] == "timeout"
    assert meta["frames"] == 134
    assert meta["duration_s"] == 4.0
    # the page lasted 0.94 s of alerts and 2.7 s of audio packets, then 1 s of silence
    assert took < page.last_packet + 1.0 + 2.0
