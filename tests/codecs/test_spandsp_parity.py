"""polyptt's codecs agree with spandsp, an independent implementation, on arbitrary signals.

The ITU vectors pin the codecs down on a few sequences; spandsp (Debian's libspandsp, used
by Asterisk and FreeSWITCH) lets every signal kind in :mod:`tests.support.signals` be checked too,
byte for byte and sample for sample. spandsp's default G.722 mode (QMF on, 16-bit linear)
and its G.726 linear interworking compute the ITU algorithm (the G.722 vectors are checked
below), so in general no transform is needed. spandsp departs from the ITU in three known
places, each documented and compared exactly where it is tested:

- G.722 on overload: no 15-bit limit on the QMF band signals, and a wrapping output cast;
- G.726 linear output on overload: a wrapping cast where polyptt saturates;
- mu-law encoding of negative samples: spandsp rounds by the two's-complement magnitude
  ``-x`` where G.711 (and the ITU STL vectors) use the one's complement ``~x = -x - 1``, so
  for negative x spandsp's code is G.711's code of ``x - 1``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from tests.support import signals, spandsp_ref
from tests.support.vectors import read_low_bytes, read_words

from polyptt import codecs

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
            f"polyptt {int(a[i])}, spandsp {int(b[i])} (context polyptt {a[i : i + 6].tolist()}, "
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
#
# spandsp departs from the ITU algorithm in two places, both only on overload:
# - its transmit QMF does not limit the two band signals to 15 bits, [-16384, 16383] (the
#   STL's qmf_tx does; later spandsp versions keep the limit under RUN_LIKE_REFERENCE_G722
#   only). The limit can act only when peak * sum|h| reaches 2^28, i.e. above about -4 dBFS.
#   After the first pair where it acts the two encoders' states differ, so bytes are
#   compared up to that pair, found by computing spandsp's unlimited band signals below.
# - its receive QMF casts the output to int16 without saturating, so an overloaded sample
#   wraps where the STL (and polyptt) saturate. Samples are compared modulo 2^16, with
#   polyptt at the rail wherever they differ; the decoder state does not depend on the
#   output, so this is the only effect.

# The 24 QMF coefficients (Table 2/G.722) are symmetric: h(23 - i) = h(i).
QMF_HALF = [3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876]
QMF_EVEN_TAPS = np.array((QMF_HALF + QMF_HALF[::-1])[0::2], dtype=np.int64)


def first_limited_pair(pcm: npt.NDArray[np.int16]) -> int:
    """Index of the first sample pair whose band signal the ITU 15-bit limit changes.

    len(pcm) // 2 if there is none. The band signals are spandsp's: for each new pair the
    newest 24 samples, even and odd taps summed apart and combined, scaled by 2^-14.
    """
    padded = np.concatenate([np.zeros(22, dtype=np.int64), pcm.astype(np.int64)])
    windows = np.lib.stride_tricks.sliding_window_view
    older = windows(padded[0::2], 12) @ QMF_EVEN_TAPS  # first sample of each pair
    newer = windows(padded[1::2], 12) @ QMF_EVEN_TAPS[::-1]
    bands = np.stack([(newer + older) >> 14, (newer - older) >> 14])
    limited = np.any((bands < -16384) | (bands > 16383), axis=0)
    return int(np.argmax(limited)) if limited.any() else len(pcm) // 2


def assert_equal_but_wrapped(ours: npt.NDArray[np.int16], ref: npt.NDArray[np.int16]) -> None:
    """`ref` is `ours` except where ours saturated and ref wrapped around modulo 2^16."""
    assert len(ours) == len(ref)
    ours32, ref32 = ours.astype(np.int32), ref.astype(np.int32)
    differ = ours32 != ref32
    unwrapped = ref32 + np.where(differ, np.sign(ours32) * 65536, 0)
    assert_identical(np.clip(unwrapped, -32768, 32767), ours32)


@pytest.mark.parametrize("kind", KINDS)
def test_g722_encode(spandsp, kind: str) -> None:
    pcm = signals.KINDS[kind](16000)
    comparable = first_limited_pair(pcm)
    if kind in ("speech", "silence"):
        assert comparable == len(pcm) // 2  # all of it: no overload
    ours, ref = codecs.encode("g722", pcm), spandsp.g722_encode(pcm)
    assert len(ours) == len(ref)
    assert_identical(ours[:comparable], ref[:comparable])


def test_g722_limit_is_where_spandsp_departs(spandsp) -> None:
    """The comparison above is not vacuous: full-scale signals do hit the limit, and the
    same signals 4.5 dB down (peak 20000, where it cannot act) match in full."""
    for kind in ("chirp", "clipped"):
        loud = signals.KINDS[kind](16000)
        assert first_limited_pair(loud) < len(loud) // 2
        assert codecs.encode("g722", loud) != spandsp.g722_encode(loud)
        quieter = (loud.astype(np.int32) * 20000 // 32768).astype(np.int16)
        assert first_limited_pair(quieter) == len(quieter) // 2
        assert_identical(codecs.encode("g722", quieter), spandsp.g722_encode(quieter))


@pytest.mark.parametrize("kind", KINDS)
def test_g722_decode(spandsp, kind: str) -> None:
    coded = spandsp.g722_encode(signals.KINDS[kind](16000))
    ours, ref = codecs.decode("g722", coded), spandsp.g722_decode(coded)
    if kind in ("speech", "silence"):
        assert_identical(ours, ref)
    else:
        assert_equal_but_wrapped(ours, ref)


def test_g722_decode_arbitrary_codes(spandsp) -> None:
    coded = random_codes(8000, seed=9)
    assert_equal_but_wrapped(codecs.decode("g722", coded), spandsp.g722_decode(coded))


# G.726, 16-bit linear, every rate in both bit orders
#
# Linear output is the reconstructed signal SR (14-bit scale) times 4. SR can exceed the
# 14-bit range on loud or arbitrary input; spandsp then casts to int16 and wraps, polyptt
# saturates (G.726 itself only defines law output, where COMPRESS saturates too). The
# decoder state does not depend on the output, so outputs compare modulo 2^16 as in G.722.


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
    assert_equal_but_wrapped(ours, spandsp.g726_decode(coded, bits, packing))


@pytest.mark.parametrize("packing", sorted(PACKINGS))
@pytest.mark.parametrize(("bits", "kbps"), G726_RATES)
def test_g726_decode_arbitrary_codes(spandsp, bits: int, kbps: int, packing: str) -> None:
    coded = random_codes(bits * 1000, seed=bits)
    ours = codecs.decode(f"g726-{kbps}{PACKINGS[packing]}", coded)
    assert_equal_but_wrapped(ours, spandsp.g726_decode(coded, bits, packing))


# G.726QI is AAL2-packed G.726-24 with every byte's bits reversed.


@pytest.mark.parametrize("kind", KINDS)
def test_g726qi_encode(spandsp, kind: str) -> None:
    pcm = signals.KINDS[kind](8000)
    aal2 = np.frombuffer(spandsp.g726_encode(pcm, 3, "aal2"), dtype=np.uint8)
    assert_identical(codecs.encode("g726qi", pcm), BIT_REVERSED[aal2].tobytes())


def test_g726qi_decode(spandsp) -> None:
    coded = np.frombuffer(random_codes(3000, seed=26), dtype=np.uint8)
    ours = codecs.decode("g726qi", BIT_REVERSED[coded].tobytes())
    assert_equal_but_wrapped(ours, spandsp.g726_decode(coded.tobytes(), 3, "aal2"))


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
