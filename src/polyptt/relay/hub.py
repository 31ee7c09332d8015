"""Pages as the relay's clients see them: numbered, remembered, and told to listeners.

The :class:`Hub` is a page listener of the relay's `~polyptt.receive.receiver.Receiver`
(pages heard on the LAN) and is told of the pages the relay sends itself. Each page gets
an id, a line in the recent-pages list (``GET /api/v1/pages``), ``page_start`` and
``page_end`` events for every WebSocket listener of its channel, and its audio as binary
messages: an 8-byte header (page id and frame number, unsigned 32-bit big-endian each)
then PCM16LE mono 16 kHz, 20 ms (320 samples) per message. The audio of a page the relay
sends comes from its datagrams as they go out (`polyptt.relay.echo`) and is never sent
back to the connection that is talking it. With ``--record``, the pages the relay sends
are recorded too, from the same audio: what the phones heard, and who said it.
"""

from __future__ import annotations

import collections
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from polyptt.protocol import format_channel
from polyptt.receive.recorder import Recorder, iso_utc
from polyptt.receive.session import Page
from polyptt.relay.clients import Client

__all__ = ["AUDIO_HEADER", "CLIENT_RATE", "FRAME_SAMPLES", "Hub", "Metrics"]

#: Audio to and from clients: PCM16LE mono at this rate, in frames of this many samples.
CLIENT_RATE = 16000
FRAME_SAMPLES = 320
#: Header of a binary message to a listener: page id, frame number.
AUDIO_HEADER = struct.Struct(">II")
#: What a heard page's record takes from its summary when it ends.
_SUMMARY_KEYS = (
    "codec",
    "frame_ms",
    "duration_s",
    "frames",
    "frames_repaired",
    "frames_concealed",
    "packets",
    "duplicates",
    "late",
    "end_reason",
)


@dataclass
class Metrics:
    """Counters for ``GET /metrics`` (gauges are computed when it is read)."""

    pages_sent: int = 0
    pages_heard: int = 0
    pages_refused: int = 0
    frames_repaired: int = 0
    frames_concealed: int = 0
    logins_refused: int = 0
    listeners_dropped: int = 0
    audio_throttled_samples: int = 0


@dataclass
class _Stream:
    """A page's audio on its way to the listeners: resampled, cut into 20 ms messages."""

    record: dict[str, Any]
    channel: int
    resampler: Any = None
    pending: list[np.ndarray] = field(default_factory=list)
    frame: int = 0
    skip: Client | None = None  # the connection talking the page: never sent its audio


