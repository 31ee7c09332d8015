"""polyptt's codecs agree with spandsp, an independent implementation, on arbitrary signals.

The ITU vectors pin the codecs down on a few sequences; spandsp (Debian's libspandsp, used
by Asterisk and FreeSWITCH) lets every signal kind in :mod:`tests.signals` be checked too,
byte for byte and sample for sample. The comparisons need no transform: spandsp's default
G.722 mode (QMF on, 16-bit linear) and its G.726 linear interworking reproduce the ITU
vectors exactly (checked below), so both sides compute the same function.

The one documented divergence: spandsp's mu-law encoder rounds negative samples by their
two's-complement magnitude ``-x`` where G.711 (and the ITU STL vectors) use the one's
complement ``~x = -x - 1``; so for negative x spandsp's code is G.711's code of ``x - 1``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from polyptt import codecs

from tests import signals, spandsp_ref
from tests.vectors import read_low_bytes, read_words

KINDS = sorted(signals.KINDS)
G726_RATES = [(2, 16), (3, 24), (4, 32), (5, 40)]
PACKINGS = {"aal2": "-aal2", "rfc3551": ""}  # spandsp packing name -> polyptt name suffix
BIT_REVERSED = np.array([int(f"{i:08b}"[::-1], 2) for i in range(256)], dtype=np.uint8)


@pytest.fixture(scope="module")
def spandsp() -> spandsp_ref.Spandsp:
    reason = spandsp_ref.missing_reason()
    if reason is not None:
        pytest.skip(reason)
    return spandsp_ref.load()


def assert_identical(ours: bytes | npt.NDArray[np.int16], ref: bytes | npt.NDArray[np.int16]):
    """Equal length and content; on failure, name the first differing index and both values."""
    a = np.frombuffer(ours, dtype=np.uint8) if isinstance(ours, bytes) else np.asarray(ours)
    b = np.frombuffer(ref, dtype=np.uint8) if isinstance(ref, bytes) else np.asarray(ref)
    assert len(a) == len(b), f"length: polyptt {len(a)}, spandsp {len(b)}"
    differ = np.flatnonzero(a != b)
    if len(differ):
        i = differ[0]
        pytest.fail(
            f"{len(differ)} of {len(a)} differ; first at index {i}: "
            f"polyptt {a[i]!r}, spandsp {b[i]!r} (context polyptt {a[i : i + 6].tolist()}, "
            f"spandsp {b[i : i + 6].tolist()})"
        )


def random_codes(n: int, seed: int) -> bytes:
    """Arbitrary coded bytes: decoders must agree on streams no encoder would make."""
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


# The reference itself is the ITU algorithm: no transform is needed to compare.


def test_spandsp_g722_reproduces_the_itu_vectors(spandsp, testvectors) -> None:
    folder = testvectors / "g722"
    codes = read_low_bytes(folder / "codspw.cod")
    assert spandsp.g722_encode(read_words(folder / "inpsp.bin")) == codes
    np.testing.assert_array_equal(spandsp.g722_decode(codes), read_words(folder / "outsp1.bin"))


# G.722, 64 kbit/s, 16 kHz


@pytest.mark.parametrize("kind", KINDS)
def test_g722_encode(spandsp, kind: str) -> None:
    pcm = signals.KINDS[kind](16000)
    assert_identical(codecs.encode("g722", pcm), spandsp.g722_encode(pcm))


@pytest.mark.parametrize("kind", KINDS)
def test_g722_decode(spandsp, kind: str) -> None:
    coded = spandsp.g722_encode(signals.KINDS[kind](16000))
    assert_identical(codecs.decode("g722", coded), spandsp.g722_decode(coded))


def test_g722_decode_arbitrary_codes(spandsp) -> None:
    coded = random_codes(8000, seed=9)
    assert_identical(codecs.decode("g722", coded), spandsp.g722_decode(coded))


# G.726, 16-bit linear, every rate in both bit orders


@pytest.mark.parametrize("packing", sorted(PACKINGS))
@pytest.mark.parametrize(("bits", "kbps"), G726_RATES)
@pytest.mark.parametrize("kind", KINDS)
def test_g726_encode(spandsp, kind: str, bits: int, kbps: int, packing: str) -> None:
    pcm = signals.KINDS[kind](8000)
    ours = codecs.encode(f"g726-{kbps}{PACKINGS[packing]}", pcm)
    assert_identical(ours, spandsp.g726_encode(pcm, bits, packing))


@pytest.mark.parametrize("packing", sorted(PACKINGS))
@pytest.mark.parametrize(("bits", "kbps"), G726_RATES)
@pytest.mark.parametrize("kind", KINDS)
def test_g726_decode(spandsp, kind: str, bits: int, kbps: int, packing: str) -> None:
    coded = spandsp.g726_encode(signals.KINDS[kind](8000), bits, packing)
    ours = codecs.decode(f"g726-{kbps}{PACKINGS[packing]}", coded)
    assert_identical(ours, spandsp.g726_decode(coded, bits, packing))


@pytest.mark.parametrize("packing", sorted(PACKINGS))
@pytest.mark.parametrize(("bits", "kbps"), G726_RATES)
def test_g726_decode_arbitrary_codes(spandsp, bits: int, kbps: int, packing: str) -> None:
    coded = random_codes(bits * 1000, seed=bits)
    ours = codecs.decode(f"g726-{kbps}{PACKINGS[packing]}", coded)
    assert_identical(ours, spandsp.g726_decode(coded, bits, packing))


# G.726QI is AAL2-packed G.726-24 with every byte's bits reversed.


@pytest.mark.parametrize("kind", KINDS)
def test_g726qi_encode(spandsp, kind: str) -> None:
    pcm = signals.KINDS[kind](8000)
    aal2 = np.frombuffer(spandsp.g726_encode(pcm, 3, "aal2"), dtype=np.uint8)
    assert_identical(codecs.encode("g726qi", pcm), BIT_REVERSED[aal2].tobytes())


def test_g726qi_decode(spandsp) -> None:
    coded = np.frombuffer(random_codes(3000, seed=26), dtype=np.uint8)
    ours = codecs.decode("g726qi", BIT_REVERSED[coded].tobytes())
    assert_identical(ours, spandsp.g726_decode(coded.tobytes(), 3, "aal2"))


# G.711: every input value, every code


EVERY_SAMPLE = np.arange(-32768, 32768, dtype=np.int16)
EVERY_CODE = bytes(range(256))


def test_g711a_encode_every_sample(spandsp) -> None:
    ours = codecs.encode("g711a", EVERY_SAMPLE)
    assert_identical(ours, spandsp.g711_encode(EVERY_SAMPLE, "alaw"))


@pytest.mark.parametrize(("name", "law"), [("g711a", "alaw"), ("g711u", "ulaw")])
def test_g711_decode_every_code(spandsp, name: str, law: str) -> None:
    assert_identical(codecs.decode(name, EVERY_CODE), spandsp.g711_decode(EVERY_CODE, law))


def test_g711u_encode_every_sample(spandsp) -> None:
    """Equal for x >= 0; for negative x spandsp's code is G.711's code of x - 1 (see top)."""
    ours = np.frombuffer(codecs.encode("g711u", EVERY_SAMPLE), dtype=np.uint8)
    ref = np.frombuffer(spandsp.g711_encode(EVERY_SAMPLE, "ulaw"), dtype=np.uint8)
    negative = EVERY_SAMPLE < 0
    assert_identical(ours[~negative].tobytes(), ref[~negative].tobytes())
    # ours[i - 1] is the code of EVERY_SAMPLE[i] - 1; -32768 has no x - 1 in range.
    assert_identical(ours[0:32767].tobytes(), ref[1:32768].tobytes())
    # The divergence is real (so this test checks the documented relation, not equality):
    # it shows wherever -x sits on a quantizer step boundary.
    assert np.count_nonzero(ours[negative] != ref[negative]) > 0
