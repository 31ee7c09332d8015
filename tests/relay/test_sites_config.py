"""A relay's site and ``[nats]`` (issue 23): the configuration, the command line, the
tokens' ``sites``, and a relay whose NATS server is not there (it pages on its LAN and
says the link is down; a page for other sites only is refused, 503)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.relay import config_refusal, free_tcp_port, start_relay, write_config
from tests.support.relay_audio import CHIME
from tests.support.udp_capture import free_port

from polyptt.relay.auth import ALL_CHANNELS, TokenStore
from polyptt.relay.config import load_config
from polyptt.relay.sites.config import NatsConfig


def run(*args: str, pythonpath: tuple[Path, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        polyptt_command(*args),
        env=polyptt_env(pythonpath),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_site_share_and_nats_are_read(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        'site = "north"\nshare = [26, "page:2"]\n[nats]\n'
        'url = ["tls://hub.example:4222", "tls://hub2.example:4222"]\n'
        'credentials = "north.creds"\nca_file = "ca.pem"\nname = "district"\n'
        'caller_prefix = "N "\nwait_s = 5\nmembers = ["south", "east"]\n',
    )
    policy = load_config(config)
    assert (policy.site, policy.share) == ("north", (26, 27))
    assert policy.nats == NatsConfig(
        urls=("tls://hub.example:4222", "tls://hub2.example:4222"),
        credentials=str(tmp_path / "north.creds"),
        ca_file=str(tmp_path / "ca.pem"),
        name="district",
        caller_prefix="N ",
        wait_s=5.0,
        members=frozenset({"south", "east"}),
    )
    assert load_config(write_config(tmp_path / "plain")).nats is None  # one site, as before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('site = "a.b"', "site 'a.b' must be 1-32 letters, digits, '-' or '_' (and not 'all')"),
        ("[nats]\nport = 4222", "unknown [nats] keys ['port'] (expected"),
        ('[nats]\nurl = "hub:4222"', "[nats] url must be one or more nats:// or tls:// URLs"),
        (
            '[nats]\ncredentials = "a.creds"\nuser = "u"',
            "[nats] takes credentials or user/password, not both",
        ),
        ('[nats]\nmembers = "south"', "[nats] members must be a list of one or more site names"),
        ('[nats]\nmembers = ["all"]', "site 'all' must be 1-32 letters, digits, '-' or '_'"),
    ],
)
def test_a_bad_site_or_nats_table_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    assert config_refusal(write_config(tmp_path, text)).startswith(message)


def test_nats_without_nats_py_fails_at_start_up_in_one_line(tmp_path: Path) -> None:
    """A stand-in ``nats`` package that cannot be imported plays nats-py's absence."""
    missing = tmp_path / "missing"
    (missing / "nats").mkdir(parents=True)
    (missing / "nats" / "__init__.py").write_text('raise ImportError("no nats-py")\n')
    config = write_config(tmp_path / "relay", '[nats]\nurl = "nats://127.0.0.1:4222"\n')
    bind = f"127.0.0.1:{free_tcp_port()}"
    done = run("relay", "--config", str(config), "--bind", bind, pythonpath=(missing,))
    assert done.returncode == 2
    assert done.stderr == f"Error: {config}: [nats] needs nats-py: pip install 'polyptt[nats]'\n"


def test_credentials_without_nkeys_fail_at_start_up_in_one_line(tmp_path: Path) -> None:
    """nats-py imports nkeys only when it connects with a ``.creds`` file: without it the
    relay would start and retry for ever. A stand-in ``nkeys`` plays its absence."""
    missing = tmp_path / "missing"
    (missing / "nkeys").mkdir(parents=True)
    (missing / "nkeys" / "__init__.py").write_text('raise ImportError("no nkeys")\n')
    config = write_config(
        tmp_path / "relay", '[nats]\nurl = "nats://127.0.0.1:4222"\ncredentials = "north.creds"\n'
    )
    bind = f"127.0.0.1:{free_tcp_port()}"
    done = run("relay", "--config", str(config), "--bind", bind, pythonpath=(missing,))
    assert done.returncode == 2
    assert done.stderr == (
        f"Error: {config}: [nats] credentials needs nkeys: pip install 'polyptt[nats]'\n"
    )


def test_a_bad_site_option_is_a_usage_error(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    done = run("relay", "--config", str(config), "--site", "no good")
    assert done.returncode == 2
    assert "site 'no good' must be 1-32 letters" in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_token_add_sites_are_stored_and_listed(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    for name, sites in (("North", "south,east"), ("Boss", "all"), ("Plain", None)):
        extra = [] if sites is None else ["--sites", sites]
        done = run("relay", "token", "add", name, "--can", "talk", "--config", str(config), *extra)
        assert done.returncode == 0, done.stderr
    listed = json.loads(run("relay", "token", "list", "--json", "--config", str(config)).stdout)
    assert listed["North"]["sites"] == ["east", "south"]
    assert listed["Boss"]["sites"] == "all"
    assert "sites" not in listed["Plain"]  # its relay's own site only
    bad = run(
        "relay", "token", "add", "X", "--can", "talk", "--sites", "a b", "--config", str(config)
    )
    assert bad.returncode == 2
    assert "site 'a b' must be" in bad.stderr


@pytest.mark.network
def test_without_its_nats_server_the_relay_pages_its_lan(tmp_path: Path) -> None:
    nowhere = free_tcp_port()  # nothing listens there
    config = write_config(
        tmp_path / "relay", f'site = "north"\n[nats]\nurl = "nats://127.0.0.1:{nowhere}"\n'
    )
    store = TokenStore(load_config(config).tokens_path)
    token = store.add("Office", frozenset({"talk"}), ALL_CHANNELS, frozenset(), None, None)
    relay = start_relay(config, udp_port=free_port())
    try:
        _status, health = relay.request("GET", "/healthz")
        local = relay.request("POST", "/api/v1/pages?channel=26&wait=1", token, CHIME.read_bytes())
        own = relay.request(
            "POST", "/api/v1/pages?channel=26&sites=north&wait=1", token, CHIME.read_bytes()
        )
        remote = relay.request(
            "POST", "/api/v1/pages?channel=26&sites=all&wait=1", token, CHIME.read_bytes()
        )
        south = relay.request(
            "POST", "/api/v1/pages?channel=26&sites=south&wait=1", token, CHIME.read_bytes()
        )
        _status, metrics = relay.request("GET", "/metrics", token)
    finally:
        relay.stop()
    assert (health["nats"]["site"], health["nats"]["link"]) == ("north", "down")
    assert (local[0], local[1]["outcome"]) == (200, "completed")
    assert (own[0], own[1]["outcome"]) == (200, "completed")
    assert (remote[0], remote[1]["outcome"]) == (200, "completed")  # north's LAN gets it
    assert south == (503, {"error": "the link to the other sites is down"})
    assert "polyptt_relay_nats_up 0\n" in metrics
