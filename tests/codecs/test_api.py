"""The public codec API (polyptt.codecs): names, wire facts, lengths, streaming, strict input."""

from __future__ import annotations

import doctest
import importlib.metadata
import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.support import signals

import polyptt
from polyptt import _codec, codecs

G726_NAMES = [f"g726-{kbps}{suffix}" for kbps in (16, 24, 32, 40) for suffix in ("", "-aal2")]
ALL_NAMES = ["g711u", "g711a", "g722", "g726qi", *G726_NAMES]

# name -> (sample rate, bits per sample, wire id)
FACTS = {
    "g711u": (8000, 8, 0x00),
    "g711a": (8000, 8, None),
    "g722": (16000, 4, 0x09),
    "g726qi": (8000, 3, 0xFD),
    **{name: (8000, int(name.split("-")[1]) // 8, None) for name in G726_NAMES},
}
FRAME_MS = [10, 20, 30, 40, 50, 60, 70, 80]
ODD_CHUNKS = [1, 3, 7, 13, 31, 161, 5, 2, 99]


def test_names_are_the_documented_set() -> None:
    assert sorted(codecs.NAMES) == sorted(ALL_NAMES)
    assert len(set(codecs.NAMES)) == len(codecs.NAMES)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_info_fields(name: str) -> None:
    info = codecs.info(name)
    assert info.name == name
    assert (info.sample_rate, info.bits_per_sample, info.wire_id) == FACTS[name]
    assert info.description


@pytest.mark.parametrize(
    ("name", "ms", "samples", "nbytes"),
    [
        ("g711u", 20, 160, 160),
        ("g711a", 30, 240, 240),
        ("g722", 20, 320, 160),
        ("g722", 30, 480, 240),
        ("g726qi", 30, 240, 90),
        ("g726-16", 20, 160, 40),
        ("g726-24-aal2", 20, 160, 60),
        ("g726-32", 10, 80, 40),
        ("g726-40-aal2", 80, 640, 400),
    ],
)
def test_frame_sizes(name: str, ms: int, samples: int, nbytes: int) -> None:
    info = codecs.info(name)
    assert info.frame_samples(ms) == samples
    assert info.frame_bytes(ms) == nbytes


@pytest.mark.parametrize(("wire_id", "name"), [(0x00, "g711u"), (0x09, "g722"), (0xFD, "g726qi")])
def test_by_wire_id(wire_id: int, name: str) -> None:
    assert codecs.by_wire_id(wire_id) is codecs.info(name)


@pytest.mark.parametrize("wire_id", [0x01, 0x08, 0x0A, 0xFE, 0xFF])
def test_unknown_wire_id(wire_id: int) -> None:
    with pytest.raises(ValueError, match=f"0x{wire_id:02X}"):
        codecs.by_wire_id(wire_id)


@pytest.mark.parametrize("call", [codecs.info, codecs.Encoder, codecs.Decoder])
def test_unknown_name(call) -> None:
    with pytest.raises(ValueError, match=r"unknown codec 'g729'.*g722"):
        call("g729")


def test_unknown_name_in_one_shot_calls() -> None:
    with pytest.raises(ValueError, match="unknown codec"):
        codecs.encode("G722", np.zeros(2, dtype=np.int16))
    with pytest.raises(ValueError, match="unknown codec"):
        codecs.decode("pcm", b"\0")


@pytest.mark.parametrize("ms", FRAME_MS)
@pytest.mark.parametrize("name", ALL_NAMES)
def test_frame_lengths(name: str, ms: int) -> None:
    info = codecs.info(name)
    pcm = signals.speech(info.sample_rate)[: info.frame_samples(ms)]
    coded = codecs.encode(name, pcm)
    assert len(coded) == info.frame_bytes(ms)
    decoded = codecs.decode(name, coded)
    assert decoded.dtype == np.int16
    assert decoded.shape == (info.frame_samples(ms),)


def chunks(total: int) -> list[slice]:
    """Cut range(total) into pieces of the odd sizes in ODD_CHUNKS, cycling."""
    pieces, start = [], 0
    for size in itertools.cycle(ODD_CHUNKS):
        if start >= total:
            return pieces
        pieces.append(slice(start, start + size))
        start += size
    raise AssertionError("unreachable")


@pytest.mark.parametrize("length", [4000, 4001])
@pytest.mark.parametrize("name", ALL_NAMES)
def test_encoder_in_chunks_equals_whole(name: str, length: int) -> None:
    pcm = signals.speech(codecs.info(name).sample_rate)[:length]
    encoder = codecs.Encoder(name)
    pieces = [encoder.encode(pcm[piece]) for piece in chunks(len(pcm))]
    assert b"".join(pieces) + encoder.flush() == codecs.encode(name, pcm)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_decoder_in_chunks_equals_whole(name: str) -> None:
    coded = codecs.encode(name, signals.speech(codecs.info(name).sample_rate)[:4000])
    decoder = codecs.Decoder(name)
    pieces = [decoder.decode(coded[piece]) for piece in chunks(len(coded))]
    np.testing.assert_array_equal(np.concatenate(pieces), codecs.decode(name, coded))


@pytest.mark.parametrize("name", ALL_NAMES)
def test_encoder_reset_is_a_new_encoder(name: str) -> None:
    pcm = signals.speech(codecs.info(name).sample_rate)[:1000]
    encoder = codecs.Encoder(name)
    encoder.encode(signals.white_noise(codecs.info(name).sample_rate)[:333])  # odd: bits held
    encoder.reset()
    assert encoder.encode(pcm) + encoder.flush() == codecs.encode(name, pcm)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_decoder_reset_is_a_new_decoder(name: str) -> None:
    coded = codecs.encode(name, signals.speech(codecs.info(name).sample_rate)[:1000])
    decoder = codecs.Decoder(name)
    decoder.decode(b"\x5a\xa5\x13")  # leaves a part of a G.726 code word held
    decoder.reset()
    np.testing.assert_array_equal(decoder.decode(coded), codecs.decode(name, coded))


@pytest.mark.parametrize("name", ALL_NAMES)
def test_state_carries_between_calls(name: str) -> None:
    """Streaming is not re-encoding each piece from scratch (except for stateless G.711)."""
    pcm = signals.speech(codecs.info(name).sample_rate)[:2000]
    encoder = codecs.Encoder(name)
    encoder.encode(pcm[:1000])
    second_half = encoder.encode(pcm[1000:])
    fresh = codecs.encode(name, pcm[1000:])
    assert (second_half == fresh) == name.startswith("g711")


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32, np.uint16, np.int8])
@pytest.mark.parametrize("name", ALL_NAMES)
def test_pcm_of_another_dtype_is_a_type_error(name: str, dtype) -> None:
    with pytest.raises(TypeError):
        codecs.encode(name, np.zeros(160, dtype=dtype))
    with pytest.raises(TypeError):
        codecs.Encoder(name).encode(np.zeros(160, dtype=dtype))


