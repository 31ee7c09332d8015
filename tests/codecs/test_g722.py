"""G.722 codec behaviour beyond the conformance vectors: streaming, state, arguments.

Streaming matters because packets carry 20-40 ms of audio and sound cards deliver
arbitrary block sizes: coding a signal in pieces must give exactly the bytes (and
samples) of coding it whole.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyptt._codec import G722Decoder, G722Encoder

RATE = 16000
CODEC_DELAY = 22  # samples through transmit + receive QMF


def _signal(n: int, seed: int = 722) -> np.ndarray:
    """Speech-like test input: two tones, a sweep and noise, with full-scale bursts."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    x = 9000 * np.sin(2 * np.pi * 440 * t) + 5000 * np.sin(2 * np.pi * (300 + 2000 * t) * t)
    x += rng.normal(0, 2000, n)
    x[n // 3 : n // 3 + 200] = 32767 * np.sign(np.sin(2 * np.pi * 1100 * t[:200]))
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


SIGNAL = _signal(8001)  # odd on purpose: the last sample stays pending
CODES = np.random.default_rng(9).integers(0, 256, 4001, dtype=np.uint8).tobytes()


def _encode_in_chunks(x: np.ndarray, sizes: list[int]) -> bytes:
    encoder = G722Encoder()
    out = []
    start = 0
    for size in sizes:
        out.append(encoder.encode(x[start : start + size]))
        start += size
    out.append(encoder.encode(x[start:]))
    return b"".join(out) + encoder.flush()


def _decode_in_chunks(data: bytes, sizes: list[int], mode: int = 1) -> np.ndarray:
    decoder = G722Decoder(mode)
    out = []
    start = 0
    for size in sizes:
        out.append(decoder.decode(data[start : start + size]))
        start += size
    out.append(decoder.decode(data[start:]))
    return np.concatenate(out)


def _whole(x: np.ndarray) -> bytes:
    encoder = G722Encoder()
    return encoder.encode(x) + encoder.flush()


# --- streaming -------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 99, 100, 101, 479, 480, 481, 4095])
def test_chunked_encode_equals_whole(chunk: int) -> None:
    whole = _whole(SIGNAL)
    assert len(whole) == (len(SIGNAL) + 1) // 2

    assert _encode_in_chunks(SIGNAL, [chunk] * (len(SIGNAL) // chunk)) == whole


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 99, 101, 240, 241, 4000])
@pytest.mark.parametrize("mode", [1, 2, 3])
def test_chunked_decode_equals_whole(chunk: int, mode: int) -> None:
    whole = G722Decoder(mode).decode(CODES)

    chunked = _decode_in_chunks(CODES, [chunk] * (len(CODES) // chunk), mode)

    np.testing.assert_array_equal(chunked, whole)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 700), max_size=30))
def test_any_chunking_gives_the_same_stream(sizes: list[int]) -> None:
    codes = _whole(SIGNAL)
    assert _encode_in_chunks(SIGNAL, sizes) == codes
    np.testing.assert_array_equal(_decode_in_chunks(codes, sizes), G722Decoder().decode(codes))


def test_odd_sample_waits_and_flush_pads_it_with_zero() -> None:
    encoder = G722Encoder()
    assert encoder.encode(SIGNAL[:3]) == _whole(SIGNAL[:2])
    assert encoder.pending == 1

    padded = np.append(SIGNAL[:3], np.int16(0))
    assert encoder.flush() == G722Encoder().encode(padded)[1:]
    assert encoder.pending == 0
    assert encoder.flush() == b""


# --- lengths ---------------------------------------------------------------------------


def test_empty_input() -> None:
    encoder = G722Encoder()
    assert encoder.encode(np.zeros(0, np.int16)) == b""
    assert encoder.pending == 0
    assert encoder.flush() == b""

    out = G722Decoder().decode(b"")
    assert out.dtype == np.int16
    assert out.shape == (0,)


def test_one_sample_gives_no_byte_until_flushed() -> None:
    encoder = G722Encoder()
    assert encoder.encode(SIGNAL[:1]) == b""
    assert encoder.pending == 1
    assert encoder.flush() == G722Encoder().encode(np.array([SIGNAL[0], 0], np.int16))


def test_two_samples_give_one_byte() -> None:
    encoder = G722Encoder()
    assert len(encoder.encode(SIGNAL[:2])) == 1
    assert encoder.pending == 0