class Hub:
    """Numbers pages, keeps the recent ones, and tells the listening clients.

    Parameters
    ----------
    channel_names : dict
        Channel -> name, added to every record.
    metrics : Metrics
    recorder : Recorder, optional
        The relay's recorder, driven by the hub for every page, heard or sent (a sent
        page from its datagrams' audio, with its record as the JSON); its WAV is served
        by id once it is written.
    keep : int
        Pages remembered.
    """

    def __init__(
        self,
        channel_names: dict[int, str],
        metrics: Metrics,
        recorder: Recorder | None = None,
        keep: int = 200,
    ) -> None:
        self.channel_names = channel_names
        self.metrics = metrics
        self.recorder = recorder
        self.clients: set[Client] = set()
        self.recent: collections.OrderedDict[int, dict[str, Any]] = collections.OrderedDict()
        self.recordings: dict[int, Path] = {}
        self._keep = keep
        self._next_id = 1
        self._heard: dict[Page, _Stream] = {}
        self._sent: dict[int, _Stream] = {}
        self.on_drop: Callable[[Client], None] | None = None

    # ------------------------------------------------------------ pages the relay sends

    def sent_started(self, talker: Client | None = None, **fields: Any) -> int:
        """A page the relay started (live from `talker`, if a WebSocket); returns its id.

        `fields` go into its record.
        """
        record = self._new_record("sent", fields)
        page_id = int(record["id"])
        self._sent[page_id] = _Stream(record, record["channel"], skip=talker)
        if self.recorder is not None:
            self.recorder.open(page_id, time.time(), record["channel"], record["caller_id"])
        self._tell(record["channel"], {"type": "page_start", **record})
        return page_id

    def sent_audio(self, page_id: int, pcm: np.ndarray, rate: int) -> None:
        """Audio of a page the relay is sending (`rate` Hz), as it goes on the wire: for
        the recorder, and for every listener but its talker."""
        if self.recorder is not None:
            self.recorder.write(page_id, pcm, rate)
        stream = self._sent.get(page_id)
        if stream is not None:
            self._stream_audio(stream, pcm, rate)

    def sent_ended(self, page_id: int, **fields: Any) -> None:
        stream = self._sent.pop(page_id, None)
        if stream is not None:
            self._end_audio(stream)
        record = self.recent.get(page_id)
        if record is None:
            return
        record.update(fields, end=iso_utc(time.time()))
        self.metrics.pages_sent += 1
        if self.recorder is not None:
            saved = self.recorder.close(page_id, {k: v for k, v in record.items() if k != "id"})
            self._serve_recording(record, saved)
        self._tell(record["channel"], {"type": "page_end", **record})

    # ------------------------------------------------------------ pages heard (listener)

    def page_started(self, page: Page) -> None:
        if self.recorder is not None:
            self.recorder.page_started(page)
        record = self._new_record(
            "heard",
            {
                "channel": page.channel,
                "caller_id": page.caller_id,
                "serial": page.serial,
                "source": page.source,
                "codec": None,
            },
        )
        self._heard[page] = _Stream(record, page.channel)
        self._tell(page.channel, {"type": "page_start", **record})

    def page_audio(self, page: Page, pcm: np.ndarray, now: float) -> None:
        if self.recorder is not None:
            self.recorder.page_audio(page, pcm, now)
        heard = self._heard.get(page)
        if heard is None:
            return
        if heard.record["codec"] is None:
            heard.record["codec"] = page.codec.name
        self._stream_audio(heard, pcm, page.codec.sample_rate)

    def page_ended(self, page: Page) -> None:
        heard = self._heard.pop(page, None)
        if heard is None:
            return
        self._end_audio(heard)
        summary = page.summary()
        record = heard.record
        record.update(
            {k: summary[k] for k in _SUMMARY_KEYS},
            caller_id=page.caller_id,
            end=iso_utc(page.end if page.end is not None else page.last),
        )
        self.metrics.pages_heard += 1
        self.metrics.frames_repaired += summary["frames_repaired"]
        self.metrics.frames_concealed += summary["frames_concealed"]
        if self.recorder is not None:
            self._serve_recording(record, self.recorder.page_ended(page))
        self._tell(heard.channel, {"type": "page_end", **record})

    # ------------------------------------------------------------ internals

    def _serve_recording(self, record: dict[str, Any], saved: Path | None) -> None:
        """Offer the WAV beside the recording `saved` (a JSON; None if it could not be
        written), if the page had audio."""
        if saved is None:
            return
        wav = saved.with_suffix(".wav")
        if wav.exists():
            self.recordings[record["id"]] = wav
            record["wav"] = f"/api/v1/pages/{record['id']}.wav"

    def _new_record(self, direction: str, fields: dict[str, Any]) -> dict[str, Any]:
        page_id = self._next_id
        self._next_id += 1
        channel = fields["channel"]
        record = {
            "id": page_id,
            "direction": direction,
            "channel": channel,
            "channel_name": self.channel_names.get(channel, format_channel(channel)),
            **fields,
            "start": iso_utc(time.time()),
        }
        self.recent[page_id] = record
        while len(self.recent) > self._keep:
            old, _ = self.recent.popitem(last=False)
            self.recordings.pop(old, None)
        return record

    def _tell(self, channel: int, event: dict[str, Any]) -> None:
        for client in list(self.clients):
            if client.hears(channel) and not client.offer(event):
                self._dropped(client)

    def _stream_audio(self, stream: _Stream, pcm: np.ndarray, rate: int) -> None:
        """Resample `pcm` (at `rate`) to the clients' rate and send it to the listeners."""
        if stream.resampler is None and rate != CLIENT_RATE:
            import soxr

            stream.resampler = soxr.ResampleStream(rate, CLIENT_RATE, 1, dtype="int16")
        if not self._listeners(stream):
            return
        if stream.resampler is not None:
            pcm = stream.resampler.resample_chunk(pcm)
        self._send_audio(stream, pcm, last=False)

    def _end_audio(self, stream: _Stream) -> None:
        tail = np.zeros(0, "int16")
        if stream.resampler is not None:
            tail = stream.resampler.resample_chunk(tail, last=True)
        self._send_audio(stream, tail, last=True)

    def _listeners(self, stream: _Stream) -> list[Client]:
        return [c for c in self.clients if c.hears(stream.channel) and c is not stream.skip]

    def _send_audio(self, stream: _Stream, pcm: np.ndarray, *, last: bool) -> None:
        if len(pcm):
            stream.pending.append(np.asarray(pcm, dtype="<i2"))
        samples = np.concatenate(stream.pending) if stream.pending else np.zeros(0, "<i2")
        whole = len(samples) // FRAME_SAMPLES * FRAME_SAMPLES
        cut = len(samples) if last else whole
        stream.pending = [samples[cut:]] if cut < len(samples) else []
        page_id = stream.record["id"]
        listeners = self._listeners(stream)
        for start in range(0, cut, FRAME_SAMPLES):
            message = (
                AUDIO_HEADER.pack(page_id, stream.frame)
                + samples[start : min(start + FRAME_SAMPLES, cut)].tobytes()
            )
            stream.frame += 1
            for client in listeners:
                if not client.offer(message):
                    self._dropped(client)

    def _dropped(self, client: Client) -> None:
        if client in self.clients:
            self.clients.discard(client)
            self.metrics.listeners_dropped += 1
            if self.on_drop is not None:
                self.on_drop(client)
