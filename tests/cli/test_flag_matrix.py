"""Every subcommand with every combination of its output flags, on a small valid input:
each must work (exit 0), say exactly what its flags ask for, and do the same thing
whatever they are. Grows with each command.

The rules every command keeps: the data goes to stdout (a page's JSON summary with
``--json``; ``listen``'s page lines or JSON events), and stderr carries only messages:
none for a clean run, the summary lines with ``-v``, nothing but errors with ``-q``
(``-q`` wins over ``-v``). Each command runs in this process (`CliRunner`), against
captures, or against a relay served from a thread on a clock that only waiting moves:
every page is checked packet by packet, in milliseconds.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner, Result
from tests.support.audio_devices import sounddevice_or_skip
from tests.support.clocks import VirtualClock
from tests.support.pages import split_page
from tests.support.relay import RELAY_SERIAL, add_token, relay_in_thread, settings, write_config
from tests.support.udp_capture import DEFAULT_GROUP, UdpCapture, free_port

from polyptt import protocol
from polyptt.cli import cli
from polyptt.pcap import read_datagrams

OUTPUT_FLAGS = ("-q", "-v", "--json")
COMBINATIONS = [
    list(chosen)
    for size in range(len(OUTPUT_FLAGS) + 1)
    for chosen in itertools.combinations(OUTPUT_FLAGS, size)
]
#: loop's own output flags (it has no --json: its output is the live panel).
LOOP_COMBINATIONS = [[], ["-q"], ["-v"], ["-q", "-v"]]

#: The page every ``send`` here sends: fixed, so that every capture of it is the same.
PAGE = ("--channel", "26", "--caller-id", "Matrix", "--serial", "0x1234", "--start-count", "0")
FRAMES = 4  # 0.1 s of audio in 30 ms frames
PACKETS = protocol.ALERT_COUNT + FRAMES + protocol.END_COUNT


def verbose(flags: list[str]) -> bool:
    return "-v" in flags and "-q" not in flags


def run(*arguments: str) -> Result:
    result = CliRunner().invoke(cli, list(arguments), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def assert_send_output(result: Result, flags: list[str], info: str) -> dict | None:
    """stderr: the `info` line (a regular expression) with -v alone, else nothing;
    stdout: the JSON summary with --json, else nothing. Returns the summary."""
    if verbose(flags):
        assert re.fullmatch(f"{info}\n", result.stderr), result.stderr
    else:
        assert result.stderr == ""
    if "--json" not in flags:
        assert result.stdout == ""
        return None
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def short_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "beep.wav"
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(1600) / 16000)
    soundfile.write(path, tone, 16000)
    return path


@pytest.fixture(scope="module")
def short_page(short_wav: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page as ``send --pcap`` writes it, with no output flag."""
    path = tmp_path_factory.mktemp("pages") / "page.pcap"
    run("send", "--pcap", str(path), *PAGE, str(short_wav))
    return path


@pytest.fixture(scope="module")
def reference(short_page: Path) -> list[bytes]:
    """The datagrams of the page, checked to be one whole page."""
    datagrams = [datagram.payload for datagram in read_datagrams(short_page)]
    page = split_page([(0.0, d) for d in datagrams])
    assert (len(page.alerts), len(page.transmits), len(page.ends)) == (31, FRAMES, 12)
    return datagrams


# ------------------------------------------------------------------ send


def _summary_counts(summary: dict) -> tuple[int, int, int, int, int]:
    return tuple(summary[k] for k in ("packets", "alerts", "transmits", "ends", "exit_status"))


@pytest.mark.parametrize("flags", COMBINATIONS, ids=" ".join)
def test_send_to_a_capture(
    flags: list[str], short_wav: Path, reference: list[bytes], tmp_path: Path
) -> None:
    capture = tmp_path / "out.pcap"
    result = run("send", "--pcap", str(capture), *PAGE, *flags, str(short_wav))
    assert [datagram.payload for datagram in read_datagrams(capture)] == reference
    info = re.escape(
        f"{capture}: channel page:1 (26), g722 30 ms, 0.1 s of audio (1.4 s on the wire), "
        f"{PACKETS} packets"
    )
    summary = assert_send_output(result, flags, info)
    if summary is not None:
        assert _summary_counts(summary) == (PACKETS, 31, FRAMES, 12, 0)
        assert (summary["pcap"], summary["start_count"]) == (str(capture), 0)


