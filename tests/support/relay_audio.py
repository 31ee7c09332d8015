"""Audio for the relay's tests: the speech sample as 20 ms client frames."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import soundfile

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech16k.wav"
CHIME = Path(__file__).resolve().parents[2] / "examples" / "audio" / "chime.wav"
FRAME = 320  # 20 ms at 16 kHz


def speech(seconds: float) -> np.ndarray:
    pcm, rate = soundfile.read(SPEECH, dtype="int16")
    assert rate == 16000
    return pcm[: int(seconds * rate)]


def frames(pcm: np.ndarray) -> list[bytes]:
    """`pcm` as 20 ms PCM16LE messages (the last one may be shorter)."""
    return [pcm[i : i + FRAME].astype("<i2").tobytes() for i in range(0, len(pcm), FRAME)]


async def stream_realtime(ws: object, messages: list[bytes]) -> None:
    """Send `messages` paced at 20 ms each on the loop's clock, as a microphone would."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for index, message in enumerate(messages):
        delay = start + index * 0.02 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await ws.send_bytes(message)  # type: ignore[attr-defined]
