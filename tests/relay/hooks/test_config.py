"""The hooks' configuration keys (relay/hooks/config.py): each mistake one line naming
it, and the URL and secret kept out of reprs (and so out of logs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.relay import config_refusal

from polyptt.relay.config import load_config

SECRET = "0123456789abcdef0123"


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "relay.toml"
    path.write_text(text)
    return path


def test_a_full_hooks_configuration(tmp_path: Path) -> None:
    (tmp_path / "mqtt.password").write_text("s3cret\n")
    path = config(
        tmp_path,
        'public_url = "https://paging.example.org/"\n'
        f'[[webhook]]\nurl = "https://hooks.example.org/x?token=t0k"\nsecret = "{SECRET}"\n'
        'events = ["page_started"]\nchannels = [26]\n'
        '[mqtt]\nurl = "mqtts://broker.example.org"\nusername = "relay"\n'
        'password_file = "mqtt.password"\nannounce_channels = [26, 50]\n'
        '[audio]\nfire = "audio/fire.wav"\n',
    )
    hooks = load_config(path).hooks
    (hook,) = hooks.webhooks
    assert (hook.events, hook.channels, hook.timeout_s) == ({"page_started"}, {26}, 10.0)
    assert "t0k" not in repr(hook)
    assert SECRET not in repr(hook)
    assert hook.wants("page_started", {"channel": 26})
    assert not hook.wants("page_started", {"channel": 27})
    assert not hook.wants("page_ended", {"channel": 26})
    mqtt = hooks.mqtt
    assert mqtt is not None
    assert (mqtt.address, mqtt.password, mqtt.announce_channels) == (
        ("broker.example.org", 8883, True),
        "s3cret",
        (26, 50),
    )
    assert "s3cret" not in repr(mqtt)
    assert (mqtt.topic, mqtt.discovery_prefix, mqtt.commands) == (None, "homeassistant", True)
    assert hooks.audio == {"fire": tmp_path / "audio" / "fire.wav"}
    assert hooks.public_url == "https://paging.example.org"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            '[[webhook]]\nurl = "ftp://x"\n',
            "webhook 1: url must start with http:// or https://",
        ),
        (
            '[[webhook]]\nurl = "https://x"\nsecret = "short"\nevents = ["page_started"]\n',
            "webhook 1: secret must be a string of 16 characters or more",
        ),
        (
            f'[[webhook]]\nurl = "https://x"\nsecret = "{SECRET}"\nevents = ["page_begun"]\n',
            "webhook 1: events must list some of page_started, page_ended, recording_ready, "
            "schedule_rang, schedule_missed, relay_started",
        ),
        (
            '[mqtt]\nurl = "http://broker"\n',
            "mqtt: url must be mqtt://host:1883 or mqtts://host:8883",
        ),
        (
            '[mqtt]\ntopic = "polyptt/#"\n',
            "mqtt: topic must be a topic without wildcards, e.g. polyptt/school",
        ),
        ("[mqtt]\nannounce_channels = [51]\n", "mqtt: invalid channel '51': channels are 1-50"),
        (
            '[mqtt]\npassword = "a"\npassword_file = "b"\n',
            "mqtt: give password or password_file, not both",
        ),
        ("[mqtt]\nport = 1883\n", "mqtt: unknown keys ['port']"),
        (
            '[mqtt]\ncommands = "false"\n',
            "mqtt: commands must be true or false (a TOML boolean, no quotes)",
        ),
        ("[mqtt]\ncommands = 0\n", "mqtt: commands must be true or false"),
        (
            'audio = "x.wav"\n',
            'audio must be a table of names and files: [audio] fire = "fire.wav"',
        ),
    ],
)
def test_each_mistake_is_one_line(tmp_path: Path, text: str, error: str) -> None:
    assert config_refusal(config(tmp_path, text)).startswith(error)


def test_the_default_topic_is_the_site_else_the_host_name(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from polyptt.relay.hooks.config import default_topic

    monkeypatch.setattr(socket, "gethostname", lambda: "pager-1.school.example.org")
    assert default_topic("north wing") == "polyptt/north_wing"
    assert default_topic(None) == "polyptt/pager-1"
