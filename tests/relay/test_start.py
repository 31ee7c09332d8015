"""``polyptt relay`` starting: the one line it says, and a --config that names no file.

The relay is run as a real process (inside the test network namespace for the ones that
serve); the configuration commands run to completion, as an admin types them.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from tests.support.listen import polyptt
from tests.support.processes import polyptt_env
from tests.support.relay import add_token, free_tcp_port, relay_command, write_config
from tests.support.udp_capture import free_port

from polyptt.protocol import DEFAULT_GROUP
from polyptt.relay.config import RelayConfig, load_config


def _start(config: Path, *args: str) -> tuple[subprocess.Popen[str], int, int]:
    """``polyptt relay`` without -v on a free port, paging the group on a free port."""
    port, udp_port = free_tcp_port(), free_port()
    command = relay_command(config, port, udp_port, args, verbose=False)
    process = subprocess.Popen(command, env=polyptt_env(), stderr=subprocess.PIPE, text=True)
    return process, port, udp_port


def _wait_until_serving(process: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 15
    while True:
        assert process.poll() is None, "the relay exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                return
        except OSError:
            assert time.monotonic() < deadline, "the relay did not start"
            time.sleep(0.05)


def _stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _out, errors = process.communicate(timeout=20)
    return process.returncode, errors


@pytest.mark.network
def test_the_relay_says_where_it_serves_and_pages_and_how_many_tokens(tmp_path: Path) -> None:
    """One line on stderr without -v, printed once it serves: the URL, the group and the
    interface with its address, the TTL, and the token count with the store's path."""
    config = write_config(tmp_path / "relay")
    for name in ("Front", "Gate"):
        add_token(config, name, "talk")
    process, port, udp_port = _start(config)
    try:
        assert select.select([process.stderr], [], [], 15)[0], "no line within 15 s"
        assert process.stderr is not None
        line = process.stderr.readline()
        _wait_until_serving(process, port)  # it was said once serving
    finally:
        status, rest = _stop(process)
    tokens = config.parent / "relay.tokens.json"
    data = Path(os.environ["XDG_STATE_HOME"]) / "polyptt" / "relay"  # the default
    assert line == (
        f"relay: serving http://127.0.0.1:{port}; paging {DEFAULT_GROUP}:{udp_port} on lo "
        f"(127.0.0.1), TTL 0; 2 tokens in {tokens}; data in {data}\n"
    )
    assert (data / "relay.db").is_file()
    assert (status, rest) == (128 + signal.SIGTERM, "")


@pytest.mark.network
def test_quiet_and_no_tokens(tmp_path: Path) -> None:
    """-q says nothing; without -q, a relay nobody can use says how to fix that."""
    config = write_config(tmp_path / "relay")
    process, port, _udp = _start(config, "-q")
    try:
        _wait_until_serving(process, port)
    finally:
        assert _stop(process) == (128 + signal.SIGTERM, "")
    process, port, _udp = _start(config)
    try:
        _wait_until_serving(process, port)
    finally:
        _status, said = _stop(process)
    tokens = config.parent / "relay.tokens.json"
    assert said.endswith(
        f"; no tokens yet in {tokens} (polyptt relay token add NAME --can listen,talk); "
        f"data in {os.environ['XDG_STATE_HOME']}/polyptt/relay\n"
    )
    assert said.count("\n") == 1


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        (["relay"], "polyptt relay"),
        (["relay", "token", "list"], "polyptt relay token list"),
        (["relay", "token", "revoke", "Front"], "polyptt relay token revoke"),
    ],
    ids=["relay", "token list", "token revoke"],
)
def test_a_config_file_that_does_not_exist_is_one_line_exit_2(
    tmp_path: Path, command: list[str], usage: str
) -> None:
    """A typo in --config must not start a relay on the defaults (or list no tokens as if
    there were none): one line, exit 2, nothing created."""
    missing = tmp_path / "etc" / "relay.toml"
    result = polyptt(*command, "--config", str(missing), check=False)
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: Invalid value for '--config': {missing}: no such file "
        f"('polyptt relay token add' creates one) (see '{usage} --help')\n"
    )
    assert not (tmp_path / "etc").exists()


def test_token_add_creates_the_configuration_it_names(tmp_path: Path) -> None:
    """The first token makes the file (every setting commented out, at its default) and
    the store beside it; the relay and the other token commands then take it. A refused
    add creates nothing."""
    config = tmp_path / "etc" / "relay.toml"
    refused = polyptt(
        "relay", "token", "add", "Desk", "--can", "talk", "--targets", "desk",
        "--config", str(config), check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert not config.parent.exists()
    polyptt("relay", "token", "add", "Desk", "--can", "talk", "--config", str(config))
    from polyptt.relay.config import STARTER  # (new with this behaviour)

    assert config.read_text() == STARTER
    assert load_config(config) == RelayConfig(path=config)  # the defaults
    assert (tmp_path / "etc" / "relay.tokens.json").is_file()
    listed = polyptt("relay", "token", "list", "--config", str(config))
    assert listed.stdout == "Desk\ttalk\t1-50\t-\tnever\n"
    # a second add keeps the file as the admin edited it
    config.write_text('[channels]\n26 = "All staff"\n')
    polyptt("relay", "token", "add", "Gate", "--can", "listen", "--config", str(config))
    assert config.read_text() == '[channels]\n26 = "All staff"\n'


def test_a_data_dir_that_cannot_be_made_is_one_line_exit_2(tmp_path: Path) -> None:
    """``--data`` under a file (or a config's ``data`` there): one line before serving."""
    config = write_config(tmp_path / "relay")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = polyptt("relay", "--config", str(config), "--data", str(blocker / "d"), check=False)
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: Invalid value for '--data': cannot write to {blocker / 'd'}: Not a directory "
        "(see 'polyptt relay --help')\n"
    )
    config.write_text('data = "../file/d"\n')
    result = polyptt("relay", "--config", str(config), check=False)
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: Invalid value for '--config': cannot write to {config.parent / '../file/d'}: "
        "Not a directory (see 'polyptt relay --help')\n"
    )


def test_the_configs_data_is_relative_to_it_and_data_overrides_it(tmp_path: Path) -> None:
    config = write_config(tmp_path / "relay", 'data = "state"\n')
    assert load_config(config).data == config.parent / "state"