# The output flags work the same whatever the sink (the console and the summary do not
# know it): every combination is checked on a capture above; on the network, the page
# with no flag and with all three (each flag's code on the network path).
@pytest.mark.network
@pytest.mark.parametrize("flags", [[], ["-q", "-v", "--json"]], ids=" ".join)
def test_send_on_the_network(flags: list[str], short_wav: Path, reference: list[bytes]) -> None:
    """The page on the wire is the capture's, byte for byte, paced in real time."""
    port = free_port()
    with UdpCapture(port) as capture:
        result = run(
            "send", "--realtime", "--to", f"{DEFAULT_GROUP}:{port}", *PAGE, *flags, str(short_wav)
        )
        received = capture.wait_for(PACKETS, timeout=5)
    assert [datagram for _t, datagram in received] == reference
    info = f"sent {FRAMES} frames \\(0.1 s of g722\\) on channel 26 to {DEFAULT_GROUP}:{port}"
    summary = assert_send_output(result, flags, info)
    if summary is not None:
        assert _summary_counts(summary) == (PACKETS, 31, FRAMES, 12, 0)
        assert summary["destination"] == f"{DEFAULT_GROUP}:{port}"
        assert summary["elapsed_s"] >= summary["page_s"] - 0.01  # paced, not a burst


# ------------------------------------------------------------------ listen


