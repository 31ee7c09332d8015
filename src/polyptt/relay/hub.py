"""Pages as the relay's clients see them: numbered, remembered, and told to listeners.

The :class:`Hub` sees every page one way, heard on the LAN or sent by the relay: it is
told that a page `Hub.started`, has `Hub.audio` and `Hub.ended`, keyed by whatever the
teller follows it by. `HeardPages` tells it of the pages the relay's
`~polyptt.receive.receiver.Receiver` hears (keyed by their `Page`);
`polyptt.relay.talks` of the pages the relay sends (keyed by their `Talk`). Each page gets
an id, a line in the recent-pages list (``GET /api/v1/pages``), ``page_start`` and
``page_end`` events for every WebSocket listener of its channel, and its audio as binary
messages (`polyptt.relay.wire`: a header with the page id and frame number, then one
frame of PCM at the clients' rate). The audio of a page the relay
sends comes from its datagrams as they go out (`polyptt.relay.echo`) and is never sent
back to the connection that is talking it (which gets its events with ``"own": true``).
Audio reaches the listeners as each packet arrives: narrowband audio is upsampled with
3 ms of delay (`polyptt.audio.upsample`), never held back for a resampler's block.
The pages the relay sends are recorded too (in the data directory, or ``--record``),
from the same audio: what the phones heard, and who said it. Ids come from the page
store (`polyptt.relay.store.pages`), which keeps every page's record across restarts.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from polyptt.audio.upsample import Upsampler
from polyptt.bridge.marks import is_marked
from polyptt.protocol import format_channel
from polyptt.receive.recorder import Recorder, iso_utc, page_record
from polyptt.receive.session import Page
from polyptt.relay.auth import Grant
from polyptt.relay.connections import Connection
from polyptt.relay.events import PAGE_ENDED, PAGE_STARTED, RECORDING_READY, Events
from polyptt.relay.store.pages import PageStore, wav_url
from polyptt.relay.wire import AUDIO_HEADER, FRAME_SAMPLES, RATE, MessageType

__all__ = ["HeardPages", "Hub", "Metrics"]
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
    audio_throttled_s: float = 0.0  # live audio dropped for running ahead, at its own rate
    # polyptt.relay.hooks
    webhooks_delivered: int = 0
    webhooks_retried: int = 0
    webhooks_failed: int = 0  # given up: a 4xx, or retried for too long
    webhooks_dropped: int = 0  # a full queue's oldest
    mqtt_refused: int = 0  # MQTT commands refused (told on <topic>/error)
    mqtt_connects: int = 0
    pages_deleted: int = 0  # by the store's retention
    recording_bytes_deleted: int = 0
    # polyptt.relay.bells: a missed bell must show where the site's monitoring looks
    bells_rang: int = 0
    bells_missed: int = 0


@dataclass
class _Stream:
    """A page's audio on its way to the listeners: resampled, cut into 20 ms messages."""

    record: dict[str, Any]
    resampler: Upsampler | None = None
    pending: list[np.ndarray] = field(default_factory=list)
    frame: int = 0
    skip: Connection | None = None  # the connection talking the page: never sent its audio


def visible(grant: Grant, record: dict[str, Any]) -> bool:
    """Whether `grant` may see (hear, list, download) the page of `record`.

    A page sent to a named target (one phone, often a person's desk) is as private as
    paging that phone: only tokens that may page the target see it. Group pages and
    pages heard on the LAN are everyone's who may listen.
    """
    target = record.get("target")
    return target is None or grant.may_page(str(target))


