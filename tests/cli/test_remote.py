"""``send --relay`` and ``listen --relay`` against a real relay: every option of the two
commands either works through the relay as it works locally or is refused in one line.

The option lists below are the contract: a new option of ``send`` or ``listen`` fails
`test_every_option_is_supported_or_refused_through_the_relay` until it is put in one of
them (and, if refused, in `polyptt.cli.remote`'s lists).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
import soxr
from click.testing import CliRunner
from tests.support.audio_devices import SpeakerMonitor, align, one_clean_run, sounddevice_or_skip
from tests.support.listen import expected_audio, polyptt, start_listen
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.relay import add_token, start_relay, write_config
from tests.support.relay_audio import CHIME, SPEECH, speech
from tests.support.speech import TEXT, assert_spoken, espeak_reference
from tests.support.udp_capture import WireSniffer, free_port

from polyptt.cli import cli
from polyptt.cli.listen import listen
from polyptt.cli.remote import LISTEN_LOCAL_ONLY, SEND_LOCAL_ONLY
from polyptt.cli.send import send
from polyptt.pcap import read_datagrams
from polyptt.protocol import DEFAULT_GROUP

#: Options that work through the relay, each shown by a test here or in tests/relay/test_pages.py.
SEND_THROUGH_RELAY = {
    "file": "test_send_and_listen_through_the_relay_from_the_cli",
    "mic": "test_send_mic_through_the_relay_carries_what_the_microphone_heard",
    "raw_rate": "test_send_raw_through_the_relay_is_paced_and_paged",
    "input_device": "checked with --mic (test_input_device_needs_mic_through_the_relay too)",
    "keep_pauses": "with --mic, in the talk message (tests/relay/test_pages.py keep_pauses cases)",
    "duration": "test_send_raw_through_the_relay_is_paced_and_paged, test_file_options_...",
    "channel": "every test",
    "codec": "test_file_options_through_the_relay_shape_the_page_as_send_does",
    "relay": "every test",
    "token": "every test",
    "repeat": "test_file_options_through_the_relay_shape_the_page_as_send_does",
    "gap": "test_file_options_through_the_relay_shape_the_page_as_send_does",
    "gain": "test_file_options_... and test_send_raw_...",
    "as_json": "test_send_and_listen_through_the_relay_from_the_cli",
    "verbose": "the console, as locally",
    "quiet": "the console, as locally",
    "say": "test_send_say_through_the_relay_is_spoken_by_the_relay (refusals: "
    "test_send_say_through_a_relay_without_an_engine_or_too_long_is_one_line)",
    "chime": "test_send_say_through_the_relay_is_spoken_by_the_relay",
    "voice": "test_send_say_through_the_relay_is_spoken_by_the_relay",
    "rate_wpm": "test_send_say_through_the_relay_is_spoken_by_the_relay",
    "sites": "tests/relay/test_sites.py test_send_through_the_relay_to_a_site",
}
LISTEN_THROUGH_RELAY = {
    "channels": "test_send_and_listen_through_the_relay_from_the_cli (via the WebSocket)",
    "play": "test_listen_through_the_relay_plays_pages_on_the_speaker",
    "record": "test_send_and_listen_through_the_relay_from_the_cli",
    "as_json": "test_send_and_listen_through_the_relay_from_the_cli",
    "count": "test_send_and_listen_through_the_relay_from_the_cli",
    "timeout": "test_send_and_listen_through_the_relay_from_the_cli",
    "relay": "every test",
    "token": "every test",
    "verbose": "the console, as locally",
    "quiet": "the console, as locally",
}

#: A valid value for each refused option (flags: no value).
REFUSED_VALUES = {
    "caller_id": ["--caller-id", "Lobby"],
    "serial": ["--serial", "0x1234"],
    "destination": ["--to", f"{DEFAULT_GROUP}:5001"],
    "interface": ["--iface", "127.0.0.1"],
    "ttl": ["--ttl", "1"],
    "source_port": ["--source-port", "0"],
    "frame_ms": ["--frame-ms", "20"],
    "pcap": ["--pcap", str(CHIME)],  # listen's must exist; send's is written (never here)
    "realtime": ["--no-realtime"],
    "start_count": ["--start-count", "5"],
    "tts_engine": ["--tts-engine", "piper"],
    "endpoints": ["--from", f"{DEFAULT_GROUP}:5001"],
    "page_timeout": ["--page-timeout", "2"],
}


def test_every_option_is_supported_or_refused_through_the_relay() -> None:
    for command, supported, refused in (
        (send, SEND_THROUGH_RELAY, SEND_LOCAL_ONLY),
        (listen, LISTEN_THROUGH_RELAY, LISTEN_LOCAL_ONLY),
    ):
        names = [p.name for p in command.params]
        assert not set(supported) & set(refused)
        assert sorted(names) == sorted({*supported, *refused}), command.name


@pytest.mark.parametrize(
    ("command", "name"),
    [("send", n) for n in SEND_LOCAL_ONLY] + [("listen", n) for n in LISTEN_LOCAL_ONLY],
)
def test_a_local_only_option_is_refused_in_one_line(command: str, name: str) -> None:
    """Nothing is contacted: the relay's URL is a closed port."""
    args = [command, "--relay", "http://127.0.0.1:9", "--token", "t", *REFUSED_VALUES[name]]
    if command == "send":
        args.append(str(CHIME))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    reasons = SEND_LOCAL_ONLY if command == "send" else LISTEN_LOCAL_ONLY
    assert result.output.count("\n") == 1
    assert result.output.startswith("Error: ")
    assert REFUSED_VALUES[name][0] in result.output.split(" does nothing")[0]
    assert f" does nothing with --relay ({reasons[name]})" in result.output


