"""G.722 against the ITU-T G.191 STL conformance sequences, bit for bit.

The sequences are speech (inpsp.bin, 16 kHz, 16-bit), its 64 kbit/s coding (codspw.cod)
and the decoder output for that coding in each of the three modes (outsp1/2/3.bin).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.support.vectors import read_low_bytes, read_words

from polyptt._codec import G722Decoder, G722Encoder


@pytest.fixture(scope="module")
def g722_dir(testvectors: Path) -> Path:
    return testvectors / "g722"


@pytest.fixture(scope="module")
def codes(g722_dir: Path) -> bytes:
    return read_low_bytes(g722_dir / "codspw.cod")


def test_encoder_reproduces_codspw(g722_dir: Path, codes: bytes) -> None:
    speech = read_words(g722_dir / "inpsp.bin")
    assert len(speech) == 2 * len(codes) == 97536

    encoder = G722Encoder()
    assert encoder.encode(speech) == codes
    assert encoder.pending == 0


@pytest.mark.parametrize("mode", [1, 2, 3])
def test_decoder_reproduces_outsp(g722_dir: Path, codes: bytes, mode: int) -> None:
    expected = read_words(g722_dir / f"outsp{mode}.bin")

    decoded = G722Decoder(mode).decode(codes)

    assert decoded.dtype == np.int16
    np.testing.assert_array_equal(decoded, expected)


def test_packed_codsp_holds_the_same_codes(g722_dir: Path, codes: bytes) -> None:
    # codsp.cod packs two codes per 16-bit word, written high byte first (the STL's
    # Unix byte order), so each pair of bytes is swapped against the stream order.
    packed = (g722_dir / "codsp.cod").read_bytes()
    assert len(packed) == len(codes)

    unswapped = np.frombuffer(packed, dtype=np.uint8).reshape(-1, 2)[:, ::-1].tobytes()
    assert unswapped == codes
    assert packed != codes  # the swap is real, not a no-op on this data
