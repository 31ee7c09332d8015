"""``polyptt relay schedule list|next`` without a running relay: the config's schedules
and those the API stored in the data directory's database, with their pauses."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.processes import polyptt_command, polyptt_env

from polyptt.relay.bells import persist
from polyptt.relay.store.database import Database

#: 29 February only: the next runs are the same until 2028.
CONFIG = """
[[schedule]]
name = "leap-bell"
cron = "0 8 29 2 *"
timezone = "Europe/Berlin"
channel = 26
audio = "bell.wav"

[[schedule]]
name = "paused-one"
cron = "0 9 * * *"
timezone = "Europe/Berlin"
channel = 26
audio = "bell.wav"
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*polyptt_command("relay", "schedule"), *args],
        capture_output=True,
        text=True,
        env=polyptt_env(),
        timeout=60,
    )


def test_list_and_next_read_the_config_and_the_database(tmp_path: Path) -> None:
    config = tmp_path / "relay.toml"
    config.write_text(CONFIG)
    data = tmp_path / "data"
    db = Database(data / "relay.db")
    db.schema(*persist.SCHEMA)
    db.open()
    api_made = {"name": "leap-lunch", "cron": "30 12 29 2 *", "timezone": "America/New_York",
                "channel": 27, "say": "Lunch", "chime": True}  # fmt: skip
    db.call(lambda c: persist.save(c, api_made))
    db.call(lambda c: persist.set_paused(c, "paused-one", True))
    db.close()
    listed = run("list", "--config", str(config), "--data", str(data))
    assert (listed.returncode, listed.stderr) == (0, "")
    assert listed.stdout.splitlines() == [
        "leap-bell\t2028-02-29 08:00 CET\t26\taudio bell.wav",
        "leap-lunch\t2028-02-29 12:30 EST\t27\tsay 'Lunch' (chime)",
        "paused-one\tpaused\t26\taudio bell.wav",
    ]
    upcoming = run("next", "--count", "3", "--config", str(config), "--data", str(data))
    assert (upcoming.returncode, upcoming.stderr) == (0, "")
    assert upcoming.stdout.splitlines() == [
        "2028-02-29 08:00 CET\tleap-bell\t26\taudio bell.wav",
        "2028-02-29 12:30 EST\tleap-lunch\t27\tsay 'Lunch' (chime)",
        "2032-02-29 08:00 CET\tleap-bell\t26\taudio bell.wav",
    ]


def test_a_missing_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    done = run("list", "--config", str(missing))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"Error: Invalid value for '--config': {missing}: no such file ('polyptt relay "
        "token add' creates one) (see 'polyptt relay schedule list --help')"
    ]
