"""Debian's spandsp as an independent reference for polyptt's codecs (tests and benchmarks only).

polyptt never links spandsp: its codecs are written from the ITU-T recommendations. spandsp
is a second, widely deployed implementation (Asterisk, FreeSWITCH), so agreement with it on
arbitrary signals is evidence beyond the ITU vectors, and a mismatch is worth a close look.

spandsp is reached with ctypes on libspandsp.so, no compiler needed. Each call codes a whole
buffer in one C call from a fresh state, so timing a call measures spandsp's own loop, not
Python's, which keeps the benchmark comparison fair.

What spandsp's modes mean for parity (checked on Debian's 0.0.6):

- G.722: the default mode (options 0, band-split QMF on, 16-bit linear in and out) gives
  exactly the ITU-T G.722 vectors (inpsp.bin -> codspw.cod, codspw.cod -> outsp1.bin), so it
  is compared with polyptt as is. Its "ITU test mode" bypasses the QMF for the older digital
  test sequences (one code per input sample) and is not comparable to a full codec.
- G.722 and G.726 outputs are cast to int16 without saturation, so overloaded samples wrap
  around (polyptt saturates); the parity tests compare those modulo 2^16.
- G.726: linear interworking drops the two low bits of a sample (the standard's 14-bit
  uniform PCM) and shifts decoded samples back up by two, as polyptt does.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np
import numpy.typing as npt

#: spandsp's G726_PACKING_* values under the packing names polyptt uses.
G726_PACKINGS = {"none": 0, "aal2": 1, "rfc3551": 2}
_G726_ENCODING_LINEAR = 0
_G711_LAWS = {"alaw": 0, "ulaw": 1}  # G711_ALAW, G711_ULAW


def _find_library() -> str | None:
    return ctypes.util.find_library("spandsp")


def missing_reason() -> str | None:
    """Why spandsp cannot be used here, or None when it can."""
    if _find_library() is None:
        return "spandsp is not installed (apt install libspandsp2 / libspandsp-dev)"
    return None


def load() -> Spandsp:
    """Load libspandsp.

    Raises
    ------
    RuntimeError
        If spandsp is not installed (see :func:`missing_reason`).
    """
    name = _find_library()
    if name is None:
        raise RuntimeError(missing_reason())
    return Spandsp(ctypes.CDLL(name))


def _declare(lib: ctypes.CDLL, name: str, restype: object, *argtypes: object) -> None:
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = list(argtypes)


def _pcm_in(pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    if pcm.dtype != np.int16 or pcm.ndim != 1:
        raise TypeError("pcm must be a one-dimensional int16 array")
    return np.ascontiguousarray(pcm)


def _bytes_in(data: bytes | bytearray | memoryview) -> npt.NDArray[np.uint8]:
    return np.frombuffer(bytes(data), dtype=np.uint8)


class Spandsp:
    """spandsp's G.711, G.722 (64 kbit/s, 16 kHz) and G.726 (16-bit linear) on whole buffers.

    Every call starts from a fresh codec state, as polyptt's one-shot ``codecs.encode``.
    """

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        ptr, num = ctypes.c_void_p, ctypes.c_int
        for family in ("g722_encode", "g722_decode"):
            _declare(lib, f"{family}_init", ptr, ptr, num, num)
            _declare(lib, f"{family}_free", num, ptr)
            _declare(lib, family, num, ptr, ptr, ptr, num)
        _declare(lib, "g726_init", ptr, ptr, num, num, num)
        _declare(lib, "g726_free", num, ptr)
        _declare(lib, "g711_init", ptr, ptr, num)
        _declare(lib, "g711_free", num, ptr)
        for function in ("g726_encode", "g726_decode", "g711_encode", "g711_decode"):
            _declare(lib, function, num, ptr, ptr, ptr, num)

    def _code(
        self, init: str, coder: str, init_args: tuple[int, ...], out: np.ndarray, source: np.ndarray
    ) -> int:
        """Create an `init` state, run `coder` over all of `source` in one call, free it."""
        lib = self._lib
        state = getattr(lib, f"{init}_init")(None, *init_args)
        if not state:
            raise RuntimeError(f"spandsp {init}_init{init_args} failed")
        try:
            return int(getattr(lib, coder)(state, out.ctypes.data, source.ctypes.data, len(source)))
        finally:
            getattr(lib, f"{init}_free")(state)

    def g722_encode(self, pcm: npt.NDArray[np.int16]) -> bytes:
        """G.722 64 kbit/s codes of 16 kHz `pcm` (even length: spandsp reads sample pairs)."""
        pcm = _pcm_in(pcm)
        if len(pcm) % 2:
            raise ValueError("spandsp's G.722 encoder needs an even number of samples")
        out = np.empty(len(pcm) // 2, dtype=np.uint8)
        n = self._code("g722_encode", "g722_encode", (64000, 0), out, pcm)
        return out[:n].tobytes()

    def g722_decode(self, data: bytes | bytearray | memoryview) -> npt.NDArray[np.int16]:
        """16 kHz PCM of G.722 64 kbit/s `data`."""
        codes = _bytes_in(data)
        out = np.empty(2 * len(codes), dtype=np.int16)
        n = self._code("g722_decode", "g722_decode", (64000, 0), out, codes)
        return out[:n]

    def g726_encode(self, pcm: npt.NDArray[np.int16], bits: int, packing: str) -> bytes:
        """G.726 codes (`bits` per sample) of 8 kHz `pcm`, packed as `packing`.

        spandsp keeps a trailing partial byte to itself: only whole bytes come out.
        """
        pcm = _pcm_in(pcm)
        out = np.empty(len(pcm) + 1, dtype=np.uint8)
        args = (8000 * bits, _G726_ENCODING_LINEAR, G726_PACKINGS[packing])
        n = self._code("g726", "g726_encode", args, out, pcm)
        return out[:n].tobytes()

    def g726_decode(
        self, data: bytes | bytearray | memoryview, bits: int, packing: str
    ) -> npt.NDArray[np.int16]:
        """8 kHz PCM of G.726 `data` (`bits` per code word, packed as `packing`)."""
        codes = _bytes_in(data)
        out = np.empty(4 * len(codes) + 8, dtype=np.int16)
        args = (8000 * bits, _G726_ENCODING_LINEAR, G726_PACKINGS[packing])
        n = self._code("g726", "g726_decode", args, out, codes)
        return out[:n]

    def g711_encode(self, pcm: npt.NDArray[np.int16], law: str) -> bytes:
        """G.711 codes of `pcm`; `law` is ``"ulaw"`` or ``"alaw"``."""
        pcm = _pcm_in(pcm)
        out = np.empty(len(pcm), dtype=np.uint8)
        n = self._code("g711", "g711_encode", (_G711_LAWS[law],), out, pcm)
        return out[:n].tobytes()

    def g711_decode(self, data: bytes | bytearray | memoryview, law: str) -> npt.NDArray[np.int16]:
        """Linear PCM of G.711 `data`; `law` is ``"ulaw"`` or ``"alaw"``."""
        codes = _bytes_in(data)
        out = np.empty(len(codes), dtype=np.int16)
        n = self._code("g711", "g711_decode", (_G711_LAWS[law],), out, codes)
        return out[:n]
