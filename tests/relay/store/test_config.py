"""The page store's keys of the relay's configuration: ``record``, ``keep_days``,
``keep_gb`` (and the example file, which shows every key)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.relay import config_refusal

from polyptt.relay.config import load_config

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "relay" / "relay.toml"


def test_the_example_sets_the_store_keys() -> None:
    config = load_config(EXAMPLE)
    assert config.data == Path("/var/lib/polyptt/relay")
    assert (config.record, config.keep_days, config.keep_gb) == (("heard", "sent"), 90.0, 20.0)


def test_the_defaults_record_both_directions_and_keep_everything(tmp_path: Path) -> None:
    config = load_config(tmp_path / "none.toml")
    assert (config.record, config.keep_days, config.keep_gb) == (("heard", "sent"), None, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('record = ["heard", "spoken"]', 'record must be a list of "heard" and "sent"'),
        ('record = "sent"', 'record must be a list of "heard" and "sent"'),
        ("keep_days = 0", "keep_days must be a number above 0"),
        ("keep_gb = -1", "keep_gb must be a number above 0"),
        ('keep_gb = "20"', "keep_gb must be a number above 0"),
        ("keep_days = true", "keep_days must be a number above 0"),
    ],
)
def test_bad_store_keys_are_one_line_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(text + "\n")
    assert config_refusal(path).startswith(message)


def test_record_none_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text("record = []\nkeep_days = 7.5\n")
    config = load_config(path)
    assert (config.record, config.keep_days) == ((), 7.5)