@pytest.mark.parametrize("name", ALL_NAMES)
def test_two_dimensional_pcm_is_a_value_error(name: str) -> None:
    with pytest.raises(ValueError, match="one-dimensional"):
        codecs.encode(name, np.zeros((80, 2), dtype=np.int16))


@pytest.mark.parametrize("name", ALL_NAMES)
def test_decode_takes_any_bytes_like(name: str) -> None:
    coded = codecs.encode(name, signals.speech(codecs.info(name).sample_rate)[:800])
    expected = codecs.decode(name, coded)
    for form in (bytearray(coded), memoryview(coded), np.frombuffer(coded, dtype=np.uint8)):
        np.testing.assert_array_equal(codecs.decode(name, form), expected)


def test_empty_input() -> None:
    for name in ALL_NAMES:
        assert codecs.encode(name, np.zeros(0, dtype=np.int16)) == b""
        assert len(codecs.decode(name, b"")) == 0


def test_repr() -> None:
    assert repr(codecs.Encoder("g722")) == "Encoder('g722')"
    assert repr(codecs.Decoder("g726qi")) == "Decoder('g726qi')"


def test_docstring_examples() -> None:
    result = doctest.testmod(codecs, raise_on_error=False, report=True)
    assert result.attempted > 0
    assert result.failed == 0


