"""Live audio for a page: captured in one thread, framed and taken in another.

A live page starts capturing when its alerts start, not when they end: the alerts last
0.93 s, and a person who presses "talk" speaks at once. :class:`LiveFrames` holds
everything fed to it until the pacer asks, so nothing said from the start is lost. The
page would then run the alerts' length behind the speaker; a talker's page (microphone,
browser) catches up in the pauses instead (`polyptt.audio.catchup`).

Who does what
-------------
- A producer (PortAudio's callback thread for :class:`Microphone`, a reader thread for
  :class:`RawReader`, the relay's event loop for a browser) calls
  :meth:`LiveFrames.feed` with PCM chunks: it only queues them, so a real-time audio
  callback never waits for resampling or encoding.
- The pacer calls :meth:`LiveFrames.next_frame` when a frame is due: the queued chunks
  are resampled and encoded there (`polyptt.audio.framer.Framer`), in the pacer's thread.
- :meth:`LiveFrames.close` says the audio is over (end of file, Ctrl-C, a stop key):
  what was fed before it is still sent, then the page ends.

The queue is bounded (`max_buffer_s`): a producer far ahead of the page (faster than
real time for minutes) loses the chunks that come past the limit, counted in
:attr:`LiveFrames.overflowed`, rather than growing without limit.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from polyptt.audio import sniff
from polyptt.audio.catchup import CatchUp, for_capture
from polyptt.audio.devices import DeviceError, find, load_sounddevice
from polyptt.audio.framer import Framer

__all__ = [
    "Capture",
    "DeviceError",
    "LiveFrames",
    "Microphone",
    "PcmReader",
    "RawReader",
    "parse_device",
]

_CLOSE = object()  # queued by close(): everything before it is audio

#: A frame this late (as a share of a frame) is no dry spell: the phones do not hear it,
#: and the page's schedule slips by as much, which is that much cushion already. Only
#: longer spells make an adaptive page keep more and refill (`CatchUp.ran_dry`): counting
#: every millisecond of a WebSocket's timing would put a page 30 ms behind for nothing.
DRY_TOLERANCE = 0.25


class LiveFrames:
    """A page's audio as it is captured: a `~polyptt.send.source.FrameSource`.

    Parameters
    ----------
    framer : Framer
        Turns the fed chunks into frames (its input rate and channels are the chunks').
    max_buffer_s : float
        Audio held at most, counted at the input rate; older chunks are dropped past it.
    catch_up : bool or CatchUp
        Skip pauses while the page runs late (`polyptt.audio.catchup`): True for a
        talker (a microphone, a browser), False where every sample must go out (audio
        from a program, which may come faster than real time). A `CatchUp` sets its
        thresholds.

    Attributes
    ----------
    overflowed : int
        Input samples dropped because the buffer was full.
    skipped : list of (int, int)
        The pauses skipped to catch up: (position in the input, in samples; length).
    """

    def __init__(
        self,
        framer: Framer,
        *,
        max_buffer_s: float = 30.0,
        catch_up: bool | CatchUp = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.framer = framer
        self.overflowed = 0
        self.skipped: list[tuple[int, int]] = []
        self._chunks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._waiting: collections.deque[tuple[Any, float]] = collections.deque()
        self._waiting_samples = 0  # taken off the queue, not framed yet
        self._position = 0  # input samples framed or skipped
        self._frames: collections.deque[bytes] = collections.deque()
        self._limit = int(max_buffer_s * framer.input_rate)
        self._queued = 0  # input samples fed and not yet framed (approximate across threads)
        self._lock = threading.Lock()
        self._closed = False
        self._ended = False
        if catch_up is True:
            catch_up = CatchUp(framer.input_rate)
        self._catch_up = catch_up or None
        self._frame_in = round(framer.frame_samples * framer.input_rate / framer.info.sample_rate)
        self._clock = clock
        self._tolerance_s = DRY_TOLERANCE * framer.frame_samples / framer.info.sample_rate
        self._under_way = False  # a frame was taken: from now on, none ready is a dry spell
        self._dry_since: float | None = None
        self._unready = 0  # times in a row no frame was ready
        self._refill = False  # waiting for the cushion after a dry spell
        self._close_waiting = False  # the end is in the waiting line: no more to wait for

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    @property
    def catch_up(self) -> CatchUp | None:
        """What decides the pauses skipped while late; None if every sample goes out."""
        return self._catch_up

    def feed(self, pcm: npt.ArrayLike) -> None:
        """Queue a chunk of PCM (any thread; never blocks). Ignored after `close`.

        The array is copied: a PortAudio callback may reuse its buffer.
        """
        if self._closed:
            return
        chunk = np.array(pcm, copy=True)
        with self._lock:
            if self._queued + len(chunk) > self._limit:
                self.overflowed += len(chunk)
                return
            self._queued += len(chunk)
        self._chunks.put(chunk)

    def close(self) -> None:
        """No more audio: what was fed is still framed and sent, then the page ends."""
        if not self._closed:
            self._closed = True
            self._chunks.put(_CLOSE)

    def next_frame(self) -> bytes | None:
        """The next frame, None if not captured yet, ``b""`` once the audio is over.

        Call from one thread (the pacer's): this is where the audio is encoded, and
        where pauses are skipped while the page runs late.
        """
        if not self._frames and not self._ended:
            self._take_chunks()
            if self._refilling():
                return None
            self._frame_one()
        if self._frames:
            self._end_dry_spell()
            self._unready = 0
            self._under_way = True
            return self._frames.popleft()
        if self._ended:
            return b""
        # a pacer asks once ahead of time, right after sending a frame; asked again, the
        # frame is due: the source has run dry
        self._unready += 1
        if self._unready == 2 and self._under_way:
            self._dry_since = self._clock()
        return None

    def _end_dry_spell(self) -> bool:
        """Audio came back after a dry spell: tell the catch-up how long it lasted, if
        longer than `DRY_TOLERANCE`; returns whether it was."""
        if self._dry_since is None:
            return False
        spell = self._clock() - self._dry_since
        self._dry_since = None
        if self._catch_up is None or spell <= self._tolerance_s:
            return False
        self._catch_up.ran_dry(spell)
        return True

    def _refilling(self) -> bool:
        """After running dry, an adaptive page waits until it has what it now keeps (the
        spell's length more, `CatchUp.ran_dry`), so that the next late chunk finds audio
        waiting: the held-up audio that arrives at once becomes that cushion."""
        catch_up = self._catch_up
        if catch_up is None or not catch_up.adaptive or self._close_waiting:
            return False
        if self._dry_since is not None and self._waiting_samples >= self._frame_in:
            self._refill = self._end_dry_spell() or self._refill
        if not self._refill:
            return False
        self._refill = self._waiting_samples < self._frame_in + catch_up.kept
        return self._refill

    def _take_chunks(self) -> None:
        """Move what the producer queued to the waiting line, measured if catching up."""
        catch_up = self._catch_up
        while True:
            try:
                chunk = self._chunks.get_nowait()
            except queue.Empty:
                return
            if chunk is _CLOSE:
                self._waiting.append((chunk, 0.0))
                self._close_waiting = True
                continue
            level = catch_up.level(chunk) if catch_up is not None else 0.0
            self._waiting.append((chunk, level))
            self._waiting_samples += len(chunk)

    def _frame_one(self) -> None:
        """Frame waiting chunks until a frame is out (or none wait), skipping pauses."""
        framer, catch_up, waiting = self.framer, self._catch_up, self._waiting
        while not self._frames and waiting:
            chunk, level = waiting.popleft()
            if chunk is _CLOSE:
                self._frames.extend(framer.flush())
                self._ended = True
                return
            size = len(chunk)
            self._waiting_samples -= size
            with self._lock:
                self._queued -= size
            if catch_up is not None and catch_up.skips(
                size, level, self._waiting_samples - self._frame_in, _sizes_and_levels(waiting)
            ):
                self._note_skip(size)
            else:
                self._frames.extend(framer.push(chunk))
                if catch_up is not None:
                    catch_up.framed(size)
            self._position += size

    def _note_skip(self, size: int) -> None:
        if self.skipped and sum(self.skipped[-1]) == self._position:
            start, length = self.skipped[-1]
            self.skipped[-1] = (start, length + size)
        else:
            self.skipped.append((self._position, size))


def _sizes_and_levels(waiting: Iterable[tuple[Any, float]]) -> Iterator[tuple[int, float]]:
    for chunk, level in waiting:
        if chunk is _CLOSE:
            return
        yield len(chunk), level


def parse_device(text: str | None) -> int | str | None:
    """A device as PortAudio takes it: an index (``"3"``), a name or part of one, or
    None for the default."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    return int(text) if text.isdigit() else text


class Capture:
    """An input device captured in blocks of int16 mono, each handed to `on_block`.

    The one place polyptt opens a microphone: a page's (:class:`Microphone`), the VOX
    gate's, and the relay client's, which sends the blocks as they come. The stream
    runs at `rate` when the device accepts it (PortAudio or the sound server then
    resamples), at the device's default rate otherwise (:attr:`samplerate` says which).
    Nothing is captured until :meth:`start`.

    Parameters
    ----------
    rate : int
        The rate wanted.
    on_block : callable
        Called with every block (a 1-D int16 array PortAudio may reuse: copy to keep),
        in PortAudio's thread: keep it cheap.
    device : int or str, optional
        A PortAudio input device (index or name); the default input by default.
    block_s : float
        Seconds per block.

    Raises
    ------
    DeviceError
        Without PortAudio, without such an input device, or if it cannot be opened.

    Attributes
    ----------
    samplerate : int
        The rate the device captures at.
    name : str
        The device's name.
    status_flags : int
        Blocks PortAudio flagged (input overflows).
    """

    def __init__(
        self,
        rate: int,
        on_block: Callable[[np.ndarray], None],
        *,
        device: int | str | None = None,
        block_s: float = 0.01,
    ) -> None:
        sounddevice = load_sounddevice()
        info = find(device, "input")
        self.name = str(info["name"])
        try:
            sounddevice.check_input_settings(device, channels=1, dtype="int16", samplerate=rate)
        except (ValueError, sounddevice.PortAudioError):
            rate = int(info["default_samplerate"])
        self.samplerate = rate
        self.status_flags = 0

        def callback(indata: np.ndarray, _frames: int, _time: Any, status: Any) -> None:
            if status:
                self.status_flags += 1
            on_block(indata[:, 0])

        try:
            self._stream = sounddevice.InputStream(
                device=device,
                channels=1,
                dtype="int16",
                samplerate=rate,
                blocksize=round(rate * block_s),
                callback=callback,
            )
        except (ValueError, sounddevice.PortAudioError) as exc:
            raise DeviceError(f"cannot open {self.name!r} for capture: {exc}") from None

    def start(self) -> None:
        """Start capturing."""
        self._stream.start()

    def stop(self) -> None:
        """Stop capturing (the device stays open)."""
        self._stream.stop()

    def close(self) -> None:
        """Release the device."""
        self._stream.close()


class Microphone:
    """Capture from an input device into a :class:`LiveFrames`: a page's microphone.

    The capture (:class:`Capture`) runs at the codec's rate when the device accepts it,
    at the device's default rate otherwise (the framer then resamples).

    Parameters
    ----------
    codec : str
        The page's codec.
    frame_ms : int
        The page's frame length.
    device : int or str, optional
        A PortAudio input device (index or name); the default input by default.
    gain_db : float
        Gain before encoding.
    max_buffer_s, catch_up
        See :class:`LiveFrames`: by default a microphone's page catches up with the
        speaker in the pauses once the alerts are over, then keeps 20 ms waiting, more
        if the device delivers in fits (`polyptt.audio.catchup.for_capture`).
    monitor : callable, optional
        Called with every captured block (int16, in PortAudio's thread; keep it cheap):
        ``polyptt loop`` draws its level meter from it.

    Raises
    ------
    DeviceError
        Without PortAudio, without such an input device, or if it cannot be opened.

    Attributes
    ----------
    frames : LiveFrames
        The page's source.
    samplerate, name, status_flags
        The capture's (see :class:`Capture`).
    """

    #: PortAudio's block: 10 ms at any rate keeps the queue fine-grained.
    BLOCK_S = 0.01

    def __init__(
        self,
        codec: str,
        frame_ms: int,
        *,
        device: int | str | None = None,
        gain_db: float = 0.0,
        max_buffer_s: float = 30.0,
        catch_up: bool | CatchUp = True,
        monitor: Callable[[np.ndarray], None] | None = None,
    ) -> None:
        from polyptt import codecs

        def on_block(block: np.ndarray) -> None:
            self.frames.feed(block)
            if monitor is not None:
                monitor(block)

        rate = codecs.info(codec).sample_rate
        self._capture = Capture(rate, on_block, device=device, block_s=self.BLOCK_S)
        rate = self.samplerate = self._capture.samplerate
        self.name = self._capture.name
        framer = Framer(codec, frame_ms, input_rate=rate, gain_db=gain_db)
        if catch_up is True:
            catch_up = for_capture(rate)
        self.frames = LiveFrames(framer, max_buffer_s=max_buffer_s, catch_up=catch_up)

    @property
    def status_flags(self) -> int:
        """Blocks PortAudio flagged (input overflows)."""
        return self._capture.status_flags

    def start(self) -> None:
        """Start capturing (at the first alert)."""
        self._capture.start()

    def stop(self) -> None:
        """Stop capturing; what was captured is still sent, then the page ends."""
        if not self.frames.closed:
            self._capture.stop()
            self.frames.close()

    def close(self) -> None:
        """Stop and release the device."""
        self.stop()
        self._capture.close()

    def __enter__(self) -> Microphone:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class PcmReader:
    """Raw signed 16-bit little-endian mono PCM from a pipe or a file, read by a thread.

    The one raw reader: a page's (:class:`RawReader`) and the relay client's. The thread
    reads whatever the pipe holds (``os.read``, not waiting for a full buffer), so a
    text-to-speech engine or ``arecord`` streaming into polyptt goes on with no more
    delay than its own; a sample split between two reads waits for its second byte.
    Before the thread starts, :meth:`wait_for_audio` can wait for the stream's first
    bytes and check that they can be raw audio (`polyptt.audio.sniff`).

    Parameters
    ----------
    stream : binary file
        Standard input, typically.
    on_pcm : callable
        Called with each chunk, a 1-D int16 array of whole samples (in the thread, or in
        :meth:`wait_for_audio`'s caller for the first bytes). It may block: reading
        waits for it (a consumer paced in real time holds a file back).
    on_end : callable
        Called once in the thread when reading is over: end of file, a read error, or
        :meth:`stop`.

    Attributes
    ----------
    error : OSError or None
        Why reading stopped early, if it did.
    """

    _READ = 1 << 14

    def __init__(
        self,
        stream: BinaryIO,
        on_pcm: Callable[[npt.NDArray[np.int16]], object],
        on_end: Callable[[], object],
        *,
        name: str = "polyptt-raw-reader",
    ) -> None:
        self.error: OSError | None = None
        self._read = sniff.reader_of(stream)
        self._odd = b""  # a sample split between two reads
        self._on_pcm = on_pcm
        self._on_end = on_end
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def wait_for_audio(self, name: str) -> None:
        """Block until the stream's first bytes are here, and hand them on (call before
        :meth:`start`: a page's alerts then wait for its first audio). `name` is the
        stream as the user knows it ("standard input", a path), for messages.

        Raises
        ------
        sniff.RawInputError
            The stream looks like an audio file, or ended before its first sample.
        """
        self._feed(sniff.read_head(self._read, name))

    def start(self) -> None:
        """Start reading."""
        self._thread.start()

    def stop(self) -> None:
        """Stop reading after the read under way (what it returns is still handed on)."""
        self._stopped.set()

    def _feed(self, data: bytes) -> None:
        data = self._odd + data
        cut = len(data) - len(data) % 2
        self._odd = data[cut:]
        if cut:
            self._on_pcm(np.frombuffer(data[:cut], dtype="<i2").astype(np.int16))

    def _run(self) -> None:
        try:
            while not self._stopped.is_set():
                data = self._read(self._READ)
                if not data:
                    break
                self._feed(data)
        except OSError as exc:
            self.error = exc
        finally:
            self._on_end()


class RawReader:
    """Raw PCM16LE mono from a pipe into a :class:`LiveFrames`, fed as it arrives.

    A :class:`PcmReader` feeds the page's frames; end of file closes the audio. Before
    the page, :meth:`wait_for_audio` waits for the stream's first bytes and checks that
    they can be raw audio (`polyptt.audio.sniff`).

    Parameters
    ----------
    stream : binary file
        Standard input, typically.
    rate : int
        The samples' rate.
    codec, frame_ms, gain_db, max_buffer_s
        As for :class:`Microphone`.
    name : str
        The stream as the user knows it, for messages.

    Attributes
    ----------
    frames : LiveFrames
        The page's source.
    """

    def __init__(
        self,
        stream: BinaryIO,
        rate: int,
        codec: str,
        frame_ms: int,
        *,
        gain_db: float = 0.0,
        max_buffer_s: float = 300.0,
        name: str = "standard input",
    ) -> None:
        framer = Framer(codec, frame_ms, input_rate=rate, gain_db=gain_db)
        self.frames = LiveFrames(framer, max_buffer_s=max_buffer_s)
        self.name = name
        self._reader = PcmReader(stream, self.frames.feed, self.frames.close)

    @property
    def error(self) -> OSError | None:
        """Why reading stopped early, if it did."""
        return self._reader.error

    def wait_for_audio(self) -> None:
        """Block until the stream's first bytes are here, and queue them (call before
        the page: its alerts then wait for the first audio).

        Raises
        ------
        sniff.RawInputError
            The stream looks like an audio file, or ended before its first sample.
        """
        self._reader.wait_for_audio(self.name)

    def start(self) -> None:
        """Start reading (at the first alert)."""
        self._reader.start()

    def stop(self) -> None:
        """Stop taking audio: what was read is still sent, then the page ends."""
        self._reader.stop()
        self.frames.close()
