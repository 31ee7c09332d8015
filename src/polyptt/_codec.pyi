"""
polyptt's compiled codec core (private: use polyptt.codecs).
"""
from __future__ import annotations
import numpy
import numpy.typing
import typing
import typing_extensions
__all__: list[str] = ['G722Decoder', 'G722Encoder', 'G726Decoder', 'G726Encoder', 'alaw_decode', 'alaw_encode', 'ulaw_decode', 'ulaw_encode']
class G722Encoder:
    """
    G.722 encoder at 64 kbit/s: 16 kHz int16 PCM in, one byte per two samples out. Streaming: an odd trailing sample waits for the next call, so chunk boundaries never change the output.
    """
    def __init__(self) -> None:
        ...
    def encode(self, pcm: numpy.typing.NDArray[numpy.int16]) -> bytes:
        """
        Encode a 1-D int16 array; returns (pending + len(pcm)) // 2 bytes. Only int16 is accepted, because a silent cast of float audio would code garbage.
        """
    def flush(self) -> bytes:
        """
        Code a pending odd sample padded with one zero sample: 1 byte, or b'' when nothing is pending. For the end of a stream whose length may be odd.
        """
    def reset(self) -> None:
        """
        Return to the initial state, as a new stream needs (drops a pending sample).
        """
    @property
    def pending(self) -> int:
        """
        Samples (0 or 1) held back until their partner arrives.
        """
class G722Decoder:
    """
    G.722 decoder: one byte in, two 16 kHz int16 samples out. mode 1, 2 or 3 (64, 56, 48 kbit/s) sets how many low-band bits are trusted; the byte stream format is the same in every mode.
    """
    def __init__(self, mode: typing.SupportsInt | typing.SupportsIndex = 1) -> None:
        ...
    def decode(self, data: typing_extensions.Buffer) -> numpy.typing.NDArray[numpy.int16]:
        """
        Decode any bytes-like object (bytes, bytearray, memoryview, uint8 array) into an int16 array of 2 * len(data) samples.
        """
    def reset(self) -> None:
        """
        Return to the initial state (keeping the mode), as a new stream needs.
        """
    @property
    def mode(self) -> int:
        """
        1, 2 or 3: 64, 56 or 48 kbit/s.
        """
class G726Encoder:
    """
    Stateful G.726 encoder (16-40 kbit/s) with a streaming bit packer.
    
    State and pending bits are kept between calls, so a stream can be encoded in chunks of any size with the same bytes as in one call.
    """
    def __init__(self, bits: typing.SupportsInt | typing.SupportsIndex, packing: str = 'rfc3551', law: str = 'linear') -> None:
        ...
    def __repr__(self) -> str:
        ...
    def encode(self, x: typing.Any) -> bytes:
        """
        Encode int16 PCM (law 'linear') or G.711 code bytes (law 'alaw'/'ulaw').
        
        Returns only whole bytes; bits of an incomplete byte wait for the next call or flush().
        """
    def flush(self) -> bytes:
        """
        The pending partial byte, zero-padded (b'' if none); ends a stream without resetting the ADPCM state.
        """
    def reset(self) -> None:
        """
        Back to the standard's reset state, packer emptied.
        """
    @property
    def bits(self) -> int:
        """
        Bits per code word (2..5).
        """
    @property
    def law(self) -> str:
        """
        Input format: linear, alaw or ulaw.
        """
    @property
    def packing(self) -> str:
        """
        Bit packing name.
        """
    @property
    def pending_bits(self) -> int:
        """
        Bits waiting in the packer for a full byte.
        """
class G726Decoder:
    """
    Stateful G.726 decoder (16-40 kbit/s) with a streaming bit unpacker.
    
    Bits that do not form a whole code word wait for the next call, so a stream can be decoded in chunks of any size.
    """
    def __init__(self, bits: typing.SupportsInt | typing.SupportsIndex, packing: str = 'rfc3551', law: str = 'linear') -> None:
        ...
    def __repr__(self) -> str:
        ...
    def decode(self, data: typing.Any) -> typing.Any:
        """
        Decode bytes-like data: int16 PCM for law 'linear' (SR << 2, no tandem adjustment), G.711 code bytes with the standard's SYNC for 'alaw'/'ulaw'.
        
        Bits short of a whole code word wait for the next call. With packing 'unpacked' the bits above the code word in each byte are ignored.
        """
    def reset(self) -> None:
        """
        Back to the standard's reset state, unpacker emptied.
        """
    @property
    def bits(self) -> int:
        """
        Bits per code word (2..5).
        """
    @property
    def law(self) -> str:
        """
        Output format: linear, alaw or ulaw.
        """
    @property
    def packing(self) -> str:
        """
        Bit packing name.
        """
    @property
    def pending_bits(self) -> int:
        """
        Bits waiting for a whole code word.
        """
def alaw_decode(data: typing_extensions.Buffer) -> numpy.typing.NDArray[numpy.int16]:
    """
    16-bit PCM of A-law codes, as the G.191 STL expands them.
    """
def alaw_encode(pcm: numpy.typing.NDArray[numpy.int16]) -> bytes:
    """
    A-law codes of 16-bit PCM (top 13 bits used, bit-exact to the G.191 STL).
    """
def ulaw_decode(data: typing_extensions.Buffer) -> numpy.typing.NDArray[numpy.int16]:
    """
    16-bit PCM of mu-law codes, as the G.191 STL expands them.
    """
def ulaw_encode(pcm: numpy.typing.NDArray[numpy.int16]) -> bytes:
    """
    mu-law codes of 16-bit PCM (top 14 bits used, bit-exact to the G.191 STL).
    """
__version__: str = '0.1.0'
_build: dict = {'optimized': True, 'asserts': False, 'compiler': '12.2.0'}
