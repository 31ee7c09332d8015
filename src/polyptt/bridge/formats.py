"""RTP payload formats the bridge speaks (RFC 3551), and their coding through polyptt's codecs.

==========  ====  ==========  ==========  ========
name        PT    RTP clock   audio rate  channels
==========  ====  ==========  ==========  ========
pcmu        0     8000        8000        1
pcma        8     8000        8000        1
g722        9     8000        16000       1
l16         11    44100       44100       1
l16-stereo  10    44100       44100       2
==========  ====  ==========  ==========  ========

G.722's quirk: its RTP clock runs at 8000 Hz although it samples at 16 kHz (RFC 3551
section 4.5.2, kept for an error in RFC 1890), so a 20 ms packet of 160 bytes advances
the timestamp by 160 and decodes to 320 samples. L16 is big-endian 16-bit PCM; a
dynamic payload type (96-127) may carry L16 at another rate (``l16/16000``, as SDP's
``a=rtpmap:96 L16/16000``), mapped in the configuration.

A `Decoder` turns payloads into mono int16 at the format's audio rate (stereo L16 is
averaged); an `Encoder` does the reverse. Both are streaming: G.722's ADPCM state runs
across packets, as it does across a stream's packets on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from polyptt import codecs

__all__ = ["FORMATS", "Decoder", "Encoder", "PayloadFormat", "parse_format"]

Pcm = npt.NDArray[np.int16]


@dataclass(frozen=True)
class PayloadFormat:
    """One RTP payload format.

    Attributes
    ----------
    name : str
        ``pcmu``, ``pcma``, ``g722``, ``l16`` or ``l16-stereo``.
    payload_type : int
        Its RTP payload type.
    clock_rate : int
        RTP timestamp ticks per second.
    audio_rate : int
        Samples per second of the audio (16000 for G.722, whose clock says 8000).
    channels : int
        1, or 2 for stereo L16.
    codec : str or None
        The `polyptt.codecs` name that codes it; None for L16 (plain PCM).
    """

    name: str
    payload_type: int
    clock_rate: int
    audio_rate: int
    channels: int = 1
    codec: str | None = None

    def ticks(self, samples: int) -> int:
        """RTP timestamp ticks of `samples` mono samples at the audio rate."""
        return samples * self.clock_rate // self.audio_rate

    def payload_bytes(self, ptime_ms: int) -> int:
        """Bytes of a `ptime_ms` packet."""
        samples = self.audio_rate * ptime_ms // 1000
        if self.codec is None:
            return samples * 2 * self.channels
        return samples * codecs.info(self.codec).bits_per_sample // 8

    @property
    def sdp(self) -> str:
        """The SDP ``a=rtpmap`` value (``PCMU/8000``)."""
        names = {"pcmu": "PCMU", "pcma": "PCMA", "g722": "G722"}
        name = names.get(self.name, "L16")
        suffix = f"/{self.channels}" if self.channels > 1 else ""
        return f"{name}/{self.clock_rate}{suffix}"


#: The static payload types of RFC 3551 the bridge takes, by payload type.
FORMATS: dict[int, PayloadFormat] = {
    0: PayloadFormat("pcmu", 0, 8000, 8000, codec="g711u"),
    8: PayloadFormat("pcma", 8, 8000, 8000, codec="g711a"),
    9: PayloadFormat("g722", 9, 8000, 16000, codec="g722"),
    10: PayloadFormat("l16-stereo", 10, 44100, 44100, channels=2),
    11: PayloadFormat("l16", 11, 44100, 44100),
}
#: The formats by name (``--rtp-codec``).
BY_NAME = {f.name: f for f in FORMATS.values()}


def parse_format(text: str, payload_type: int | None = None) -> PayloadFormat:
    """``pcmu``, ``pcma``, ``g722``, ``l16``, or ``l16/RATE[/CHANNELS]`` on a dynamic
    payload type (96-127, `payload_type`); ValueError says what is wrong."""
    name, _, rest = text.strip().lower().partition("/")
    if not rest:
        if name not in BY_NAME:
            raise ValueError(f"RTP codec {text!r} is not one of pcmu, pcma, g722, l16")
        known = BY_NAME[name]
        if payload_type is None or payload_type == known.payload_type:
            return known
        return PayloadFormat(name, _dynamic(payload_type), *_shape(known))
    if name != "l16":
        raise ValueError(f"{text!r}: only l16 takes a rate (l16/16000)")
    rate_text, _, channels_text = rest.partition("/")
    if not rate_text.isdigit() or not 8000 <= int(rate_text) <= 48000:
        raise ValueError(f"{text!r}: the rate must be 8000-48000")
    channels = int(channels_text or "1") if (channels_text or "1") in ("1", "2") else 0
    if not channels:
        raise ValueError(f"{text!r}: 1 or 2 channels")
    rate = int(rate_text)
    static = {(44100, 2): 10, (44100, 1): 11}.get((rate, channels))
    number = static if payload_type is None and static else _dynamic(payload_type)
    return PayloadFormat("l16", number, rate, rate, channels)


def _shape(known: PayloadFormat) -> tuple[int, int, int, str | None]:
    return known.clock_rate, known.audio_rate, known.channels, known.codec


def _dynamic(payload_type: int | None) -> int:
    if payload_type is None or not 96 <= payload_type <= 127:
        raise ValueError("a dynamic payload type must be 96-127")
    return payload_type


class Decoder:
    """Payloads of one stream -> mono int16 at ``fmt.audio_rate``."""

    def __init__(self, fmt: PayloadFormat) -> None:
        self.format = fmt
        self._decoder = codecs.Decoder(fmt.codec) if fmt.codec else None

    def decode(self, payload: bytes) -> Pcm:
        if self._decoder is not None:
            return self._decoder.decode(payload)
        usable = len(payload) - len(payload) % (2 * self.format.channels)
        pcm = np.frombuffer(payload[:usable], dtype=">i2").astype(np.int16)
        if self.format.channels == 2:
            pcm = (pcm.reshape(-1, 2).astype(np.int32).sum(axis=1) // 2).astype(np.int16)
        return pcm


class Encoder:
    """Mono int16 at ``fmt.audio_rate`` -> payload bytes of one stream."""

    def __init__(self, fmt: PayloadFormat) -> None:
        self.format = fmt
        self._encoder = codecs.Encoder(fmt.codec) if fmt.codec else None

    def encode(self, pcm: Pcm) -> bytes:
        if self._encoder is not None:
            return self._encoder.encode(np.ascontiguousarray(pcm, dtype=np.int16))
        if self.format.channels == 2:
            pcm = np.repeat(pcm, 2)
        return pcm.astype(">i2").tobytes()
