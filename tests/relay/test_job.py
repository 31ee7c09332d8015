"""``polyptt relay``'s job without Click: `polyptt.relay.job` as a program calls it."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.relay import write_config

from polyptt.cli import relay as relay_cli
from polyptt.console import Console
from polyptt.errors import BadInput
from polyptt.relay import job


def test_the_command_shows_the_jobs_default_address() -> None:
    """The command keeps a copy (importing the job loads the web server): they agree."""
    assert relay_cli.DEFAULT_BIND == job.DEFAULT_BIND == job.RelayJob().bind


def test_clear_text_off_loopback_is_refused_before_anything_is_served(tmp_path: Path) -> None:
    relay = job.RelayJob(bind="192.0.2.1:8443", config=write_config(tmp_path))
    with pytest.raises(BadInput) as refused:
        job.run(relay, Console(-1))
    assert refused.value.option is None
    assert str(refused.value).startswith("--bind 192.0.2.1:8443 is not a loopback address")


def test_tokens_are_added_listed_and_revoked(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[targets]\nreception = "192.0.2.7"\n')
    channels = job.parse_channels("26-28,1")
    scopes = job.parse_scopes("talk,listen")
    secret, store = job.add_token(config, "Lobby", scopes, channels, job.parse_targets(None))
    assert len(secret) >= 40
    assert store == tmp_path / "relay.tokens.json"
    [grant] = job.grants(config)
    assert job.grant_line(grant) == "Lobby\tlisten,talk\t1,26-28\t-\tnever"
    assert job.grant_fields(grant) == {
        "scopes": ["listen", "talk"],
        "channels": [1, 26, 27, 28],
        "targets": [],
        "expires": None,
    }
    with pytest.raises(BadInput) as refused:
        job.add_token(config, "Desk", scopes, channels, job.parse_targets("kitchen"))
    assert refused.value.option == "--targets"
    assert str(refused.value) == f"no target named kitchen in {config} (known: reception)"
    job.revoke_token(config, "Lobby")
    assert job.grants(config) == []
