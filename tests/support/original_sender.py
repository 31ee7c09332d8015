"""A sender that behaves exactly as the original PolyPtt's, for the listener's tests.

The original project's sender (``ptt_multicast.py`` of ikanel/PolyPtt) is not paced: it
sends 32 alerts, sleeping 30 ms before each, then one transmit packet per 30 ms frame
followed by a 20 ms sleep, which with the sleep's overshoot and the work of each loop
makes a packet every 20.26 ms or so. Its pages therefore arrive about 1.48 times faster
than they play (a 4 s page in 2.7 s). Its sample counts start at 0 and step by 240 per
packet, each packet carries the previous frame then the new one, the last frame is
whatever audio is left (10 ms of a 4 s page: 240 redundant + 80 new bytes in G.722), and
it sends no end packets: receivers end its pages by timeout. Pages from it in G.726QI
carry 90-byte frames (30 ms at 24 kbit/s) in the same way.

`original_page` builds such a page as real datagrams with the times they are sent, so a
test can feed them to a `Receiver` at those times or replay them over real sockets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from polyptt import codecs
from polyptt.protocol import AlertPacket, CodecId, TransmitPacket

#: Alerts sent before the audio, and the time between them (a 30 ms sleep, overshot).
ALERTS = 32
ALERT_INTERVAL_S = 0.03026
#: Time between transmit packets: a 20 ms sleep after each, overshot, for 30 ms frames.
PACKET_INTERVAL_S = 0.02026
#: Sample-count step per packet (8 kHz ticks: one 30 ms frame).
COUNT_STEP = 240
FRAME_MS = 30


@dataclass(frozen=True)
class OriginalPage:
    """One page as the original sender sends it.

    Attributes
    ----------
    codec : str
        Codec name (``g722`` or ``g726qi``).
    pcm : ndarray of int16
        The audio that was coded.
    frames : list of bytes
        The coded frames in order; the last one is shorter.
    schedule : list of (float, bytes)
        Every datagram with the time it is sent, in seconds from the first one.
    """

    codec: str
    pcm: npt.NDArray[np.int16]
    frames: list[bytes]
    schedule: list[tuple[float, bytes]]

    @property
    def decoded(self) -> npt.NDArray[np.int16]:
        """The frames decoded by one streaming decoder: what a receiver must record."""
        return codecs.decode(self.codec, b"".join(self.frames))

    @property
    def audio_start(self) -> float:
        """When the first transmit packet is sent (seconds from the first datagram)."""
        return self.schedule[ALERTS][0]

    @property
    def last_packet(self) -> float:
        """When the last transmit packet is sent (seconds from the first datagram)."""
        return self.schedule[-1][0]


def unique_signal(seconds: float, rate: int) -> npt.NDArray[np.int16]:
    """Audio that is the same nowhere: a chirp rising from 200 to 800 Hz, at half scale.

    Unlike a tone, any part of it correlates with itself at one lag only, so a test can
    find where each part of it was played. It stays low because a device that resamples
    may shift it by a fraction of a sample, which decorrelates high frequencies.
    """
    t = np.arange(round(seconds * rate)) / rate
    chirp = np.sin(2 * np.pi * (200 * t + 600 / (2 * seconds) * t**2))
    return np.round(16384 * chirp).astype(np.int16)


def original_page(
    seconds: float = 4.0,
    codec: str = "g722",
    *,
    channel: int = 26,
    serial: int = 0xBEEF,
    caller_id: str = "PolyPtt",
) -> OriginalPage:
    """`seconds` of `unique_signal` sent as the original sender sends a page.

    The serial is 16 bits, as the original takes the last two bytes of its MAC address.
    """
    info = codecs.info(codec)
    pcm = unique_signal(seconds, info.sample_rate)
    coded = codecs.encode(codec, pcm)
    size = info.frame_bytes(FRAME_MS)
    frames = [coded[i : i + size] for i in range(0, len(coded), size)]
    schedule = [
        ((index + 1) * ALERT_INTERVAL_S, bytes(AlertPacket(channel, serial, caller_id)))
        for index in range(ALERTS)
    ]
    # the first transmit packet follows the last alert at once (the sleep comes first)
    start = schedule[-1][0]
    previous = b""
    for index, frame in enumerate(frames):
        packet = TransmitPacket.from_frames(
            channel=channel,
            serial=serial,
            caller_id=caller_id,
            codec=CodecId(info.wire_id),
            sample_count=index * COUNT_STEP,
            frame=frame,
            redundant=previous,
        )
        schedule.append((start + index * PACKET_INTERVAL_S, bytes(packet)))
        previous = frame
    origin = schedule[0][0]
    return OriginalPage(codec, pcm, frames, [(t - origin, d) for t, d in schedule])