@pytest.mark.parametrize("flags", COMBINATIONS, ids=" ".join)
def test_listen_to_a_capture(flags: list[str], short_page: Path, tmp_path: Path) -> None:
    result = run(
        "listen", "--pcap", str(short_page), "--no-play", "--record", str(tmp_path), *flags
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    if "--json" in flags:
        start, end = map(json.loads, lines)
        assert (start["event"], end["event"]) == ("page_start", "page_end")
        assert (end["caller_id"], end["frames"], end["end_reason"]) == (
            "Matrix",
            FRAMES,
            "end_packets",
        )
    else:
        assert " page start ch26 (page:1) 'Matrix' " in lines[0]
        assert f", {FRAMES} frames (0 repaired, 0 concealed), " in lines[1]
    # a page's repeated end packets are the page's: none is stray
    datagrams = f"{PACKETS} datagrams: {PACKETS} in 1 page, 0 invalid, 0 on other channels, 0 stray"
    assert result.stderr.startswith(datagrams) if verbose(flags) else result.stderr == "", (
        result.stderr
    )
    (wav,) = tmp_path.glob("*.wav")
    assert soundfile.info(wav).frames == FRAMES * 30 * 16


# ------------------------------------------------------------------ loop


@pytest.mark.audio
@pytest.mark.parametrize("flags", LOOP_COMBINATIONS, ids=" ".join)
def test_loop_lists_devices(flags: list[str]) -> None:
    """The only way loop runs without a terminal (the panel itself is tested in a pty)."""
    sounddevice_or_skip()
    result = run("loop", "--list-devices", *flags)
    assert "virtual_speaker" in result.stdout
    assert result.stderr == ""


# ------------------------------------------------------------------ the relay
# ``polyptt relay`` itself is a service (its -q/-v are tested by running it, in
# tests/relay); its token commands have no -q/-v, and ``token list`` has --json. What
# the matrix adds is send and listen as the relay's clients, with every output flag.


@pytest.mark.parametrize("flags", [[], ["--json"]], ids=" ".join)
def test_relay_token_list(flags: list[str], tmp_path: Path) -> None:
    config = str(tmp_path / "relay.toml")
    run("relay", "token", "add", "Desk", "--can", "talk", "--config", config)
    result = run("relay", "token", "list", "--config", config, *flags)
    if flags:
        tokens = json.loads(result.stdout)
        assert list(tokens) == ["Desk"]
        assert (tokens["Desk"]["scopes"], tokens["Desk"]["targets"]) == (["talk"], [])
        assert tokens["Desk"]["channels"] == list(range(1, 51))
    else:
        assert result.stdout == "Desk\ttalk\t1-50\t-\tnever\n"


class Relay:
    """A relay served from a thread on a virtual clock, its token, and what it sends."""

    def __init__(self, url: str, token: str, port: int) -> None:
        self.url, self.token, self.port = url, token, port

    def sent(self, capture: UdpCapture) -> list[bytes]:
        """The one page the relay sent, checked whole."""
        datagrams = [d for _t, d in capture.wait_for(PACKETS, timeout=10)]
        page = split_page([(0.0, d) for d in datagrams])
        assert (len(page.alerts), len(page.transmits), len(page.ends)) == (31, FRAMES, 12)
        assert (page.alerts[0][1].serial, page.alerts[0][1].caller_id) == (RELAY_SERIAL, "Matrix")
        return datagrams

    def listeners(self) -> int:
        _, metrics = _request(self, "GET", "/metrics")
        (line,) = (x for x in metrics.splitlines() if x.startswith("polyptt_relay_listeners "))
        return int(line.split()[1])


def _request(relay: Relay, method: str, path: str, body: bytes | None = None) -> tuple[int, str]:
    import urllib.request

    request = urllib.request.Request(relay.url + path, data=body, method=method)
    request.add_header("Authorization", f"Bearer {relay.token}")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status, answer.read().decode()


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    config = write_config(tmp_path_factory.mktemp("relay"))
    token = add_token(config, "Matrix", "listen,talk")
    port = free_port()
    with relay_in_thread(settings(config, port, clock=VirtualClock())) as url:
        yield Relay(url, token, port)


@pytest.mark.network
@pytest.mark.parametrize("flags", COMBINATIONS, ids=" ".join)
def test_send_through_a_relay(flags: list[str], short_wav: Path, relay: Relay) -> None:
    with UdpCapture(relay.port) as capture:
        result = run("send", "--relay", relay.url, "--token", relay.token, *flags, str(short_wav))
        relay.sent(capture)
    info = f"sent {FRAMES} frames on channel 26 through {relay.url} \\(page \\d+, completed\\)"
    summary = assert_send_output(result, flags, info)
    if summary is not None:
        assert (summary["alerts"], summary["transmits"], summary["ends"]) == (31, FRAMES, 12)
        assert (summary["channel"], summary["outcome"]) == (26, "completed")


@pytest.fixture(scope="module")
def paced_relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    """A relay whose pages take their real time. The relay hears its own group: on a
    virtual clock a page goes out in one burst, and the receiver, which ignores the page
    only while it is in flight, reads much of it after that as a page heard on the LAN."""
    config = write_config(tmp_path_factory.mktemp("paced-relay"))
    token = add_token(config, "Matrix", "listen,talk")
    port = free_port()
    with relay_in_thread(settings(config, port)) as url:
        yield Relay(url, token, port)


@pytest.mark.network
@pytest.mark.parametrize("flags", COMBINATIONS, ids=" ".join)
def test_listen_through_a_relay(
    flags: list[str], short_wav: Path, paced_relay: Relay, tmp_path: Path
) -> None:
    """One page, posted once the listener is connected, echoed to it by the relay."""
    relay = paced_relay
    posted: list[dict] = []

    def page_when_listening() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and relay.listeners() < 1:
            time.sleep(0.01)
        _, answer = _request(
            relay, "POST", "/api/v1/pages?channel=26&wait=1", short_wav.read_bytes()
        )
        posted.append(json.loads(answer))

    paging = threading.Thread(target=page_when_listening)
    paging.start()
    try:
        result = run(
            "listen", "--relay", relay.url, "--token", relay.token, "--no-play",
            "--record", str(tmp_path), "--count", "1", "--timeout", "30", *flags,
        )  # fmt: skip
    finally:
        paging.join()
    assert posted[0]["transmits"] == FRAMES
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    if "--json" in flags:
        start, end = map(json.loads, lines)
        assert (start["event"], end["event"], end["id"]) == (
            "page_start",
            "page_end",
            posted[0]["page"],
        )
        assert (end["caller_id"], end["frames"]) == ("Matrix", FRAMES)
    else:
        # listen's own lines, as for a page heard on the LAN
        assert lines[0].endswith(
            f" page start ch26 (page:1) 'Matrix' from relay serial 0x{RELAY_SERIAL:08X}"
        ), lines
        assert lines[1].endswith(
            f" page end   ch26 (page:1) 'Matrix': completed, g722 30 ms, 0.12 s, {FRAMES} frames"
        ), lines
    if verbose(flags):
        assert result.stderr == f"listening through {relay.url} as Matrix\n1 pages ended\n", (
            result.stderr
        )
    else:
        assert result.stderr == "", result.stderr
    (wav,) = tmp_path.glob("*.wav")
    assert soundfile.info(wav).frames == FRAMES * 30 * 16