def test_extension_version_is_the_package_version() -> None:
    assert _codec.__version__ == polyptt.__version__


def test_installed_metadata_version_is_the_package_version() -> None:
    """The version pip recorded (pyproject's regex provider) is the one in __init__.py."""
    try:
        dist = importlib.metadata.distribution("polyptt")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("polyptt is not installed (running from the source tree)")
    installed_init = Path(str(dist.locate_file("polyptt/__init__.py"))).resolve()
    if installed_init != Path(polyptt.__file__).resolve():
        pytest.skip("the polyptt under test is not the installed one")
    assert dist.version == polyptt.__version__


def test_the_extension_is_an_optimised_release_build() -> None:
    """A debug build would code several times slower; refuse to ship one by accident."""
    from polyptt import _codec

    assert _codec._build["optimized"], _codec._build
    assert not _codec._build["asserts"], _codec._build


def _codec_choices(command: Any) -> tuple[str, ...]:
    (option,) = (p for p in command.params if p.name == "codec")
    return tuple(option.type.choices)


def test_one_codec_table_for_the_wire() -> None:
    """Every wire codec has its description under its name, and nothing else is on the
    wire: the protocol's ids, the codec table and the commands' choices agree."""
    from polyptt.cli.loop import loop
    from polyptt.cli.send import send
    from polyptt.protocol import CodecId

    on_the_wire = {name for name in codecs.NAMES if codecs.info(name).wire_id is not None}
    assert on_the_wire == {c.codec_name for c in CodecId} == set(codecs.WIRE_NAMES)
    for wire in CodecId:
        assert codecs.info(wire.codec_name).wire_id is wire
        assert codecs.by_wire_id(int(wire)).name == wire.codec_name
    assert codecs.WIRE_NAMES[0] == codecs.DEFAULT == "g722"  # the default first in --help
    assert _codec_choices(send) == _codec_choices(loop) == codecs.WIRE_NAMES


def test_frame_lengths_and_live_talk_come_from_the_table() -> None:
    """G.726QI only in 30 ms frames (so never live through the relay's 20 ms pages); the
    others in 10-80 ms; codecs phones do not page with in none."""
    assert codecs.info("g726qi").frame_ms == (30,)
    assert codecs.info("g722").frame_ms == codecs.info("g711u").frame_ms == tuple(range(10, 81, 10))
    assert codecs.info("g711a").frame_ms == ()
    assert codecs.LIVE_NAMES == ("g722", "g711u")
    assert codecs.info("g722").frame_ms_refusal(20) is None
    assert codecs.info("g726qi").frame_ms_refusal(30) is None
    assert codecs.info("g726qi").frame_ms_refusal(20) == (
        "g726qi is sent in 30 ms frames only (90 bytes, as SoundPoint IP 450/550 send them; "
        "their receivers expect exactly that), not 20 ms"
    )
    assert codecs.info("g711a").frame_ms_refusal(30) == "g711a is not sent to phones"


def test_the_table_loads_neither_numpy_nor_the_extension() -> None:
    """--help lists the codecs from the table: it must stay cheap (and answer on an
    install whose extension is broken)."""
    child = (
        "import sys\n"
        "sys.modules['polyptt._codec'] = None\n"
        "from polyptt import codecs\n"
        "assert codecs.info('g722').frame_bytes(20) == 160\n"
        "print(sorted(m for m in ('numpy', 'polyptt._codec') if sys.modules.get(m)))\n"
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")
