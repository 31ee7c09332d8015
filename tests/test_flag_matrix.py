"""Every subcommand with every combination of its output flags, on a small valid input:
each must work (exit 0) and none may end in an internal error. Grows with each command."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner
from tests.audio_devices import sounddevice_or_skip
from tests.relay.harness import RelayProcess, add_token, start_relay, write_config
from tests.udp_capture import free_port

from polyptt.cli import cli

OUTPUT_FLAGS = ("-q", "-v", "--json")
COMBINATIONS = [
    list(chosen)
    for size in range(len(OUTPUT_FLAGS) + 1)
    for chosen in itertools.combinations(OUTPUT_FLAGS, size)
]


#: loop's own output flags (it has no --json: its output is the live panel).
LOOP_COMBINATIONS = [[], ["-q"], ["-v"], ["-q", "-v"]]


@pytest.fixture(scope="module")
def short_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "beep.wav"
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(1600) / 16000)
    soundfile.write(path, tone, 16000)
    return path


@pytest.fixture(scope="module")
def short_page(short_wav: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pages") / "page.pcap"
    result = CliRunner().invoke(cli, ["send", "--pcap", str(path), "-q", str(short_wav)])
    assert result.exit_code == 0
    return path


def run(*arguments: str) -> None:
    result = CliRunner().invoke(cli, list(arguments), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "internal error" not in result.output
    assert "Traceback" not in result.output
    if "--json" in arguments:
        assert result.stdout.strip().startswith("{")


@pytest.mark.parametrize("flags", COMBINATIONS, ids=" ".join)
def test_send_to_a_capture(flags: list[str], short_wav: Path, tmp_path: Path) -> None:
    run("send", "--pcap", str(tmp_path / "out.pcap"), *flags, str(short_wav))


@pytest.mark.network
@pytest.mark.parametrize("flags", COMBINATIONS, ids=" ".join)
def test_send_on_the_network(flags: list[str], short_wav: Path) -> None:
    run("send", "--realtime", *flags, str(short_wav))


@pytest.mark.parametrize("flags", COMBINATIONS, ids=" ".join)
def test_listen_to_a_capture(flags: list[str], short_page: Path, tmp_path: Path) -> None:
    run("listen", "--pcap", str(short_page), "--no-play", "--record", str(tmp_path), *flags)


@pytest.mark.audio
@pytest.mark.parametrize("flags", LOOP_COMBINATIONS, ids=" ".join)
def test_loop_lists_devices(flags: list[str]) -> None:
    """The only way loop runs without a terminal (the panel itself is tested in a pty)."""
    sounddevice_or_skip()
    run("loop", "--list-devices", *flags)


# ------------------------------------------------------------------ the relay
# ``polyptt relay`` itself is a service (its -q/-v are tested by running it, in
# tests/relay); its token commands have no -q/-v, and ``token list`` has --json. What
# the matrix adds is send and listen as the relay's clients, with every output flag.


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RelayProcess, str]]:
    config = write_config(tmp_path_factory.mktemp("relay"))
    token = add_token(config, "Matrix", "listen,talk")
    # this fixture outlives the per-test environment pinning: pin the relay itself
    process = start_relay(config, udp_port=free_port(), args=["--iface", "127.0.0.1", "--ttl", "0"])
    yield process, token
    process.stop()


@pytest.mark.parametrize("flags", [[], ["--json"]], ids=" ".join)
def test_relay_token_list(flags: list[str], tmp_path: Path) -> None:
    config = str(tmp_path / "relay.toml")
    run("relay", "token", "add", "Desk", "--can", "talk", "--config", config)
    run("relay", "token", "list", "--config", config, *flags)


@pytest.mark.network
@pytest.mark.parametrize("flags", COMBINATIONS, ids=" ".join)
def test_send_through_a_relay(
    flags: list[str], short_wav: Path, relay: tuple[RelayProcess, str]
) -> None:
    process, token = relay
    run("send", "--relay", process.url, "--token", token, *flags, str(short_wav))


@pytest.mark.network
@pytest.mark.parametrize("flags", COMBINATIONS, ids=" ".join)
def test_listen_through_a_relay(
    flags: list[str], short_wav: Path, relay: tuple[RelayProcess, str], tmp_path: Path
) -> None:
    """One page, posted once the listener is connected, echoed to it by the relay."""
    process, token = relay

    def page_when_listening() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            _, metrics = process.request("GET", "/metrics", token)
            if "polyptt_relay_listeners 1" in metrics:
                process.request(
                    "POST", "/api/v1/pages?channel=26&wait=1", token, short_wav.read_bytes()
                )
                return
            time.sleep(0.05)

    paging = threading.Thread(target=page_when_listening)
    paging.start()
    try:
        run(
            "listen",
            "--relay",
            process.url,
            "--token",
            token,
            "--no-play",
            "--record",
            str(tmp_path),
            "--count",
            "1",
            "--timeout",
            "30",
            *flags,
        )
    finally:
        paging.join()
