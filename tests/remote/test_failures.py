"""``send --relay`` and ``listen --relay`` when the relay cannot be used: one line each,
in the user's terms, with exit status 2 when the fix is in what the user gave (the URL,
its scheme, the certificate, the token) and 1 when the network failed.

Against a real ``polyptt relay`` on 127.0.0.1 in the test network namespace (HTTP, or
TLS with certificates from a trustme CA), a closed port, a name that does not resolve
and a server that accepts connections and never answers.
"""

from __future__ import annotations

import re
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import trustme
from click.testing import CliRunner
from tests.support.audio_devices import no_audio_env
from tests.support.listen import _port_bound
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.relay import RELAY_SERIAL, add_token, start_relay, write_config
from tests.support.relay_audio import CHIME, SPEECH
from tests.support.udp_capture import free_port

from polyptt.cli import cli
from polyptt.protocol import DEFAULT_GROUP

pytestmark = pytest.mark.network

TOKEN_REFUSED = (
    "Error: the relay refused (401): a valid token is required; check --token (or POLYPTT_TOKEN)\n"
)


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        polyptt_command(*args),
        env=env or polyptt_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _both(url: str, token: str = "t", env: dict[str, str] | None = None) -> list[Any]:
    """``send --relay URL`` of a file and ``listen --relay URL``, run to their end."""
    relay = ["--relay", url, "--token", token]
    return [
        _run("send", *relay, str(CHIME), env=env),
        _run("listen", *relay, "--timeout", "1", env=env),
    ]


def _assert_one_line(results: list[Any], status: int, line: str) -> None:
    for result in results:
        assert (result.returncode, result.stderr, result.stdout) == (status, line, "")


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Any]:
    """A plain HTTP relay on 127.0.0.1, with a token for listening and talking; it
    pages and listens on the group at its `udp_port`."""
    config = write_config(tmp_path / "relay")
    port = free_port()
    running = start_relay(config, udp_port=port)
    running.token = add_token(config, "Ears", "listen,talk")
    running.udp_port = port
    yield running
    assert running.stop() == 128 + signal.SIGTERM


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _tls_relay(folder: Path, ca: trustme.CA, *names: str) -> Any:
    cert = ca.issue_cert(*names)
    folder.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    trusting.check_hostname = "127.0.0.1" in names  # the harness asks 127.0.0.1 if it is up
    config = write_config(folder / "relay")
    running = start_relay(config, udp_port=free_port(), tls=(cert_file, key_file, trusting))
    running.token = add_token(config, "Remote", "listen,talk")
    return running


def _trusting_env(folder: Path, ca: trustme.CA) -> dict[str, str]:
    """The environment of a host that trusts `ca` (SSL_CERT_FILE, as OpenSSL reads it)."""
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return {**polyptt_env(), "SSL_CERT_FILE": str(ca_file)}


def test_a_url_without_scheme_is_refused_before_anything_is_tried() -> None:
    for command in (["send", str(CHIME)], ["listen"]):
        result = _run(command[0], "--relay", "127.0.0.1:8080", "--token", "t", *command[1:])
        assert (result.returncode, result.stdout) == (2, "")
        assert result.stderr == (
            "Error: Invalid value for '--relay' (env var: 'POLYPTT_RELAY'): '127.0.0.1:8080' "
            "has no scheme: add https:// (a relay with TLS) or http:// (one without), e.g. "
            f"https://127.0.0.1:8080 (see 'polyptt {command[0]} --help')\n"
        )


def test_https_to_a_relay_without_tls_asks_for_http(relay: Any) -> None:
    plain = relay.url
    secure = plain.replace("http://", "https://")
    line = f"Error: the relay at {secure} does not speak TLS; did you mean {plain}?\n"
    _assert_one_line(_both(secure, relay.token), 2, line)


def test_http_to_a_relay_with_tls_asks_for_https(tmp_path: Path, ca: trustme.CA) -> None:
    relay = _tls_relay(tmp_path, ca, "127.0.0.1")
    secure = relay.url
    plain = secure.replace("https://", "http://")
    try:
        results = _both(plain, relay.token, _trusting_env(tmp_path, ca))
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    line = f"Error: the relay at {plain} speaks TLS; did you mean {secure}?\n"
    _assert_one_line(results, 2, line)


def test_a_certificate_this_host_does_not_trust_is_named(tmp_path: Path, ca: trustme.CA) -> None:
    """Signed by an unknown CA (the system's CAs only), then made out to another name
    (the CA trusted); the same relay works once both are right."""
    relay = _tls_relay(tmp_path / "right", ca, "127.0.0.1")
    other = _tls_relay(tmp_path / "other", ca, "relay.example")
    trusting = _trusting_env(tmp_path, ca)
    try:
        unknown_ca = _both(relay.url, relay.token)
        wrong_name = _both(other.url, other.token, trusting)
        working = _run("listen", "--relay", relay.url, "--token", relay.token, "--timeout", "1",
                       env=trusting)  # fmt: skip
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
        assert other.stop() == 128 + signal.SIGTERM
    _assert_one_line(
        unknown_ca,
        2,
        f"Error: the relay at {relay.url} shows a certificate this host does not accept: it "
        "is signed by a CA this host does not know; if the relay has a certificate from a "
        "CA of your own, SSL_CERT_FILE=CA.pem\n",
    )
    _assert_one_line(
        wrong_name,
        2,
        f"Error: the relay at {other.url} shows a certificate this host does not accept: it "
        "is made out to another address\n",
    )
    assert (working.returncode, working.stderr, working.stdout) == (0, "", "")


