"""Audio devices in the user's terms: which exist, and what to say when one is missing.

PortAudio reports a missing default device as "Error querying device -1" and an unknown
index as "Error querying device 7": true, but it says nothing to someone whose machine
simply has no sound card, or whose sound server is not running. Every command that opens
a microphone or a speaker asks for it here (`find`), and gets a `DeviceError` whose
message says which device is missing and how to list the ones there are.

sounddevice is imported only when a device is asked for: without PortAudio, paging a
file and listening still work.
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["LIST_HINT", "DeviceError", "find", "listing", "load_sounddevice"]

#: How to see the devices, said after every missing one.
LIST_HINT = "'polyptt loop --list-devices' lists the audio devices"

#: What each kind of device is to a user.
_NOUNS = {"input": "microphone", "output": "speaker"}


class DeviceError(Exception):
    """An audio device cannot be used: no PortAudio, no such device, refused settings.

    The message is one line naming the device.
    """


def load_sounddevice() -> Any:
    """The sounddevice module; `DeviceError` if PortAudio is not installed."""
    try:
        import sounddevice
    except OSError as exc:  # "PortAudio library not found"
        raise DeviceError(f"no audio devices: {exc} (install libportaudio2)") from None
    return sounddevice


def find(device: int | str | None, kind: Literal["input", "output"]) -> dict[str, Any]:
    """PortAudio's description of `device` (None: the default one of `kind`).

    Raises
    ------
    DeviceError
        Without PortAudio, or if there is no such device: "there is no audio input
        device (microphone) here" rather than PortAudio's "Error querying device -1".
    """
    sounddevice = load_sounddevice()
    try:
        return dict(sounddevice.query_devices(device, kind=kind))
    except (ValueError, sounddevice.PortAudioError) as exc:
        raise DeviceError(_missing(device, kind, exc)) from None


def _missing(device: int | str | None, kind: str, exc: Exception) -> str:
    if device is None:
        return f"there is no audio {kind} device ({_NOUNS[kind]}) here; {LIST_HINT}"
    if str(exc).startswith("Multiple"):  # a name that matches several devices
        return (
            f"{kind} device {device!r}: several devices match (give its number, or more "
            f"of its name); {LIST_HINT}"
        )
    return f"{kind} device {device!r}: no such device; {LIST_HINT}"


def listing() -> str:
    """The devices PortAudio sees, one a line, or a line saying that there are none.

    Raises
    ------
    DeviceError
        Without PortAudio.
    """
    devices = load_sounddevice().query_devices()
    if not len(devices):
        return (
            "no audio devices: PortAudio sees no sound card, and no sound server "
            "(PulseAudio, PipeWire) that it can reach"
        )
    return str(devices)
