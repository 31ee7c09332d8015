"""PCM in chunks of any size, rate and channel count -> whole codec frames.

A microphone delivers blocks of its own size at its own rate, a pipe delivers whatever
``read`` returned, a browser 20 ms at 16 kHz; a page needs mono frames of exactly
`frame_ms` at the codec's rate. :class:`Framer` bridges the two with streaming state
only: soxr's streaming resampler and the streaming `polyptt.codecs.Encoder` carry their
filters and ADPCM state across chunk joins, so audio cut into any pieces frames to the
bytes it would give whole (bit for bit where no resampling is needed), with no click at
the joins.

Mono 16-bit input at the codec's rate with no gain is passed to the encoder sample for
sample, as files are (`polyptt.audio.files`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from polyptt.audio.pcm import to_int16

__all__ = ["Framer"]


class Framer:
    """Turns PCM chunks into encoded frames of one codec and size.

    Parameters
    ----------
    codec : str
        A `polyptt.codecs` name (``"g722"``, ``"g711u"``, ``"g726qi"``...).
    frame_ms : int
        Audio per frame, whole milliseconds (10-80 for pages).
    input_rate : int, optional
        Sample rate of the chunks; the codec's own by default.
    channels : int
        Channels of the chunks (interleaved as rows: shape ``(n, channels)``), mixed to
        mono by averaging.
    gain_db : float
        Gain applied before encoding; what exceeds full scale is clipped and counted.

    Attributes
    ----------
    clipped : int
        Samples clipped at full scale so far.
    samples_in : int
        Input frames (samples per channel) taken so far.
    frames_out : int
        Frames returned so far.
    """

    def __init__(
        self,
        codec: str,
        frame_ms: int,
        *,
        input_rate: int | None = None,
        channels: int = 1,
        gain_db: float = 0.0,
    ) -> None:
        from polyptt import codecs

        info = codecs.info(codec)
        if channels < 1:
            raise ValueError(f"channels must be at least 1, got {channels}")
        self.info = info
        self.frame_samples = info.frame_samples(frame_ms)
        self.frame_bytes = info.frame_bytes(frame_ms)
        self.input_rate = info.sample_rate if input_rate is None else int(input_rate)
        if self.input_rate <= 0:
            raise ValueError(f"sample rate must be positive, got {input_rate}")
        self.channels = channels
        self.clipped = 0
        self.samples_in = 0
        self.frames_out = 0
        self._gain = 10.0 ** (gain_db / 20.0) if gain_db else 1.0
        self._encoder = codecs.Encoder(codec)
        self._resampler: Any = None
        if self.input_rate != info.sample_rate:
            import soxr

            self._resampler = soxr.ResampleStream(
                self.input_rate, info.sample_rate, 1, dtype="float32", quality="HQ"
            )
        self._pending = np.zeros(0, dtype=np.int16)  # codec-rate samples short of a frame
        self._flushed = False

    @property
    def exact(self) -> bool:
        """True when samples reach the encoder untouched (mono int16 at the codec's rate)."""
        return self._resampler is None and self.channels == 1 and self._gain == 1.0

    def push(self, pcm: npt.ArrayLike) -> list[bytes]:
        """Take a chunk; return the frames it completes (possibly none).

        Parameters
        ----------
        pcm : array_like
            ``int16`` (full scale 32768) or floating point (full scale 1.0) samples,
            shape ``(n,)`` for mono or ``(n, channels)``.
        """
        if self._flushed:
            raise ValueError("the framer was flushed: no more audio can follow")
        samples = self._mono(np.asarray(pcm))
        self.samples_in += len(samples)
        if self.exact and samples.dtype == np.int16:
            return self._frames(samples)
        return self._frames(self._convert(samples, last=False))

    def flush(self) -> list[bytes]:
        """The end of the audio: the resampler's tail and the last frame, completed
        with silence (receivers size frames from the sample-count step, so every frame
        of a page is whole)."""
        if self._flushed:
            return []
        out = []
        if self._resampler is not None:
            out = self._frames(self._convert(np.zeros(0, dtype=np.float32), last=True))
        self._flushed = True
        if len(self._pending):
            pad = np.zeros(self.frame_samples - len(self._pending), dtype=np.int16)
            out += self._frames(pad)
        return out

    # ------------------------------------------------------------------ internals

    def _mono(self, pcm: np.ndarray) -> np.ndarray:
        if pcm.ndim == 2:
            if pcm.shape[1] != self.channels:
                raise ValueError(f"expected {self.channels} channel(s), got {pcm.shape[1]}")
            if self.channels == 1:
                return pcm[:, 0]
            return pcm.mean(axis=1, dtype=np.float64) / (32768.0 if pcm.dtype == np.int16 else 1)
        if pcm.ndim != 1 or self.channels != 1:
            raise ValueError(f"expected shape (n, {self.channels}), got {pcm.shape}")
        return pcm

    def _convert(self, samples: np.ndarray, *, last: bool) -> npt.NDArray[np.int16]:
        """Anything -> float at full scale 1.0 -> resampled -> gain -> int16, clipping."""
        if samples.dtype == np.int16:
            signal = samples.astype(np.float32) / np.float32(32768.0)
        else:
            signal = samples.astype(np.float32, copy=False)
        if self._resampler is not None:
            signal = self._resampler.resample_chunk(signal, last=last)
        if self._gain != 1.0:
            signal = signal * self._gain
        pcm, clipped = to_int16(signal)
        self.clipped += clipped
        return pcm

    def _frames(self, samples: npt.NDArray[np.int16]) -> list[bytes]:
        if len(self._pending):
            samples = np.concatenate((self._pending, samples))
        whole = len(samples) - len(samples) % self.frame_samples
        self._pending = samples[whole:].copy()
        if not whole:
            return []
        data = self._encoder.encode(np.ascontiguousarray(samples[:whole]))
        size = self.frame_bytes
        frames = [data[i : i + size] for i in range(0, len(data), size)]
        self.frames_out += len(frames)
        return frames
