"""The relay's own pages as its listeners hear them: the audio of each datagram it sends.

A page the relay sends (an upload or a WebSocket talker) is told to the WebSocket
listeners of its channel like a page heard on the LAN: events and audio. The audio is
taken from the wire, not from the talker: :class:`EchoSink` stands between the pacer and
the socket, and decodes each transmit packet's new frame as it is sent, so listeners
hear what the phones hear (the codec's sound, the page's timing, the gain and the
cuts of the relay's limits), at the moment the phones do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from polyptt.codecs import Decoder
from polyptt.protocol import TransmitPacket, parse_packet
from polyptt.send.pacing import Sink

__all__ = ["EchoSink"]

log = logging.getLogger("polyptt.relay")


class EchoSink:
    """A sink that sends through `sink` and hands the decoded audio to `deliver`.

    Parameters
    ----------
    sink : Sink
        Where the datagrams go (the relay's shared socket: not closed here).
    codec : str
        The page's codec name.
    frame_bytes : int
        Size of each new frame: the relay's frames are all whole (the framer pads the
        last one), so it is the tail of every transmit packet's audio.
    deliver : callable
        ``deliver(pcm)`` with int16 PCM at the codec's rate, once per transmit packet.
        If it fails, it is logged and not called again: the page itself goes on.
    """

    def __init__(
        self,
        sink: Sink,
        codec: str,
        frame_bytes: int,
        deliver: Callable[[npt.NDArray[np.int16]], None],
    ) -> None:
        self.sink = sink
        self.paced = sink.paced
        self.decoder = Decoder(codec)
        self.frame_bytes = frame_bytes
        self.deliver: Callable[[npt.NDArray[np.int16]], None] | None = deliver

    @property
    def rate(self) -> int:
        """Sample rate of the audio delivered."""
        return self.decoder.info.sample_rate

    def send(self, datagram: bytes, offset: float) -> None:
        self.sink.send(datagram, offset)  # the wire first: listeners never delay it
        if self.deliver is None:
            return
        try:
            packet = parse_packet(datagram)
            if isinstance(packet, TransmitPacket):
                self.deliver(self.decoder.decode(packet.audio[-self.frame_bytes :]))
        except Exception:  # a fault here must not cost the page its end packets
            log.exception("cannot pass a page's audio to its listeners; they lose the rest")
            self.deliver = None