def test_input_device_needs_mic_through_the_relay() -> None:
    args = ["send", "--relay", "http://127.0.0.1:9", "--token", "t", "--input-device", "0"]
    result = CliRunner().invoke(cli, [*args, str(CHIME)])
    assert result.exit_code == 2
    assert result.output.startswith("Error: --input-device goes with --mic")


@pytest.mark.network  # it does try to connect (to a closed port on loopback)
def test_environment_settings_for_local_multicast_are_not_refused(tmp_path: Path) -> None:
    """POLYPTT_IFACE and POLYPTT_TTL (set for every test) configure this host's own
    multicast; with --relay they are unused, not an error: the request reaches the relay
    (here a closed port: exit 1, cannot reach it)."""
    result = CliRunner().invoke(
        cli, ["send", "--relay", "http://127.0.0.1:9", "--token", "t", str(CHIME)]
    )
    assert result.exit_code == 1
    assert "cannot reach the relay" in result.output


def _relay_metric(relay: Any, token: str, name: str) -> float:
    _, text = relay.request("GET", "/metrics", token)
    line = next(x for x in text.splitlines() if x.startswith(f"polyptt_relay_{name} "))
    return float(line.split()[1])


@pytest.mark.network
def test_file_options_through_the_relay_shape_the_page_as_send_does(tmp_path: Path) -> None:
    """--codec, --repeat, --gap, --gain and --duration through the relay give the frames
    ``send`` itself gives for them (compared with ``send --pcap`` at the relay's 30 ms)."""
    port = free_port()
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Shaper", "talk")
    relay = start_relay(config, udp_port=port)
    shape = ["--codec", "g711u", "--repeat", "3", "--gap", "0.25", "--gain", "-6"]
    shape += ["--duration", "2.5", "--channel", "30"]
    lan = start_listen(tmp_path / "lan", "--count", "1", "--timeout", "30", port=port)
    try:
        sent = polyptt("send", "--relay", relay.url, "--token", token, "--json", *shape, str(CHIME))
        assert lan.wait() == 0
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    capture = tmp_path / "local.pcap"
    polyptt("send", "--pcap", str(capture), *shape, str(CHIME))
    _, reference, reference_frames = expected_audio(
        d.payload for d in read_datagrams(capture, lambda _w: None)
    )
    answer = json.loads(sent.stdout)
    ((meta, audio),) = lan.recordings().values()
    assert (meta["codec"], meta["channel"], meta["frames"]) == ("g711u", 30, len(reference_frames))
    assert answer["frames"] == len(reference_frames) == 2500 // 30 + 1  # cut by --duration
    np.testing.assert_array_equal(audio, reference)


