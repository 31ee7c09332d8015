"""``polyptt bridge`` as a command: bad input in one line, many mappings in one process,
and a signal that ends the page in progress with its end packets."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tests.support.bridge import (
    RtpSender,
    poly_counts,
    rtp_stream,
    start_mapping,
    start_mappings,
)
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.cli import cli

GOOD = ["--rtp", "239.1.2.3:5004", "--channel", "26"]
SEE = " (see 'polyptt bridge --help')\n"


@pytest.mark.parametrize(
    ("args", "option", "message"),
    [
        ([], "--rtp", "the RTP group is required (GROUP:PORT)"),
        (GOOD[:2], "--channel", "the Poly channel is required (1-50, page:N or ptt:N)"),
        (["--rtp", "239.1.2.3", *GOOD[2:]], "--rtp",
         "'239.1.2.3': give the port too (GROUP:PORT, e.g. 239.1.2.3:5004)"),
        (["--rtp", "nowhere:5004", *GOOD[2:]], "--rtp",
         "'nowhere:5004': expected GROUP[:PORT], e.g. 224.0.1.116:5001"),
        (["--rtp", "239.1.2.3:65535", *GOOD[2:]], "--rtp",
         "the port must leave room for RTCP on the next port (at most 65534)"),
        ([*GOOD[:2], "--channel", "51"], "--channel",
         "invalid channel '51': channels are 1-50 (1-25 push-to-talk, 26-50 paging groups 1-25)"),
        ([*GOOD, "--direction", "sideways"], "--direction",
         "'sideways' is not one of rtp-to-poly, poly-to-rtp, both"),
        ([*GOOD, "--rtp-codec", "opus"], "--rtp-codec",
         "RTP codec 'opus' is not one of pcmu, pcma, g722, l16"),
        ([*GOOD, "--codec", "g711a"], "--codec", "'g711a' is not one of g722, g711u, g726qi"),
        ([*GOOD, "--rtp-ptime", "25"], "--rtp-ptime", "25 is not one of 10, 20, 30, 40, 50, 60"),
        ([*GOOD, "--idle-ms", "5"], "--idle-ms",
         "5 is not a number of milliseconds from 20 to 60000"),
    ],
)  # fmt: skip
def test_bad_options_are_one_line_and_exit_2(args: list[str], option: str, message: str) -> None:
    result = CliRunner().invoke(cli, ["bridge", *args], prog_name="polyptt")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"Error: Invalid value for '{option}': {message}{SEE}"


MAPPING = "[[bridge]]\nrtp = '239.1.2.3:5004'\nchannel = 26\n"


@pytest.mark.parametrize(
    ("text", "option", "message"),
    [
        ("[[bridge]\n", "--config", "{path} is not valid TOML: "
         "Expected ']]' at the end of an array declaration (at line 1, column 9)"),
        ("site = 'x'\n", "--config", "{path} has no [[bridge]] tables"),
        ("[[bridge]]\nrtp = '239.1.2.3:5004'\n", "bridge.toml [[bridge]] 1: channel",
         "the Poly channel is required (1-50, page:N or ptt:N)"),
        (MAPPING + "colour = 'red'\n", "bridge.toml [[bridge]] 1: colour", "unknown key (known: "
         "caller_id, channel, codec, direction, idle_ms, payload_type, rtp, rtp_codec, rtp_ptime)"),
        (MAPPING + MAPPING.replace("26", "'page:1'"), "--config",
         "239.1.2.3:5004 and channel 26 are mapped twice"),
        (MAPPING + "rtp_codec = 'l16/16000'\n", "bridge.toml [[bridge]] 1: rtp_codec",
         "a dynamic payload type must be 96-127"),
    ],
)  # fmt: skip
def test_bad_configurations_are_one_line_and_exit_2(
    tmp_path: Path, text: str, option: str, message: str
) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text(text)
    result = CliRunner().invoke(cli, ["bridge", "--config", str(config)], prog_name="polyptt")
    assert (result.exit_code, result.stdout) == (2, "")
    expected = message.format(path=config)
    assert result.stderr == f"Error: Invalid value for '{option}': {expected}{SEE}"


def test_config_and_mapping_options_are_not_mixed(tmp_path: Path) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text(MAPPING)
    args = ["bridge", "--config", str(config), "--channel", "27"]
    result = CliRunner().invoke(cli, args, prog_name="polyptt")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: Invalid value for '--config': --channel and --config: give one{SEE}"
    )


@pytest.mark.network
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_the_page_in_progress_with_its_end_packets(
    tmp_path: Path, signum: int
) -> None:
    poly_port, rtp_port = free_port(), free_port() & ~1
    bridge = start_mapping(tmp_path, poly_port, rtp_port)
    sender = RtpSender(rtp_port)
    with UdpCapture(poly_port) as wire:
        packets = rtp_stream(np.full(8000 * 4, 3000, dtype=np.int16), ssrc=0x4242)
        sender.send([bytes(p) for p in packets[:100]])  # 2 s: the page is under way
        assert bridge.stop(signum) == 128 + signum
        datagrams = [data for _t, data in wire.wait_quiet(0.5)]
    sender.close()
    counts = poly_counts(datagrams)
    assert (counts["alerts"], counts["ends"]) == (31, 12)
    assert 0 < counts["transmits"] < 100  # cut short: it did not wait for the audio
    (page,) = bridge.pages("rtp-to-poly")
    assert (page["reason"], page["ends"]) == ("shutdown", 12)


@pytest.mark.network
def test_a_configuration_runs_many_mappings_in_one_process(tmp_path: Path) -> None:
    poly_port = free_port()
    ports = [free_port() & ~1 for _ in range(3)]
    bridge = start_mappings(tmp_path, poly_port, ports, zones=True)
    tone = np.full(8000, 3000, dtype=np.int16)
    with UdpCapture(poly_port) as wire:
        senders = [RtpSender(port) for port in ports]
        for n, sender in enumerate(senders):
            sender.send([bytes(p) for p in rtp_stream(tone, ssrc=0x100 + n)][:10])
        for sender in senders:
            sender.close()
        bridge.wait_for_pages("rtp-to-poly", 3)
        datagrams = [data for _t, data in wire.wait_quiet(0.5)]
    assert bridge.stop() == 128 + signal.SIGTERM
    alerts = {}
    for data in datagrams:
        if data[0] == 0x0F:
            caller = data[7:20].rstrip(b"\0").decode()
            alerts[(data[1], caller)] = alerts.get((data[1], caller), 0) + 1
    assert alerts == {(26, "Zone 0"): 31, (27, "Zone 1"): 31, (28, "Zone 2"): 31}
    assert sorted(e["mapping"] for e in bridge.pages("rtp-to-poly")) == [1, 2, 3]
