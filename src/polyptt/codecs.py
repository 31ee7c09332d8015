"""Encoders and decoders for the codecs Poly phones page with, bit-exact to the ITU-T.

The coding itself happens in the compiled core (``polyptt._codec``, C++ with the GIL
released); this module gives it a small, stable face.

Map by purpose
--------------
One-shot coding of a whole signal
    :func:`encode`, :func:`decode`
Streaming (a microphone, a live page): state is kept between calls, so coding a signal
in 30 ms pieces gives exactly the bytes of coding it whole
    :class:`Encoder`, :class:`Decoder`
What a codec is on the wire (sample rate, bytes per frame, wire id, the frame lengths it
is sent in, whether it suits live talk): the one codec table
    :func:`info`, :func:`wire_id`, :func:`by_wire_id`, :data:`NAMES`, :data:`WIRE_NAMES`,
    :data:`LIVE_NAMES`, :class:`CodecInfo`

Codec names
-----------
``g711u``, ``g711a``
    ITU-T G.711 mu-law / A-law, 8 kHz, one byte per sample.
``g722``
    ITU-T G.722 at 64 kbit/s (mode 1), 16 kHz, one byte per two samples.
``g726qi``
    G.726 at 24 kbit/s in the bit order SoundPoint IP 450/550 phones use: AAL2 packing,
    then the bits of every byte reversed.
``g726-16`` ... ``g726-40``
    G.726 at 16/24/32/40 kbit/s packed as RFC 3551 (SDP ``G726-32``): least-significant
    bit first.
``g726-16-aal2`` ... ``g726-40-aal2``
    The same rates packed as ITU-T I.366.2 (AAL2): most-significant bit first.

The table imports neither numpy nor the extension, so a command's ``--help`` can list
the codecs at once; the extension is loaded with the first encoder or decoder.

PCM is always a one-dimensional ``numpy.int16`` array at the codec's sample rate; it is
taken strictly (a float array is a ``TypeError``, never a silent cast). Coded audio is
``bytes`` out and any bytes-like object in.

Examples
--------
>>> import numpy as np
>>> from polyptt import codecs
>>> pcm = np.zeros(480, dtype=np.int16)          # 30 ms at 16 kHz
>>> len(codecs.encode("g722", pcm))
240
>>> codecs.info("g726qi").frame_bytes(30)
90
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from polyptt.protocol import CodecId

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "DEFAULT",
    "LIVE_NAMES",
    "NAMES",
    "WIRE_FRAME_MS",
    "WIRE_NAMES",
    "CodecInfo",
    "Decoder",
    "Encoder",
    "by_wire_id",
    "decode",
    "encode",
    "info",
    "wire_id",
]


#: Frame lengths (ms) a page may have on the wire: 10 to 80 in steps of 10.
WIRE_FRAME_MS: tuple[int, ...] = tuple(range(10, 81, 10))


@dataclass(frozen=True)
class CodecInfo:
    """What the protocol layer, the commands and the relay need to know of a codec.

    Attributes
    ----------
    name : str
        The codec's name in polyptt (``"g722"``, ``"g726qi"``, ...).
    sample_rate : int
        Audio samples per second that the encoder takes and the decoder gives.
    bits_per_sample : int
        Coded bits per audio sample (8 for G.711, 4 for G.722, 2-5 for G.726).
    wire_id : protocol.CodecId or None
        The codec byte of a transmit packet, or None for codecs phones do not page with.
    description : str
        One line for ``--help`` texts and reports.
    frame_ms : tuple of int
        The frame lengths (ms) it is sent in; empty for a codec phones do not page with.
    frame_rule : str
        Why it is sent in those only, if they are fewer than `WIRE_FRAME_MS`.
    live : bool
        Fit for live talk through the relay, whose live pages have 20 ms frames.
    """

    name: str
    sample_rate: int
    bits_per_sample: int
    wire_id: CodecId | None
    description: str
    frame_ms: tuple[int, ...] = ()
    frame_rule: str = ""
    live: bool = False

    def frame_samples(self, ms: int) -> int:
        """Audio samples in a frame of `ms` milliseconds."""
        return self.sample_rate * ms // 1000

    def frame_bytes(self, ms: int) -> int:
        """Coded bytes in a frame of `ms` milliseconds.

        Every codec here codes a whole millisecond (8 or 16 samples) into whole bytes, so
        any whole number of milliseconds is a whole number of bytes.
        """
        return self.frame_samples(ms) * self.bits_per_sample // 8

    def frame_ms_refusal(self, ms: int) -> str | None:
        """Why a page in this codec may not have `ms` ms frames, or None if it may.

        E.g. ``"g726qi is sent in 30 ms frames only (90 bytes, ...), not 20 ms"``.
        """
        if ms in self.frame_ms:
            return None
        if not self.frame_ms:
            return f"{self.name} is not sent to phones"
        if len(self.frame_ms) == 1:
            only = self.frame_ms[0]
            why = f"{self.frame_bytes(only)} bytes, {self.frame_rule}"
            return f"{self.name} is sent in {only} ms frames only ({why}), not {ms} ms"
        lengths = ", ".join(map(str, self.frame_ms))
        return f"{self.name} is sent in frames of {lengths} ms, not {ms} ms"


def _g726_infos() -> list[CodecInfo]:
    infos = []
    for kbps in (16, 24, 32, 40):
        bits = kbps // 8
        infos.append(CodecInfo(f"g726-{kbps}", 8000, bits, None, f"G.726 {kbps} kbit/s, RFC 3551"))
        infos.append(CodecInfo(f"g726-{kbps}-aal2", 8000, bits, None, f"G.726 {kbps} kbit/s, AAL2"))
    return infos


_G726QI_RULE = "as SoundPoint IP 450/550 send them; their receivers expect exactly that"

_INFOS: dict[str, CodecInfo] = {
    i.name: i
    for i in [
        CodecInfo(
            name="g711u",
            sample_rate=8000,
            bits_per_sample=8,
            wire_id=CodecId.G711U,
            description="G.711 mu-law, 8 kHz, 64 kbit/s",
            frame_ms=WIRE_FRAME_MS,
            live=True,
        ),
        CodecInfo("g711a", 8000, 8, None, "G.711 A-law, 8 kHz, 64 kbit/s (files only)"),
        CodecInfo(
            name="g722",
            sample_rate=16000,
            bits_per_sample=4,
            wire_id=CodecId.G722,
            description="G.722, 16 kHz wideband, 64 kbit/s",
            frame_ms=WIRE_FRAME_MS,
            live=True,
        ),
        CodecInfo(
            name="g726qi",
            sample_rate=8000,
            bits_per_sample=3,
            wire_id=CodecId.G726QI,
            description="G.726QI, 24 kbit/s (SoundPoint IP 450/550)",
            frame_ms=(30,),
            frame_rule=_G726QI_RULE,
            live=False,  # the relay's live pages have 20 ms frames
        ),
        *_g726_infos(),
    ]
}

#: Every codec name :func:`info`, :class:`Encoder` and :class:`Decoder` accept.
NAMES: tuple[str, ...] = tuple(_INFOS)

#: The codec a page is sent in unless told otherwise (most phones' best).
DEFAULT = "g722"
#: The codecs phones page with, the default first (as ``--codec`` and the relay offer
#: them).
WIRE_NAMES: tuple[str, ...] = (
    DEFAULT,
    *(i.name for i in _INFOS.values() if i.wire_id is not None and i.name != DEFAULT),
)
#: Of those, the ones a live talk through the relay may use, the default first.
LIVE_NAMES: tuple[str, ...] = tuple(name for name in WIRE_NAMES if _INFOS[name].live)

_BY_WIRE_ID: dict[int, CodecInfo] = {
    int(i.wire_id): i for i in _INFOS.values() if i.wire_id is not None
}


def info(name: str) -> CodecInfo:
    """The :class:`CodecInfo` of codec `name`.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.
    """
    try:
        return _INFOS[name]
    except KeyError:
        raise ValueError(f"unknown codec {name!r}; choose one of {', '.join(NAMES)}") from None


def wire_id(name: str) -> CodecId:
    """The codec byte transmit packets in codec `name` carry.

    Raises
    ------
    ValueError
        For an unknown name, or a codec phones do not page with.
    """
    found = info(name).wire_id
    if found is None:
        raise ValueError(f"phones do not page in {name}; choose one of {', '.join(WIRE_NAMES)}")
    return found


def by_wire_id(wire_id: int) -> CodecInfo:
    """The codec a transmit packet's codec byte names (0x00, 0x09 or 0xFD).

    Raises
    ------
    ValueError
        For a codec byte no phone sends.
    """
    try:
        return _BY_WIRE_ID[wire_id]
    except KeyError:
        raise ValueError(f"unknown wire codec id 0x{wire_id:02X}") from None


def _g726_layout(name: str) -> tuple[int, str]:
    """Bits per code word and packing of a G.726 codec name."""
    if name == "g726qi":
        return 3, "qi"
    parts = name.split("-")  # g726-24 or g726-24-aal2
    return int(parts[1]) // 8, "aal2" if len(parts) == 3 else "rfc3551"


class _Law:
    """G.711 has no state: a stateless stand-in with the streaming interface."""

    def __init__(self, encode: Any, decode: Any) -> None:
        self.encode = encode
        self.decode = decode

    @staticmethod
    def flush() -> bytes:
        return b""

    def reset(self) -> None:
        pass


def _make_coder(name: str, *, encoder: bool) -> Any:
    """The compiled encoder (or decoder) behind codec `name`."""
    from polyptt import _codec  # here, not above: the table needs no extension

    info(name)
    laws = {
        "g711u": (_codec.ulaw_encode, _codec.ulaw_decode),
        "g711a": (_codec.alaw_encode, _codec.alaw_decode),
    }
    if name in laws:
        return _Law(*laws[name])
    if name == "g722":
        return _codec.G722Encoder() if encoder else _codec.G722Decoder(1)
    bits, packing = _g726_layout(name)
    return (_codec.G726Encoder if encoder else _codec.G726Decoder)(bits, packing)


class Encoder:
    """A streaming encoder: PCM in, coded bytes out, state kept between calls.

    Feeding a signal in pieces of any size gives exactly the bytes of encoding it whole,
    so a live source (microphone, relay) can be coded as it arrives. Codecs whose coded
    units straddle calls (G.722's two samples per byte, G.726 code words that cross byte
    boundaries) hold the remainder until the next call; :meth:`flush` emits it at the end.

    Parameters
    ----------
    name : str
        A codec name from :data:`NAMES`.

    Raises
    ------
    ValueError
        For an unknown codec name.

    Examples
    --------
    >>> import numpy as np
    >>> enc = Encoder("g726qi")
    >>> frame = enc.encode(np.zeros(240, dtype=np.int16))   # 30 ms at 8 kHz
    >>> len(frame)
    90
    """

    def __init__(self, name: str) -> None:
        self.info = info(name)
        self._impl = _make_coder(name, encoder=True)

    def encode(self, pcm: npt.NDArray[np.int16]) -> bytes:
        """Code `pcm` (1-D int16 at ``info.sample_rate``); returns the whole bytes ready.

        Raises
        ------
        TypeError
            If `pcm` is not an int16 array.
        ValueError
            If `pcm` is not one-dimensional.
        """
        return self._impl.encode(pcm)

    def flush(self) -> bytes:
        """The last partial byte, zero-padded, if coded bits are still held; else ``b""``."""
        return self._impl.flush()

    def reset(self) -> None:
        """Return to the initial state, as a new encoder (for a new page)."""
        self._impl.reset()

    def __repr__(self) -> str:
        return f"Encoder({self.info.name!r})"


class Decoder:
    """A streaming decoder: coded bytes in, PCM out, state kept between calls.

    Parameters
    ----------
    name : str
        A codec name from :data:`NAMES`.

    Raises
    ------
    ValueError
        For an unknown codec name.
    """

    def __init__(self, name: str) -> None:
        self.info = info(name)
        self._impl = _make_coder(name, encoder=False)

    def decode(self, data: bytes | bytearray | memoryview) -> npt.NDArray[np.int16]:
        """Decode `data` to 1-D int16 PCM at ``info.sample_rate``.

        G.726 bits that do not complete a code word are held until the next call.
        """
        return self._impl.decode(data)

    def reset(self) -> None:
        """Return to the initial state, as a new decoder (for a new page)."""
        self._impl.reset()

    def __repr__(self) -> str:
        return f"Decoder({self.info.name!r})"


def encode(name: str, pcm: npt.NDArray[np.int16]) -> bytes:
    """Encode a whole signal with codec `name`, from the initial state, flushed.

    See Also
    --------
    Encoder : the same, piece by piece.
    """
    encoder = Encoder(name)
    return encoder.encode(pcm) + encoder.flush()


def decode(name: str, data: bytes | bytearray | memoryview) -> npt.NDArray[np.int16]:
    """Decode a whole coded signal with codec `name`, from the initial state.

    See Also
    --------
    Decoder : the same, piece by piece.
    """
    return Decoder(name).decode(data)