@pytest.mark.network
def test_send_say_through_the_relay_is_spoken_by_the_relay(tmp_path: Path) -> None:
    """``send --relay --say`` posts the text (with --chime, --voice, --rate and the page's
    options) as JSON: the relay speaks it, espeak-ng's rendering after the chime; an
    empty text is refused here, before the relay is asked."""
    port = free_port()
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Speaker", "talk")
    relay = start_relay(config, udp_port=port)
    lan = start_listen(tmp_path / "lan", "--count", "1", "--timeout", "30", port=port)
    base = ["send", "--relay", relay.url, "--token", token, "--channel", "27"]
    try:
        spoken = ["--say", TEXT, "--chime", "--voice", "en-us", "--rate", "150", "--json"]
        sent = polyptt(*base, *spoken, "--codec", "g711u")
        assert lan.wait() == 0
        empty = polyptt(*base, "--say", " ", check=False)
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    answer = json.loads(sent.stdout)
    assert (answer["outcome"], answer["codec"], answer["channel"]) == ("completed", "g711u", 27)
    ((meta, audio),) = lan.recordings().values()
    assert (meta["caller_id"], meta["frames"]) == ("Speaker", answer["frames"])
    assert_spoken(audio, TEXT, "-v", "en-us", "-s", "150", chime=True, rate=8000)
    assert (empty.returncode, empty.stdout) == (2, "")
    assert empty.stderr == (
        "Error: Invalid value for '--say': nothing to say: the text is empty "
        "(see 'polyptt send --help')\n"
    )


#: Fifteen words at 80 words per minute: longer than the relay's 10 s limit below.
TOO_LONG = " ".join(["attention"] * 15)


def _said_through(relay_url: str, token: str, *args: str) -> tuple[Any, list[Any]]:
    """``send --relay --say`` with `args`: what it did, and every UDP datagram the
    namespace saw meanwhile (a raw socket: any group, any port)."""
    base = ["send", "--relay", relay_url, "--token", token, "--channel", "26"]
    with WireSniffer() as sniffer:
        done = polyptt(*base, *args, check=False)
        time.sleep(0.3)
    return done, sniffer.datagrams


@pytest.mark.network
def test_send_say_through_a_relay_without_an_engine_or_too_long_is_one_line(
    tmp_path: Path,
) -> None:
    """The relay speaks, so its engine and its limit count: a relay without espeak-ng
    on its PATH fails the page (503, exit 1: nothing the sender can fix) and says what
    to install; speech longer than its ``max_page_s`` is refused (400, exit 2) with how
    long it lasts. One line each, and not one datagram on the LAN."""
    config = write_config(tmp_path / "relay", "[limits]\nmax_page_s = 10\n")
    token = add_token(config, "Speaker", "talk")
    bare = tmp_path / "bin"  # the Python under test, and no espeak-ng
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)
    relay = start_relay(config, udp_port=free_port(), wrap=["env", f"PATH={bare}"])
    try:
        no_engine, no_engine_sent = _said_through(relay.url, token, "--say", TEXT)
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    relay = start_relay(config, udp_port=free_port())
    try:
        too_long, too_long_sent = _said_through(relay.url, token, "--say", TOO_LONG, "--rate", "80")
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    assert (no_engine.returncode, no_engine.stdout, no_engine_sent) == (1, "", [])
    assert no_engine.stderr == (
        "Error: the relay failed (503): no text-to-speech engine: espeak-ng is not installed "
        "(apt install espeak-ng)\n"
    )
    assert (too_long.returncode, too_long.stdout, too_long_sent) == (2, "", [])
    head = "Error: the relay refused (400): bad audio: the speech: the audio lasts "
    assert too_long.stderr.startswith(head)
    assert too_long.stderr.endswith(" s; limit: 10 s\n")
    assert too_long.stderr.count("\n") == 1
    lasts = float(too_long.stderr[len(head) :].split(" ")[0])
    spoken = len(espeak_reference(TOO_LONG, "-s", "80")) / 16000
    assert lasts == pytest.approx(spoken, abs=0.1)
    assert lasts > 10