def _resampler(rate: int) -> Upsampler:
    """Audio at `rate` to the clients' rate, each packet's samples at once.

    soxr's streaming resampler lets audio out in blocks of about 100 ms (8 -> 16 kHz):
    narrowband pages reached listeners in lumps. `Upsampler` is 3 ms late, no more. Every
    codec decodes to 8 or 16 kHz, a whole fraction of the clients' rate.
    """
    if RATE % rate:
        raise ValueError(f"{rate} Hz is no whole fraction of the clients' {RATE} Hz")
    return Upsampler(RATE // rate)


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
        by id from the page store once it is written.
    keep : int
        Pages remembered.
    events : Events, optional
        Told ``page_started``, ``page_ended`` and ``recording_ready`` with the page's
        record (`polyptt.relay.events`).
    store : PageStore, optional
        Numbers the pages and keeps their records (without: numbered from 1, in memory).
    """

    def __init__(
        self,
        channel_names: dict[int, str],
        metrics: Metrics,
        recorder: Recorder | None = None,
        keep: int = 200,
        events: Events | None = None,
        store: PageStore | None = None,
    ) -> None:
        self.channel_names = channel_names
        self.metrics = metrics
        self.recorder = recorder
        self.events = events if events is not None else Events()
        self.store = store
        self.clients: set[Connection] = set()
        self.recent: collections.OrderedDict[int, dict[str, Any]] = collections.OrderedDict()
        self._keep = keep
        self._next_id = 1
        self._streams: dict[Hashable, _Stream] = {}
        self.on_drop: Callable[[Connection], None] | None = None

    def started(
        self,
        key: Hashable,
        direction: str,
        fields: dict[str, Any],
        *,
        start: float | None = None,
        talker: Connection | None = None,
    ) -> int:
        """Page `key` began (at `start`, seconds since the epoch; now by default); its id.

        `direction` is ``heard`` or ``sent``; `fields` (``channel`` and ``caller_id`` at
        least) go into its record. `talker` is the connection whose live audio it is: it
        is never sent that audio back, and gets the page's events with ``"own": true``.
        """
        record = self._new_record(direction, fields)
        channel = record["channel"]
        self._streams[key] = _Stream(record, skip=talker)
        wav = None
        if self.recorder is not None and self._records(direction):
            at = time.time() if start is None else start
            self.recorder.open(key, at, channel, record["caller_id"])
            wav = self.recorder.wav_path(key)
        if self.store is not None:
            self.store.started(record, wav)
        self._tell(record, {"type": MessageType.PAGE_START, **record}, own=talker)
        self.events.emit(PAGE_STARTED, record)
        return int(record["id"])

    def audio(self, key: Hashable, pcm: np.ndarray, rate: int, **learnt: Any) -> None:
        """More audio (int16 mono at `rate`) of page `key`, as the phones hear it: for the
        recorder and for every listener of its channel but its talker.

        `learnt` fills fields of its record still unknown (a heard page's codec)."""
        if self.recorder is not None:
            self.recorder.write(key, pcm, rate)
        stream = self._streams.get(key)
        if stream is None:
            return
        for name, value in learnt.items():
            if stream.record.get(name) is None:
                stream.record[name] = value
        self._stream_audio(stream, pcm, rate)

    def ended(
        self,
        key: Hashable,
        fields: dict[str, Any],
        *,
        end: float | None = None,
        recording: dict[str, Any] | None = None,
    ) -> None:
        """Page `key` is over (at `end`; now by default): `fields` complete its record.

        `recording` is the JSON of its recording (by default its record, without id).
        """
        stream = self._streams.pop(key, None)
        if stream is None:
            return
        self._end_audio(stream)
        record = stream.record
        record.update(fields, end=iso_utc(time.time() if end is None else end))
        if record["direction"] == "heard":
            self.metrics.pages_heard += 1
        else:
            self.metrics.pages_sent += 1
        self.metrics.frames_repaired += fields.get("frames_repaired", 0)
        self.metrics.frames_concealed += fields.get("frames_concealed", 0)
        wav = None
        if self.recorder is not None:
            if recording is None:
                recording = {k: v for k, v in record.items() if k != "id"}
            wav = self._serve_recording(record, self.recorder.close(key, recording))
        if self.store is not None:
            self.store.ended(record, wav)
        self._tell(record, {"type": MessageType.PAGE_END, **record}, own=stream.skip)
        self.events.emit(PAGE_ENDED, record)
        if "wav" in record:
            self.events.emit(RECORDING_READY, record)

    def heard_pages(self) -> list[Page]:
        """The pages heard on the LAN that are open now, in the order they started
        (`HeardPages` keys their streams by their `Page`): for the busy rule."""
        return [key for key in self._streams if isinstance(key, Page)]

    # ------------------------------------------------------------ internals

    def _records(self, direction: str) -> bool:
        """Whether the recorder records a page of `direction` now (the relay's may be
        told only some, and stops after a failed write: `RelayRecorder`)."""
        records = getattr(self.recorder, "records", None)
        return True if records is None else bool(records(direction))

    def _serve_recording(self, record: dict[str, Any], saved: Path | None) -> Path | None:
        """Offer the WAV beside the recording `saved` (a JSON; None if it could not be
        written), if the page had audio; its path."""
        if saved is None:
            return None
        wav = saved.with_suffix(".wav")
        if not wav.exists():
            return None
        record["wav"] = wav_url(record["id"])
        return wav

    def _new_record(self, direction: str, fields: dict[str, Any]) -> dict[str, Any]:
        if self.store is not None:
            page_id = self.store.new_id()
        else:
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
            self.recent.popitem(last=False)
        return record

    def _tell(
        self, record: dict[str, Any], event: dict[str, Any], own: Connection | None = None
    ) -> None:
        """`event` to the listeners of `record`'s page (its channel, and its target if
        they may see it: `visible`); to `own` (the page's talker) with ``"own": true``,
        so that its web page offers no Mute for its own voice."""
        for client in list(self.clients):
            if not client.hears(record["channel"]) or not visible(client.grant, record):
                continue
            if not client.offer({**event, "own": True} if client is own else event):
                self._dropped(client)

    def _stream_audio(self, stream: _Stream, pcm: np.ndarray, rate: int) -> None:
        """Resample `pcm` (at `rate`) to the clients' rate and send it to the listeners."""
        if stream.resampler is None and rate != RATE:
            stream.resampler = _resampler(rate)
        listeners = self._listeners(stream)
        if not listeners:
            return
        if stream.resampler is not None:
            pcm = stream.resampler.push(pcm)
        self._send_audio(stream, pcm, listeners, last=False)

    def _end_audio(self, stream: _Stream) -> None:
        tail = np.zeros(0, "int16")
        if stream.resampler is not None:
            tail = stream.resampler.flush()
        self._send_audio(stream, tail, self._listeners(stream), last=True)

    def _listeners(self, stream: _Stream) -> list[Connection]:
        channel, record = stream.record["channel"], stream.record
        return [
            c
            for c in self.clients
            if c.hears(channel) and c is not stream.skip and visible(c.grant, record)
        ]

    def _send_audio(
        self, stream: _Stream, pcm: np.ndarray, listeners: list[Connection], *, last: bool
    ) -> None:
        if len(pcm):
            stream.pending.append(np.asarray(pcm, dtype="<i2"))
        samples = np.concatenate(stream.pending) if stream.pending else np.zeros(0, "<i2")
        whole = len(samples) // FRAME_SAMPLES * FRAME_SAMPLES
        cut = len(samples) if last else whole
        stream.pending = [samples[cut:]] if cut < len(samples) else []
        page_id = stream.record["id"]
        for start in range(0, cut, FRAME_SAMPLES):
            message = (
                AUDIO_HEADER.pack(page_id, stream.frame)
                + samples[start : min(start + FRAME_SAMPLES, cut)].tobytes()
            )
            stream.frame += 1
            for client in listeners:
                if not client.offer(message):
                    self._dropped(client)

    def _dropped(self, client: Connection) -> None:
        if client in self.clients:
            self.clients.discard(client)
            self.metrics.listeners_dropped += 1
            if self.on_drop is not None:
                self.on_drop(client)


class HeardPages:
    """The hub as a page listener of the relay's receiver: pages heard on the LAN.

    Their records take their codec from their first audio and their summary from their
    end; their recordings are what ``polyptt listen --record`` writes.
    """

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def page_started(self, page: Page) -> None:
        fields = {
            "channel": page.channel,
            "caller_id": page.caller_id,
            "serial": page.serial,
            "source": page.source,
            "codec": None,
        }
        if is_marked(page.serial):  # from RTP, through a bridge (this relay's or another's)
            fields["via"] = "bridge"
        self.hub.started(page, "heard", fields, start=page.start)

    def page_audio(self, page: Page, pcm: np.ndarray, now: float) -> None:
        self.hub.audio(page, pcm, page.codec.sample_rate, codec=page.codec.name)

    def page_ended(self, page: Page) -> None:
        summary = page.summary()
        fields = {key: summary[key] for key in _SUMMARY_KEYS}
        fields["caller_id"] = page.caller_id
        end = page.end if page.end is not None else page.last
        self.hub.ended(page, fields, end=end, recording=page_record(page))