@pytest.mark.parametrize("n", [0, 1, 2, 240, 4001])
def test_decoder_gives_two_samples_per_byte(n: int) -> None:
    out = G722Decoder().decode(CODES[:n])
    assert out.dtype == np.int16
    assert out.shape == (2 * n,)


@pytest.mark.parametrize(
    "data",
    [
        CODES,
        bytearray(CODES),
        memoryview(CODES),
        np.frombuffer(CODES, dtype=np.uint8),
    ],
    ids=["bytes", "bytearray", "memoryview", "uint8-array"],
)
def test_decoder_accepts_any_bytes_like(data: object) -> None:
    np.testing.assert_array_equal(G722Decoder().decode(data), G722Decoder().decode(CODES))


# --- state -----------------------------------------------------------------------------


def test_encoder_reset_restores_the_initial_state() -> None:
    encoder = G722Encoder()
    first = encoder.encode(SIGNAL)
    assert encoder.pending == 1

    encoder.reset()
    assert encoder.pending == 0
    assert encoder.encode(SIGNAL) == first
    assert first == G722Encoder().encode(SIGNAL)


def test_encoder_state_carries_over_between_calls() -> None:
    encoder = G722Encoder()
    encoder.encode(SIGNAL[:2000])
    # Same input, different history: the adaptive state must show in the codes.
    assert encoder.encode(SIGNAL[:2000]) != G722Encoder().encode(SIGNAL[:2000])


@pytest.mark.parametrize("mode", [1, 2, 3])
def test_decoder_reset_restores_the_initial_state(mode: int) -> None:
    decoder = G722Decoder(mode)
    first = decoder.decode(CODES)

    decoder.reset()
    assert decoder.mode == mode
    np.testing.assert_array_equal(decoder.decode(CODES), first)


def test_modes_differ_only_in_the_trusted_low_band_bits() -> None:
    outputs = {mode: G722Decoder(mode).decode(CODES) for mode in (1, 2, 3)}
    assert not np.array_equal(outputs[1], outputs[2])
    assert not np.array_equal(outputs[2], outputs[3])
    # Clearing the bits a mode ignores changes nothing in that mode.
    codes = np.frombuffer(CODES, dtype=np.uint8)
    np.testing.assert_array_equal(G722Decoder(2).decode(codes & 0xFE), outputs[2])
    np.testing.assert_array_equal(G722Decoder(3).decode(codes & 0xFC), outputs[3])


def test_round_trip_preserves_a_tone() -> None:
    t = np.arange(RATE) / RATE
    tone = np.round(16000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)

    decoded = G722Decoder().decode(G722Encoder().encode(tone)).astype(float)

    reference = tone[2000:-100].astype(float)
    error = decoded[2000 + CODEC_DELAY : len(decoded) - 100 + CODEC_DELAY] - reference
    snr_db = 10 * np.log10(np.sum(reference**2) / np.sum(error**2))
    assert snr_db > 40


def test_threads_give_identical_output() -> None:
    # The loops run without the GIL; separate coders in separate threads must not meet.
    expected = _whole(SIGNAL)
    results: list[bytes] = [b""] * 4

    def work(i: int) -> None:
        chunks = [SIGNAL[j : j + 480] for j in range(0, len(SIGNAL), 480)]
        encoder = G722Encoder()
        results[i] = b"".join(encoder.encode(c) for c in chunks) + encoder.flush()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4


# --- arguments -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32, np.uint16])
def test_encoder_rejects_other_dtypes(dtype: type) -> None:
    with pytest.raises(TypeError):
        G722Encoder().encode(np.zeros(16, dtype=dtype))


def test_encoder_rejects_two_dimensional_pcm() -> None:
    with pytest.raises(ValueError, match="one-dimensional"):
        G722Encoder().encode(np.zeros((8, 2), dtype=np.int16))


@pytest.mark.parametrize("mode", [0, 4, -1])
def test_decoder_rejects_unknown_modes(mode: int) -> None:
    with pytest.raises(ValueError, match=r"mode must be 1 .* 2 .* or 3 .*got " + str(mode)):
        G722Decoder(mode)


def test_decoder_default_mode_is_64k() -> None:
    assert G722Decoder().mode == 1


def test_decoder_rejects_wide_items() -> None:
    with pytest.raises(TypeError, match="bytes-like"):
        G722Decoder().decode(np.zeros(4, dtype=np.int16))