@pytest.mark.network
def test_send_raw_through_the_relay_is_paced_and_paged(tmp_path: Path) -> None:
    """``send --raw 8000 -`` through the relay: raw PCM read from a pipe at full speed
    is sent no faster than real time (the relay throttles nothing), resampled and with
    --gain applied by the relay, and cut by --duration."""
    port = free_port()
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Raw", "talk")
    clip = speech(3.0)
    raw = soxr.resample(clip.astype(np.float32) / 32768, 16000, 8000)
    raw_bytes = (raw * 32767).astype("<i2").tobytes()
    relay = start_relay(config, udp_port=port)
    lan = start_listen(tmp_path / "lan", "--count", "1", "--timeout", "30", port=port)
    try:
        command = ["send", "--relay", relay.url, "--token", token, "--raw", "8000"]
        command += ["--gain", "-6", "--duration", "2.5", "--json", "-"]
        started = time.monotonic()
        sent = polyptt(*command, input=raw_bytes.decode("latin-1"), encoding="latin-1")
        elapsed = time.monotonic() - started
        assert lan.wait() == 0
        throttled = _relay_metric(relay, token, "audio_throttled_seconds_total")
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    stopped = json.loads(sent.stdout)
    assert (stopped["reason"], stopped["ends"], stopped["frames"]) == ("stop", 12, 125)
    assert throttled == 0
    assert elapsed > 2.5  # paced: 2.5 s of audio took its time
    ((meta, audio),) = lan.recordings().values()
    assert (meta["caller_id"], meta["frames"], meta["frames_concealed"]) == ("Raw", 125, 0)
    reference = clip[: 2 * 16000]
    lag, corr = align(audio, reference)
    assert corr > 0.95
    ratio = np.std(audio[lag : lag + len(reference)]) / np.std(reference)
    assert 0.45 < ratio < 0.56  # -6 dB, after an 8 kHz round trip


@pytest.mark.exclusive  # plays to the virtual speaker: needs an idle CPU
@pytest.mark.network
@pytest.mark.audio
def test_listen_through_the_relay_plays_pages_on_the_speaker(tmp_path: Path) -> None:
    """``listen --relay --play`` plays what the relay hears, as ``listen --play`` does
    (one clean run in three: the VM may starve the audio threads)."""
    sounddevice = sounddevice_or_skip()
    one_clean_run(lambda folder: _play_through_the_relay(sounddevice, folder), tmp_path)


def _play_through_the_relay(sounddevice: Any, tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Ears", "listen")
    relay = start_relay(config, udp_port=port)
    command = ["listen", "--relay", relay.url, "--token", token, "--play", "--count", "1"]
    try:
        with SpeakerMonitor(sounddevice) as monitor:
            remote = subprocess.Popen(
                polyptt_command(*command, "--timeout", "40"),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=polyptt_env(),
            )
            deadline = time.monotonic() + 10
            while _relay_metric(relay, token, "listeners") < 1:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            polyptt("send", "--channel", "27", "--to", f"{DEFAULT_GROUP}:{port}", str(SPEECH))
            out, err = remote.communicate(timeout=40)
            time.sleep(0.3)
    finally:
        if remote.poll() is None:
            remote.kill()
            remote.communicate()
        assert relay.stop() == 128 + signal.SIGTERM
    assert (remote.returncode, err) == (0, "")
    assert " page end   ch27 (page:2) " in out.splitlines()[-1]  # listen's line
    reference = soundfile.read(SPEECH, dtype="float32")[0][:-480]
    _lag, corr = align(monitor.audio, reference)
    assert corr > 0.95
