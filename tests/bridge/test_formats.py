"""RTP payload formats (`polyptt.bridge.formats`) and the low-delay rate converters
(`polyptt.bridge.rates`)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from polyptt import codecs
from polyptt.bridge.formats import FORMATS, Decoder, Encoder, PayloadFormat, parse_format
from polyptt.bridge.rates import Downsampler, converter


def test_g722_runs_an_8000_hz_clock_on_16_khz_audio() -> None:
    g722 = FORMATS[9]
    assert (g722.clock_rate, g722.audio_rate) == (8000, 16000)
    assert g722.ticks(320) == 160  # a 20 ms packet
    assert g722.payload_bytes(20) == 160
    assert g722.sdp == "G722/8000"


@pytest.mark.parametrize(
    ("text", "payload_type", "expected"),
    [
        ("pcmu", None, PayloadFormat("pcmu", 0, 8000, 8000, codec="g711u")),
        ("PCMA", None, PayloadFormat("pcma", 8, 8000, 8000, codec="g711a")),
        ("l16", None, PayloadFormat("l16", 11, 44100, 44100)),
        ("l16/44100/2", None, PayloadFormat("l16", 10, 44100, 44100, 2)),
        ("l16/16000", 96, PayloadFormat("l16", 96, 16000, 16000)),
        ("g722", 101, PayloadFormat("g722", 101, 8000, 16000, codec="g722")),
    ],
)
def test_formats_by_name(text: str, payload_type: int | None, expected: PayloadFormat) -> None:
    assert parse_format(text, payload_type) == expected


@pytest.mark.parametrize(
    ("text", "payload_type", "message"),
    [
        ("opus", None, "RTP codec 'opus' is not one of pcmu, pcma, g722, l16"),
        ("pcmu/16000", None, "'pcmu/16000': only l16 takes a rate (l16/16000)"),
        ("l16/4000", 96, "'l16/4000': the rate must be 8000-48000"),
        ("l16/16000/3", 96, "'l16/16000/3': 1 or 2 channels"),
        ("l16/16000", None, "a dynamic payload type must be 96-127"),
        ("l16/16000", 95, "a dynamic payload type must be 96-127"),
    ],
)
def test_bad_formats_say_why(text: str, payload_type: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_format(text, payload_type)


def test_l16_is_big_endian_and_stereo_is_mixed_to_mono() -> None:
    stereo = parse_format("l16/44100/2")
    payload = bytes.fromhex("0100 0300 fffe 0000".replace(" ", ""))  # (256, 768), (-2, 0)
    assert Decoder(stereo).decode(payload).tolist() == [512, -1]
    mono = parse_format("l16")
    assert Encoder(mono).encode(np.array([1, -2], dtype=np.int16)) == bytes.fromhex("0001fffe")


def test_g711_and_g722_payloads_are_polyptts_codecs_streaming() -> None:
    pcm = (np.sin(np.arange(3200) / 7) * 9000).astype(np.int16)
    for fmt, name in ((FORMATS[0], "g711u"), (FORMATS[8], "g711a"), (FORMATS[9], "g722")):
        size = fmt.audio_rate // 50
        encoder = Encoder(fmt)
        packets = [encoder.encode(pcm[i : i + size]) for i in range(0, len(pcm), size)]
        assert b"".join(packets) == codecs.encode(name, pcm)
        decoder = Decoder(fmt)
        decoded = np.concatenate([decoder.decode(p) for p in packets])
        assert np.array_equal(decoded, codecs.decode(name, b"".join(packets)))


@pytest.mark.parametrize("chunk", [1, 2, 99, 100, 101, 160, 333])
def test_the_downsampler_streams_bit_for_bit(chunk: int) -> None:
    rng = np.random.default_rng(1)
    pcm = rng.integers(-20000, 20000, 4000).astype(np.int16)
    whole = Downsampler(2).push(pcm)
    down = Downsampler(2)
    pieces = np.concatenate([down.push(pcm[i : i + chunk]) for i in range(0, len(pcm), chunk)])
    assert len(whole) == 2000
    assert np.array_equal(pieces, whole)


def test_every_converter_answers_each_chunk_at_once() -> None:
    """No block held back: a 20 ms chunk in gives (about) 20 ms out, at once."""
    for rate_in, rate_out in ((8000, 16000), (16000, 8000), (8000, 8000), (44100, 16000)):
        convert = converter(rate_in, rate_out)
        outs = [len(convert.push(np.zeros(rate_in // 50, dtype=np.int16))) for _ in range(5)]
        assert abs(sum(outs) - 5 * rate_out // 50) <= 2, (rate_in, rate_out, outs)
        assert min(outs[1:]) >= rate_out // 50 - 2


def test_a_tone_survives_the_way_down_and_up() -> None:
    t = np.arange(16000) / 16000
    tone = np.round(np.sin(2 * np.pi * 440 * t) * 10000).astype(np.int16)
    down = converter(16000, 8000).push(tone)
    back = converter(8000, 16000).push(down)
    lag = 95  # both filters' delays (47.5 samples at 16 kHz each)
    a, b = tone[1000:15000].astype(float), back[1000 + lag : 15000 + lag].astype(float)
    assert np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b) > 0.999
