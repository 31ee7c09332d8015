"""G.726 bit packings, streaming and the Python API of the coder objects.

The packings are checked three ways: exact bytes worked out by hand for the first code
words of the ITU sequences, equality with reference packers written here with numpy
(independent of the C++ code), and chunked streaming equal to one call.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from tests.support.vectors import read_low_bytes

from polyptt import _codec

BITS = [2, 3, 4, 5]
PACKINGS = ["unpacked", "rfc3551", "aal2", "qi"]
CHUNKS = [1, 2, 3, 7, 13, 99, 101, 241]


# ---- reference packers (numpy, bit by bit) --------------------------------------------


def code_bits(codes: np.ndarray, bits: int, msb_first: bool) -> np.ndarray:
    shifts = np.arange(bits - 1, -1, -1) if msb_first else np.arange(bits)
    return ((codes.astype(np.uint8)[:, None] >> shifts) & 1).astype(np.uint8).ravel()


def reference_pack(codes: np.ndarray, bits: int, packing: str) -> bytes:
    """All code words packed, the last byte zero-padded (what encode() + flush() give)."""
    if packing == "unpacked":
        return codes.astype(np.uint8).tobytes()
    if packing == "rfc3551":
        return np.packbits(code_bits(codes, bits, msb_first=False), bitorder="little").tobytes()
    packed = np.packbits(code_bits(codes, bits, msb_first=True), bitorder="big")
    if packing == "qi":
        packed = np.packbits(np.unpackbits(packed).reshape(-1, 8)[:, ::-1])
    return packed.tobytes()


def noise_codes(bits: int, n: int, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 1 << bits, n, dtype=np.uint8)


def test_reference_packer_agrees_with_hand_packing() -> None:
    """The numpy reference itself, on one hand-packed case per direction."""
    codes = np.array([7, 3, 4], dtype=np.uint8)  # 111 011 100
    assert reference_pack(codes, 3, "aal2") == bytes([0b11101110, 0b0000_0000])
    assert reference_pack(codes, 3, "rfc3551") == bytes([0b00_011_111, 0b0000000_1])
    assert reference_pack(codes, 3, "qi") == bytes([0b01110111, 0b0000_0000])


# ---- exact bytes, hand-packed ---------------------------------------------------------

# The first 8 code words of rnRRfa.i (nrm.a encoded from reset), and their packings.
# rfc3551 fills each byte from bit 0 up; aal2 from bit 7 down; qi is aal2 mirrored.
HAND_PACKED = {
    # 00 01 10 01 | 10 01 10 01
    2: {
        "rfc3551": bytes([0b01_10_01_00, 0b01_10_01_10]),
        "aal2": bytes([0b00_01_10_01, 0b10_01_10_01]),
        "qi": bytes([0b10_01_10_00, 0b10_01_10_01]),
    },
    # 111 011 100 011 100 011 100 011
    3: {
        "rfc3551": bytes([0x1F, 0xC7, 0x71]),
        "aal2": bytes([0xEE, 0x38, 0xE3]),
        "qi": bytes([0x77, 0x1C, 0xC7]),
    },
    # 0001 0111 1000 0111 1000 0111 1000 0111
    4: {
        "rfc3551": bytes([0x71, 0x78, 0x78, 0x78]),
        "aal2": bytes([0x17, 0x87, 0x87, 0x87]),
        "qi": bytes([0xE8, 0xE1, 0xE1, 0xE1]),
    },
    # 00010 01111 10000 01111 10000 01111 10000 01111
    5: {
        "rfc3551": bytes([0xE2, 0xC1, 0x07, 0x1F, 0x7C]),
        "aal2": bytes([0x13, 0xE0, 0xF8, 0x3E, 0x0F]),
        "qi": bytes([0xC8, 0x07, 0x1F, 0x7C, 0xF0]),
    },
}
RATE_OF_BITS = {2: 16, 3: 24, 4: 32, 5: 40}
HAND_CASES = [
    pytest.param(bits, packing, id=f"{RATE_OF_BITS[bits]}k-{packing}")
    for bits, by_packing in HAND_PACKED.items()
    for packing in by_packing
]


@pytest.fixture(scope="module")
def g726_dir(testvectors: Path) -> Path:
    return testvectors / "g726"


@pytest.mark.parametrize(("bits", "packing"), HAND_CASES)
def test_encoder_hand_packed_bytes(g726_dir: Path, bits: int, packing: str) -> None:
    rate = RATE_OF_BITS[bits]
    first_codes = read_low_bytes(g726_dir / f"rn{rate}fa.i")[:8]
    assert list(first_codes) == list(
        _codec.G726Encoder(bits, "unpacked", "alaw").encode(read_low_bytes(g726_dir / "nrm.a")[:8])
    )
    enc = _codec.G726Encoder(bits, packing, "alaw")
    assert enc.encode(read_low_bytes(g726_dir / "nrm.a")[:8]) == HAND_PACKED[bits][packing]
    assert enc.pending_bits == 0
    assert enc.flush() == b""


@pytest.mark.parametrize(("bits", "packing"), HAND_CASES)
def test_decoder_hand_packed_bytes(g726_dir: Path, bits: int, packing: str) -> None:
    rate = RATE_OF_BITS[bits]
    codes = read_low_bytes(g726_dir / f"rn{rate}fa.i")[:8]
    expected = _codec.G726Decoder(bits, "unpacked", "alaw").decode(codes)
    assert _codec.G726Decoder(bits, packing, "alaw").decode(HAND_PACKED[bits][packing]) == expected


@pytest.mark.parametrize(
    ("packing", "flushed"),
    [("rfc3551", 0b00_011_111), ("aal2", 0b111_011_00), ("qi", 0b00_110_111)],
)
def test_partial_byte_waits_for_flush(g726_dir: Path, packing: str, flushed: int) -> None:
    """Two 24 kbit/s code words (111, 011) are 6 bits: nothing until flush()."""
    enc = _codec.G726Encoder(3, packing, "alaw")
    assert enc.encode(read_low_bytes(g726_dir / "nrm.a")[:2]) == b""
    assert enc.pending_bits == 6
    assert enc.flush() == bytes([flushed])
    assert enc.pending_bits == 0
    assert enc.flush() == b""


# ---- equality with the reference packers ----------------------------------------------


def linear_signal(n: int, seed: int = 1) -> np.ndarray:
    """A chirp with noise: exercises small and large steps of the quantizer."""
    t = np.arange(n) / 8000.0
    chirp = 12000 * np.sin(2 * np.pi * (100 + 1700 * t / t[-1]) * t) if n > 1 else np.zeros(n)
    noise = np.random.default_rng(seed).normal(0, 800, n)
    return np.clip(chirp + noise, -32768, 32767).astype(np.int16)


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    return linear_signal(4001)


def unpacked_codes(bits: int, pcm: np.ndarray) -> np.ndarray:
    return np.frombuffer(_codec.G726Encoder(bits, "unpacked").encode(pcm), dtype=np.uint8)


@pytest.mark.parametrize("packing", PACKINGS)
@pytest.mark.parametrize("bits", BITS)
def test_encoder_matches_reference_packer(signal: np.ndarray, bits: int, packing: str) -> None:
    enc = _codec.G726Encoder(bits, packing)
    packed = enc.encode(signal)
    assert enc.pending_bits == (0 if packing == "unpacked" else (len(signal) * bits) % 8)
    assert packed + enc.flush() == reference_pack(unpacked_codes(bits, signal), bits, packing)


@pytest.mark.parametrize("packing", PACKINGS)
@pytest.mark.parametrize("bits", BITS)
def test_decoder_matches_reference_unpacker(bits: int, packing: str) -> None:
    codes = noise_codes(bits, 1600)  # 1600 codes fill whole bytes at every rate
    expected = _codec.G726Decoder(bits, "unpacked").decode(codes.tobytes())
    got = _codec.G726Decoder(bits, packing).decode(reference_pack(codes, bits, packing))
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("bits", BITS)
def test_qi_is_aal2_with_every_byte_reversed(signal: np.ndarray, bits: int) -> None:
    aal2 = _codec.G726Encoder(bits, "aal2").encode(signal)
    qi = _codec.G726Encoder(bits, "qi").encode(signal)
    reversed_aal2 = np.packbits(
        np.unpackbits(np.frombuffer(aal2, dtype=np.uint8)).reshape(-1, 8)[:, ::-1]
    )
    assert qi == reversed_aal2.tobytes()


@pytest.mark.parametrize("packing", PACKINGS)
@pytest.mark.parametrize("bits", BITS)
def test_round_trip(signal: np.ndarray, bits: int, packing: str) -> None:
    """encode + flush, then decode: the same samples as decoding the unpacked codes, plus
    whatever whole code words the zero padding of the last byte happens to hold."""
    enc = _codec.G726Encoder(bits, packing)
    data = enc.encode(signal) + enc.flush()
    dec = _codec.G726Decoder(bits, packing)
    pcm = dec.decode(data)
    codes = unpacked_codes(bits, signal)
    expected = _codec.G726Decoder(bits, "unpacked").decode(codes.tobytes())
    padding_codes = 0 if packing == "unpacked" else len(data) * 8 // bits - len(signal)
    assert 0 <= padding_codes < 8 // bits + 1
    assert len(pcm) == len(signal) + padding_codes
    np.testing.assert_array_equal(pcm[: len(signal)], expected)
    assert dec.pending_bits == (0 if packing == "unpacked" else len(data) * 8 % bits)


def test_decoder_masks_high_bits_of_unpacked_codes() -> None:
    codes = noise_codes(3, 200)
    dec_clean = _codec.G726Decoder(3, "unpacked").decode(codes.tobytes())
    dirty = (codes | 0xF8).tobytes()
    np.testing.assert_array_equal(_codec.G726Decoder(3, "unpacked").decode(dirty), dec_clean)


# ---- streaming ------------------------------------------------------------------------


def chunks(data: bytes | np.ndarray, size: int) -> Iterator[bytes | np.ndarray]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("size", CHUNKS)
@pytest.mark.parametrize("packing", PACKINGS)
@pytest.mark.parametrize("bits", BITS)
def test_chunked_encode_equals_whole(
    signal: np.ndarray, bits: int, packing: str, size: int
) -> None:
    whole = _codec.G726Encoder(bits, packing)
    expected = whole.encode(signal) + whole.flush()
    enc = _codec.G726Encoder(bits, packing)
    got = b"".join(enc.encode(chunk) for chunk in chunks(signal, size)) + enc.flush()
    assert got == expected


@pytest.mark.parametrize("size", CHUNKS)
@pytest.mark.parametrize("packing", PACKINGS)
@pytest.mark.parametrize("bits", BITS)
def test_chunked_decode_equals_whole(
    signal: np.ndarray, bits: int, packing: str, size: int
) -> None:
    enc = _codec.G726Encoder(bits, packing)
    data = enc.encode(signal) + enc.flush()
    expected = _codec.G726Decoder(bits, packing).decode(data)
    dec = _codec.G726Decoder(bits, packing)
    got = np.concatenate([dec.decode(chunk) for chunk in chunks(data, size)])
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("size", [1, 7, 101])
@pytest.mark.parametrize("law", ["alaw", "ulaw"])
def test_chunked_law_coding_equals_whole(g726_dir: Path, law: str, size: int) -> None:
    law_in = read_low_bytes(g726_dir / f"nrm.{'a' if law == 'alaw' else 'm'}")[:3000]
    enc = _codec.G726Encoder(3, "qi", law)
    data = b"".join(enc.encode(c) for c in chunks(law_in, size)) + enc.flush()
    whole = _codec.G726Encoder(3, "qi", law)
    assert data == whole.encode(law_in) + whole.flush()
    dec = _codec.G726Decoder(3, "qi", law)
    out = b"".join(dec.decode(c) for c in chunks(data, size))
    assert out == _codec.G726Decoder(3, "qi", law).decode(data)


def test_threads_give_identical_output(signal: np.ndarray) -> None:
    """The coding loops run without the GIL: coders in parallel threads must not interfere."""
    long_signal = np.tile(signal, 20)

    def round_trip(_: int) -> tuple[bytes, np.ndarray]:
        enc = _codec.G726Encoder(3, "qi")
        data = enc.encode(long_signal) + enc.flush()
        return data, _codec.G726Decoder(3, "qi").decode(data)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(round_trip, range(8)))
    first_data, first_pcm = results[0]
    for data, pcm in results[1:]:
        assert data == first_data
        np.testing.assert_array_equal(pcm, first_pcm)


def test_flush_keeps_the_adpcm_state(signal: np.ndarray) -> None:
    """flush() ends the byte stream, not the ADPCM stream: what follows continues the
    same code sequence on a fresh byte boundary."""
    codes = unpacked_codes(3, signal)
    enc = _codec.G726Encoder(3, "aal2")
    first = enc.encode(signal[:1001]) + enc.flush()
    second = enc.encode(signal[1001:]) + enc.flush()
    assert first == reference_pack(codes[:1001], 3, "aal2")
    assert second == reference_pack(codes[1001:], 3, "aal2")


@pytest.mark.parametrize("packing", PACKINGS)
def test_reset_returns_to_the_initial_state(signal: np.ndarray, packing: str) -> None:
    enc = _codec.G726Encoder(3, packing)
    fresh = enc.encode(signal[:500]) + enc.flush()
    enc.encode(signal[500:1001])  # leaves state and (for packed) pending bits behind
    enc.reset()
    assert enc.pending_bits == 0
    assert enc.encode(signal[:500]) + enc.flush() == fresh

    dec = _codec.G726Decoder(3, packing)
    pcm = dec.decode(fresh)
    dec.decode(b"\x5a\xc3\x07")
    dec.reset()
    assert dec.pending_bits == 0
    np.testing.assert_array_equal(dec.decode(fresh), pcm)


def test_linear_decode_tracks_the_input(signal: np.ndarray) -> None:
    """A sanity bound, not bit-exactness (the vectors cover that): G.726-32 of a chirp
    reconstructs it with an SNR well above 10 dB."""
    enc = _codec.G726Encoder(4, "rfc3551")
    pcm = _codec.G726Decoder(4, "rfc3551").decode(enc.encode(signal) + enc.flush())
    error = pcm[: len(signal)].astype(float) - signal
    snr = 10 * np.log10(np.sum(signal.astype(float) ** 2) / np.sum(error**2))
    assert snr > 10


def test_empty_input() -> None:
    enc = _codec.G726Encoder(3, "qi")
    assert enc.encode(np.zeros(0, dtype=np.int16)) == b""
    assert enc.flush() == b""
    out = _codec.G726Decoder(3, "qi").decode(b"")
    assert out.dtype == np.int16
    assert out.shape == (0,)


# ---- properties and errors ------------------------------------------------------------


def test_properties() -> None:
    enc = _codec.G726Encoder(3, "qi", "ulaw")
    assert (enc.bits, enc.packing, enc.law, enc.pending_bits) == (3, "qi", "ulaw", 0)
    dec = _codec.G726Decoder(5)
    assert (dec.bits, dec.packing, dec.law, dec.pending_bits) == (5, "rfc3551", "linear", 0)
    assert repr(dec) == "G726Decoder(bits=5, packing='rfc3551', law='linear')"
    with pytest.raises(AttributeError):
        enc.bits = 4  # type: ignore[misc]


@pytest.mark.parametrize("cls", [_codec.G726Encoder, _codec.G726Decoder])
@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((1,), "bits"),
        ((6,), "bits"),
        ((0,), "bits"),
        ((3, "lsb"), "packing"),
        ((3, "QI"), "packing"),
        ((3, "qi", "pcm"), "law"),
    ],
    ids=["bits-1", "bits-6", "bits-0", "packing-lsb", "packing-QI", "law-pcm"],
)
def test_bad_arguments_are_value_errors(cls: type, args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cls(*args)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint8])
def test_linear_encoder_rejects_other_dtypes(dtype: type) -> None:
    with pytest.raises(TypeError, match="int16"):
        _codec.G726Encoder(3).encode(np.zeros(16, dtype=dtype))


def test_linear_encoder_rejects_bytes() -> None:
    with pytest.raises(TypeError, match="int16"):
        _codec.G726Encoder(3).encode(b"\x00\x01")


def test_linear_encoder_rejects_two_dimensions() -> None:
    with pytest.raises(ValueError, match="one-dimensional"):
        _codec.G726Encoder(3).encode(np.zeros((8, 2), dtype=np.int16))


def test_law_encoder_rejects_pcm() -> None:
    with pytest.raises(TypeError, match="bytes-like"):
        _codec.G726Encoder(3, "qi", "alaw").encode(np.zeros(16, dtype=np.int16))


@pytest.mark.parametrize("law", ["linear", "ulaw"])
def test_decoder_rejects_non_bytes(law: str) -> None:
    dec = _codec.G726Decoder(3, "qi", law)
    with pytest.raises(TypeError):
        dec.decode(np.zeros(4, dtype=np.int16))
    with pytest.raises(TypeError):
        dec.decode("text")
    with pytest.raises(ValueError, match="one-dimensional"):
        dec.decode(np.zeros((2, 2), dtype=np.uint8))
