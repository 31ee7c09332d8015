"""G.711 against the ITU-T G.191 STL sweep sequences, bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.support.vectors import read_low_bytes, read_words

from polyptt import _codec

LAWS = {
    "alaw": (_codec.alaw_encode, _codec.alaw_decode, "a"),
    "ulaw": (_codec.ulaw_encode, _codec.ulaw_decode, "u"),
}


@pytest.fixture(scope="module")
def g711_dir(testvectors: Path) -> Path:
    return testvectors / "g711"


@pytest.mark.parametrize("law", LAWS)
def test_encode_sweep(g711_dir: Path, law: str) -> None:
    """sweep.src -> sweep-r.a / sweep-r.u."""
    encode, _, suffix = LAWS[law]
    codes = encode(read_words(g711_dir / "sweep.src"))
    assert codes == read_low_bytes(g711_dir / f"sweep-r.{suffix}")


@pytest.mark.parametrize("law", LAWS)
def test_encode_decode_sweep(g711_dir: Path, law: str) -> None:
    """sweep.src -> law -> linear == sweep-r.a-a / sweep-r.u-u."""
    encode, decode, suffix = LAWS[law]
    pcm = decode(encode(read_words(g711_dir / "sweep.src")))
    assert pcm.dtype == np.int16
    np.testing.assert_array_equal(pcm, read_words(g711_dir / f"sweep-r.{suffix}-{suffix}"))


@pytest.mark.parametrize("law", LAWS)
def test_decode_reference_codes(g711_dir: Path, law: str) -> None:
    """sweep-r.a -> sweep-r.rea, sweep-r.u -> sweep-r.reu."""
    _, decode, suffix = LAWS[law]
    pcm = decode(read_low_bytes(g711_dir / f"sweep-r.{suffix}"))
    np.testing.assert_array_equal(pcm, read_words(g711_dir / f"sweep-r.re{suffix}"))


@pytest.mark.parametrize("law", LAWS)
def test_every_code_round_trips(law: str) -> None:
    """Decoding then re-encoding any of the 256 codes gives the code back (mu-law: both
    zeros decode to 0, which encodes as the positive zero 0xFF)."""
    encode, decode, _ = LAWS[law]
    codes = bytes(range(256))
    expected = codes if law == "alaw" else codes.replace(b"\x7f", b"\xff")
    assert encode(decode(codes)) == expected


@pytest.mark.parametrize("law", LAWS)
@pytest.mark.parametrize(
    "data",
    [
        b"\x01\x80\xff",
        bytearray(b"\x01\x80\xff"),
        memoryview(b"\x01\x80\xff"),
        np.array([1, 128, 255], dtype=np.uint8),
    ],
    ids=["bytes", "bytearray", "memoryview", "uint8-array"],
)
def test_decode_accepts_bytes_like(law: str, data: object) -> None:
    _, decode, _ = LAWS[law]
    np.testing.assert_array_equal(decode(data), decode(b"\x01\x80\xff"))


@pytest.mark.parametrize("law", LAWS)
def test_empty(law: str) -> None:
    encode, decode, _ = LAWS[law]
    assert encode(np.zeros(0, dtype=np.int16)) == b""
    assert decode(b"").shape == (0,)


@pytest.mark.parametrize("law", LAWS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint16])
def test_encode_rejects_other_dtypes(law: str, dtype: type) -> None:
    encode, _, _ = LAWS[law]
    with pytest.raises(TypeError):
        encode(np.zeros(8, dtype=dtype))


@pytest.mark.parametrize("law", LAWS)
def test_encode_rejects_two_dimensions(law: str) -> None:
    encode, _, _ = LAWS[law]
    with pytest.raises(ValueError, match="one-dimensional"):
        encode(np.zeros((4, 2), dtype=np.int16))


@pytest.mark.parametrize("law", LAWS)
def test_decode_rejects_wide_items(law: str) -> None:
    _, decode, _ = LAWS[law]
    with pytest.raises(TypeError, match="bytes-like"):
        decode(np.zeros(4, dtype=np.int16))
