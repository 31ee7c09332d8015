"""Every codec's audio reaches the relay's WebSocket listeners as its packets arrive.

A real page from ``polyptt send`` (another serial) in each codec the wire carries, a
real relay and a WebSocket listener, inside the test network namespace. Each 20 ms
message's delay is measured from the wire arrival of the packet that completed it
(`tests.relay.listen_timing`). The goal is 40 ms; the bounds leave room for a loaded
2-core machine yet fail on narrowband pages let out in ~100 ms lumps (soxr's streaming
resampler), and on the relay's receive loop pausing 40 ms between reads.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import numpy as np
import pytest
import soundfile
from tests.support.listen_timing import follow_page, message_lags
from tests.support.relay import add_token, start_relay, write_config
from tests.support.udp_capture import free_port

pytestmark = pytest.mark.network

TONE_HZ = 1000


def _tone(path: Path, seconds: float = 2.0) -> Path:
    t = np.arange(int(seconds * 16000)) / 16000
    soundfile.write(path, 0.3 * np.sin(2 * np.pi * TONE_HZ * t), 16000, subtype="PCM_16")
    return path


def _tone_snr_db(pcm: np.ndarray) -> float:
    """Power within 50 Hz of the tone against all the rest (noise, images, clicks)."""
    middle = pcm[len(pcm) // 4 : -len(pcm) // 4].astype(float)
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle)))) ** 2
    near = np.abs(np.fft.rfftfreq(len(middle), 1 / 16000) - TONE_HZ) < 50
    return float(10 * np.log10(spectrum[near].sum() / spectrum[~near].sum()))


@pytest.mark.parametrize(
    ("codec", "min_snr_db"), [("g711u", 40.0), ("g722", 40.0), ("g726qi", 22.0)]
)
def test_each_packet_reaches_listeners_at_once_in_20_ms_messages(
    tmp_path: Path, codec: str, min_snr_db: float
) -> None:
    port = free_port()
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Monitor", "listen")
    relay = start_relay(config, udp_port=port)
    try:
        page = asyncio.run(follow_page(relay.ws_url, token, port, codec, _tone(tmp_path / "t.wav")))
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    assert len(page.transmits) == 67  # 2 s in 30 ms packets
    sizes = [size for _t, _frame, size in page.messages]
    assert [frame for _t, frame, _size in page.messages] == list(range(len(sizes)))
    assert set(sizes[:-1]) == {640}  # 20 ms at 16 kHz each, but the page's tail
    assert sum(sizes) // 2 >= 67 * 480
    lags = np.array(message_lags(page))
    assert len(lags) >= 100
    # the first packet waits for the second (the receiver learns the frame step): 30 ms
    assert np.percentile(lags, 90) <= 0.020, np.round(lags * 1000, 1)
    assert lags.max() <= 0.100, np.round(lags * 1000, 1)
    # and the tone is clean: no images of the 8 kHz audio, no clicks at the joins
    assert _tone_snr_db(np.frombuffer(page.audio, dtype="<i2")) >= min_snr_db