def test_a_closed_port_says_nothing_listens(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    line = (
        f"Error: cannot reach the relay at {url}: nothing listens on 127.0.0.1 port {port} "
        "(is the relay running, and is that its port?)\n"
    )
    _assert_one_line(_both(url), 1, line)


def test_a_name_that_does_not_resolve_is_named() -> None:
    """In the namespace no resolver can be reached: the name does not resolve."""
    url = "http://relay.invalid:8443"
    line = (
        f"Error: cannot reach the relay at {url}: the name 'relay.invalid' does not resolve "
        "here (check the URL, and this host's DNS)\n"
    )
    _assert_one_line(_both(url), 1, line)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_relay_that_never_answers_times_out(monkeypatch: pytest.MonkeyPatch, scheme: str) -> None:
    """A server that accepts the connection (the kernel does, from its backlog) and then
    says nothing: no TLS handshake, no HTTP answer. The commands run in this process,
    with the wait cut from 10 s to 0.5 s."""
    monkeypatch.setattr("polyptt.remote.failures.CONNECT_TIMEOUT_S", 0.5)
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)
        url = f"{scheme}://127.0.0.1:{mute.getsockname()[1]}"
        for command in (["send", str(CHIME)], ["listen", "--timeout", "5"]):
            started = time.monotonic()
            args = [command[0], "--relay", url, "--token", "t", *command[1:]]
            result = CliRunner().invoke(cli, args)
            assert time.monotonic() - started < 3
            assert (result.exit_code, result.stdout) == (1, "")
            assert result.stderr == f"Error: the relay at {url} did not answer in 0.5 s\n"


def test_a_wrong_token_is_the_same_line_for_send_and_listen(relay: Any, tmp_path: Path) -> None:
    """And ``listen --relay``, not asked to play, says nothing about playing first (on a
    machine with no speaker)."""
    env = no_audio_env(tmp_path, polyptt_env())
    _assert_one_line(_both(relay.url, "wrong", env), 2, TOKEN_REFUSED)


#: A line's timestamp (UTC, milliseconds).
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


def test_listen_through_the_relay_reports_in_listen_s_lines(relay: Any, tmp_path: Path) -> None:
    """The same page heard on the LAN by ``listen`` and through the relay by ``listen
    --relay``: the same lines, timestamps and statistics, but for the moment each
    stamped. A page the relay sends itself is reported with the counts it has."""
    group = f"{DEFAULT_GROUP}:{relay.udp_port}"
    listening = ["listen", "--no-play", "--count", "2", "--timeout", "40"]
    env = no_audio_env(tmp_path, polyptt_env())
    local = subprocess.Popen(
        polyptt_command(*listening, "--from", group), stdout=subprocess.PIPE, text=True, env=env
    )
    remote = subprocess.Popen(
        polyptt_command(*listening, "--relay", relay.url, "--token", relay.token),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 10
        while not _port_bound(relay.udp_port) or _listeners(relay) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.1)  # bound; the group is joined right after
        _run("send", "--channel", "27", "--caller-id", "Lobby", "--to", group, str(SPEECH))
        sent = _run("send", "--relay", relay.url, "--token", relay.token, "--channel", "28",
                    "--duration", "1", str(CHIME))  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        remote_out, remote_err = remote.communicate(timeout=40)
        local_out, _ = local.communicate(timeout=40)
    finally:
        for process in (local, remote):
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert (local.returncode, remote.returncode, remote_err) == (0, 0, "")
    heard, relayed = local_out.splitlines(), remote_out.splitlines()
    assert len(heard) == len(relayed) == 4
    for lan_line, relay_line in zip(heard[:2], relayed[:2], strict=True):
        assert STAMP.match(lan_line)
        assert STAMP.match(relay_line)
        assert STAMP.sub("", relay_line) == STAMP.sub("", lan_line)
        assert abs(_seconds(relay_line) - _seconds(lan_line)) < 0.5
    assert " page start ch27 (page:2) 'Lobby' from 127.0.0.1:" in heard[0]
    assert re.search(r"page end   ch27 \(page:2\) 'Lobby': end packets, g722 \d+ ms, [\d.]+ s, "
                     r"\d+ frames \(0 repaired, 0 concealed\), \d+ packets \(0 duplicates, "
                     r"0 late\)$", heard[1])  # fmt: skip
    assert STAMP.sub("", relayed[2]) == (
        f"page start ch28 (page:3) 'Ears' from relay serial 0x{RELAY_SERIAL:08X}"
    )
    assert re.fullmatch(r"page end   ch28 \(page:3\) 'Ears': completed, g722 \d+ ms, "
                        r"1\.0\d s, \d+ frames", STAMP.sub("", relayed[3]))  # fmt: skip


def _listeners(relay: Any) -> float:
    _, text = relay.request("GET", "/metrics", relay.token)
    line = next(x for x in text.splitlines() if x.startswith("polyptt_relay_listeners "))
    return float(line.split()[1])


def _seconds(line: str) -> float:
    """A line's timestamp, in seconds since the epoch."""
    return datetime.fromisoformat(line.split(" ")[0].replace("Z", "+00:00")).timestamp()
