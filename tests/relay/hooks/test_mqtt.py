"""MQTT and Home Assistant discovery (relay/hooks/mqtt.py, discovery.py) against a real
mosquitto on a loopback port (tests/support/mosquitto.py), with an aiomqtt client that
stands in for Home Assistant. The tests that run a relay are marked ``network`` (run them
in the namespace: tools/isolated); the one refusing a config without aiomqtt is not."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pytest
import soundfile
import soxr
from tests.support.audio_devices import align_talkspurts, talkspurts
from tests.support.clocks import VirtualClock
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt_client import Got, watcher
from tests.support.pages import split_page
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.relay import add_token, app_client, settings, start_relay, write_config
from tests.support.udp_capture import UdpCapture, free_port

from polyptt import codecs
from polyptt.relay.bells.timetable import parse_schedule
from polyptt.relay.hooks import MQTT_MISSING
from polyptt.relay.state import RELAY

TOPIC = "polyptt/test"
NODE = "polyptt_test"
TEXT = "Fire drill in five minutes, please leave the building now"

# The keys Home Assistant documents for each MQTT component's configuration (the
# "Configuration Variables" of home-assistant.io/integrations/<component>.mqtt, from
# github.com/home-assistant/home-assistant.io source/_integrations/<component>.mqtt.markdown),
# written out here rather than taken from polyptt.relay.hooks.discovery.KEYS: a payload
# is held to what Home Assistant reads, not to what the relay thinks it reads.
_AVAILABILITY = {
    "availability",
    "availability_mode",
    "availability_topic",
    "payload_available",
    "payload_not_available",
}
_ENTITY = _AVAILABILITY | {"device", "enabled_by_default", "icon", "name", "unique_id", "qos"}
_ENTITY |= {"json_attributes_template", "json_attributes_topic", "object_id"}
HA_KEYS = {
    "notify": _ENTITY
    | {"availability_template", "command_template", "command_topic", "encoding"}
    | {"entity_category", "entity_picture", "retain"},
    "binary_sensor": _ENTITY
    | {"device_class", "expire_after", "force_update", "off_delay", "payload_off"}
    | {"payload_on", "state_topic", "value_template"},
    "sensor": _ENTITY
    | {"device_class", "expire_after", "force_update", "state_topic"}
    | {"unit_of_measurement", "value_template"},
    "button": _ENTITY
    | {"availability_template", "command_topic", "device_class", "entity_category"}
    | {"payload_press", "retain"},
    "switch": _ENTITY
    | {"command_topic", "optimistic", "payload_off", "payload_on", "retain", "state_off"}
    | {"state_on", "state_topic", "value_template"},
}
#: The keys of ``device`` (the same on every component's page).
HA_DEVICE_KEYS = {
    "configuration_url",
    "connections",
    "hw_version",
    "identifiers",
    "manufacturer",
    "model",
    "model_id",
    "name",
    "serial_number",
    "suggested_area",
    "sw_version",
    "via_device",
}
#: What each component needs to work here: a topic to read or to publish to.
HA_NEEDS = {
    "notify": {"command_topic"},
    "binary_sensor": {"state_topic", "payload_on", "payload_off"},
    "sensor": {"state_topic"},
    "button": {"command_topic"},
    "switch": {"command_topic", "state_topic"},
}


def assert_ha_keys(topic: str, payload: dict[str, Any]) -> None:
    """`payload`, the config on `topic`, in the keys Home Assistant documents for its
    component (no abbreviations, no unknown key), with one device and availability."""
    component = topic.split("/")[1]
    assert set(payload) <= HA_KEYS[component], (topic, set(payload) - HA_KEYS[component])
    assert HA_NEEDS[component] <= set(payload), (topic, HA_NEEDS[component] - set(payload))
    assert set(payload["device"]) <= HA_DEVICE_KEYS, set(payload["device"]) - HA_DEVICE_KEYS
    assert payload["device"]["identifiers"] == [NODE]
    assert (payload["payload_available"], payload["payload_not_available"]) == (
        "online",
        "offline",
    )
    assert payload["availability_topic"] == f"{TOPIC}/status"


def mqtt_config(folder: Path, broker: Mosquitto, extra: str = "") -> Path:
    tone = folder / "tone.wav"
    folder.mkdir(parents=True, exist_ok=True)
    rate = 8000
    pcm = (0.3 * np.sin(2 * np.pi * 440 * np.arange(rate // 2) / rate) * 32767).astype(np.int16)
    soundfile.write(tone, pcm, rate, subtype="PCM_16")
    return write_config(
        folder,
        'public_url = "https://paging.example.org"\n'
        '[channels]\n26 = "All staff"\n27 = "Kitchen"\n'
        f'[audio]\ntone = "tone.wav"\n'
        f'[mqtt]\nurl = "{broker.url}"\ntopic = "{TOPIC}"\nannounce_channels = [26]\n{extra}',
    )


def espeak_own(text: str, rate: int) -> np.ndarray:
    """espeak-ng's own rendering of `text`, at `rate`."""
    done = subprocess.run(["espeak-ng", "--stdout", text], capture_output=True, check=True)
    pcm, own_rate = soundfile.read(io.BytesIO(done.stdout), dtype="int16")
    return np.asarray(soxr.resample(pcm, own_rate, rate), dtype=np.float64)


def ha_value(config: dict[str, Any], payload: bytes) -> str:
    """What Home Assistant makes of `payload` on an entity's state topic: its
    ``value_template`` rendered (Jinja2, with ``value`` and ``value_json``), else the
    payload itself."""
    value = payload.decode()
    template = config.get("value_template")
    if template is None:
        return value
    try:
        value_json = json.loads(value)
    except ValueError:
        value_json = None
    return jinja2.Environment().from_string(template).render(value=value, value_json=value_json)


def ha_binary(config: dict[str, Any], got: Got) -> str | None:
    """A binary sensor's state from `got` as Home Assistant reads it (its config's
    ``state_topic``, ``payload_on`` and ``payload_off``, defaults ON and OFF): ``on``,
    ``off``, or None (another topic, or a payload it ignores)."""
    if got.topic != config["state_topic"]:
        return None
    value = ha_value(config, got.payload)
    states = {config.get("payload_on", "ON"): "on", config.get("payload_off", "OFF"): "off"}
    return states.get(value)


def discovery_of(messages: list[Got]) -> dict[str, dict[str, Any]]:
    """The non-empty retained configs, by topic (the latest of each)."""
    found: dict[str, dict[str, Any]] = {}
    for got in messages:
        if got.topic.endswith("/config"):
            if got.payload:
                found[got.topic] = json.loads(got.payload)
            else:
                found.pop(got.topic, None)
    return found


def test_without_aiomqtt_a_config_with_mqtt_is_one_line_at_start(tmp_path: Path) -> None:
    stand_in = tmp_path / "no-aiomqtt"
    stand_in.mkdir()
    (stand_in / "aiomqtt.py").write_text("raise ImportError('No module named aiomqtt')\n")
    config = write_config(tmp_path / "relay", '[mqtt]\nurl = "mqtt://127.0.0.1:1"\n')
    done = subprocess.run(
        polyptt_command("relay", "--config", str(config), "--bind", f"127.0.0.1:{free_port()}"),
        env=polyptt_env([stand_in]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == f"Error: {MQTT_MISSING}\n"
    assert "pip install 'polyptt[mqtt]'" in MQTT_MISSING


@pytest.mark.network
def test_home_assistant_discovers_pages_by_notify_and_sees_paging(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    """Discovery as Home Assistant reads it; a notify message is spoken as a page on the
    channel (its voiced stretches are espeak-ng's own rendering); the binary sensor goes
    ON then OFF and the sensor names the caller; an entity of a channel taken out of the
    configuration is removed; Home Assistant's birth message gets the discovery again."""
    port = free_port()
    config = mqtt_config(tmp_path / "relay", mosquitto)

    async def main() -> tuple[list[Got], list[tuple[float, bytes]]]:
        async with watcher(mosquitto.port) as old:  # an earlier config had channel 27
            stale = f"homeassistant/notify/{NODE}/channel_27_page/config"
            await old.client.publish(stale, '{"name": "Page Kitchen"}', qos=1, retain=True)
        async with watcher(mosquitto.port, "homeassistant/#", f"{TOPIC}/#") as ha:
            with UdpCapture(port) as capture:
                async with app_client(settings(config, port, clock=VirtualClock())):
                    await ha.topic(f"{TOPIC}/status", b"online")
                    await ha.topic(stale, b"", timeout=5)  # removed
                    found = discovery_of(ha.messages)
                    assert len(found) == 3, found
                    notify = found[f"homeassistant/notify/{NODE}/channel_26_page/config"]
                    paging = found[f"homeassistant/binary_sensor/{NODE}/channel_26_paging/config"]
                    await ha.client.publish(notify["command_topic"], TEXT, qos=1)
                    on = await ha.wait(lambda g: ha_binary(paging, g) == "on", timeout=20)
                    after = ha.messages.index(on)
                    await ha.wait(lambda g: ha_binary(paging, g) == "off", after=after, timeout=20)
                    packets = capture.wait_quiet(0.5)
                    before = len(ha.messages)
                    await ha.client.publish("homeassistant/status", "online", qos=1)
                    await ha.wait(lambda g: g.topic.endswith("/config"), after=before)
                    await asyncio.sleep(0.5)
                    republished = [g for g in ha.messages[before:] if g.topic.endswith("config")]
                    assert len(republished) == 3
                return ha.messages, packets

    messages, packets = asyncio.run(main())
    found = discovery_of(messages)
    assert_discovery(found)
    caller = found[f"homeassistant/sensor/{NODE}/channel_26_last_caller/config"]
    last = [g for g in messages if g.topic == caller["state_topic"]][-1]
    assert ha_value(caller, last.payload) == "MQTT"  # the sensor's state, as HA reads it
    page = json.loads(last.payload)
    assert (page["caller_id"], page["channel"], page["channel_name"]) == ("MQTT", 26, "All staff")
    assert page["via"] == "mqtt"
    received = split_page(packets)
    assert {p.channel for _t, p in received.alerts} == {26}
    audio = codecs.decode("g722", received.audio).astype(np.float64)
    reference = espeak_own(TEXT, 16000)
    found_spurts = align_talkspurts(audio, reference, 16000)
    assert len(found_spurts) == len(talkspurts(reference, 16000)) >= 2
    for number, (_lag, corr) in enumerate(found_spurts):
        assert corr > 0.9, f"voiced stretch {number}: correlation {corr:.3f}"
    events = [g.topic for g in messages if g.topic.startswith(f"{TOPIC}/event/")]
    assert events == [f"{TOPIC}/event/{n}" for n in ("relay_started", "page_started", "page_ended")]


def assert_discovery(found: dict[str, dict[str, Any]]) -> None:
    """The three entities of channel 26, in the keys Home Assistant documents."""
    assert sorted(found) == sorted(
        f"homeassistant/{component}/{NODE}/channel_26_{what}/config"
        for component, what in (
            ("notify", "page"),
            ("binary_sensor", "paging"),
            ("sensor", "last_caller"),
        )
    )
    for topic, payload in found.items():
        assert_ha_keys(topic, payload)
        assert payload["unique_id"] == f"{NODE}_{topic.split('/')[3]}"
        assert payload["device"]["model"] == "polyptt relay"
        assert payload["device"]["identifiers"] == [NODE]
        assert payload["device"]["configuration_url"] == "https://paging.example.org"
    names = sorted(p["name"] for p in found.values())
    assert names == ["All staff last caller", "All staff paging", "Page All staff"]
    sensor = found[f"homeassistant/binary_sensor/{NODE}/channel_26_paging/config"]
    assert (sensor["device_class"], sensor["payload_on"], sensor["payload_off"]) == (
        "sound",
        "paging",
        "idle",
    )


REFUSALS = [
    (b'{"channel": 27, "say": "hello"}', "channel 27 is not announced over MQTT (26)"),
    (b'{"channel": 26, "audio": "fire"}', "no audio named 'fire' in [audio] (tone)"),
    (b'{"channel": 26, "audio": "/etc/passwd"}', "no audio named '/etc/passwd' in [audio] (tone)"),
    (
        b'{"channel": 26, "say": "hi"',
        "bad JSON: Expecting ',' delimiter: line 1 column 28 (char 27)",
    ),
    (b'{"channel": 26}', 'give one of "say" (a text) or "audio" (a name from [audio])'),
]


@pytest.mark.network
def test_refusals_are_told_on_the_error_topic_and_nothing_is_sent(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    port = free_port()
    config = mqtt_config(tmp_path / "relay", mosquitto)

    async def main() -> tuple[list[Got], list[tuple[float, bytes]], list[tuple[float, bytes]]]:
        async with watcher(mosquitto.port, f"{TOPIC}/#") as client:
            with UdpCapture(port) as capture:
                async with app_client(settings(config, port, clock=VirtualClock())):
                    await client.topic(f"{TOPIC}/status", b"online")
                    for payload, _error in REFUSALS:
                        await client.client.publish(f"{TOPIC}/page/set", payload, qos=1)
                    await client.client.publish(f"{TOPIC}/channel/27/say", "hello", qos=1)
                    errors = await wait_count(client, f"{TOPIC}/error", len(REFUSALS) + 1)
                    await asyncio.sleep(0.5)
                    refused = capture.packets
                    # what the [audio] table names does page (the path is the config's)
                    page = b'{"channel": 26, "audio": "tone", "codec": "g711u"}'
                    await client.client.publish(f"{TOPIC}/page/set", page, qos=1)
                    state = f"{TOPIC}/channel/26/state"
                    on = await client.topic(state, b"paging", timeout=10)
                    await client.topic(state, b"idle", after=client.messages.index(on))
                    return errors, refused, capture.wait_quiet(0.5)

    errors, refused, sent = asyncio.run(main())
    assert refused == []
    told = [json.loads(g.payload) for g in errors]
    assert [t["error"] for t in told] == [e for _p, e in REFUSALS] + [
        "channel 27 is not announced over MQTT (26)"
    ]
    assert {t["topic"] for t in told} == {f"{TOPIC}/page/set", f"{TOPIC}/channel/27/say"}
    page = split_page(sent)
    assert len(page.alerts) > 0
    assert {p.channel for _t, p in page.transmits} == {26}


async def wait_count(client: Any, topic: str, count: int, timeout: float = 10.0) -> list[Got]:
    deadline = time.monotonic() + timeout
    while len(client.on(topic)) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    got: list[Got] = client.on(topic)
    assert len(got) == count, [g.payload for g in got]
    return got


@pytest.mark.network
def test_a_broker_outage_never_stops_paging_and_the_will_says_offline(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    """The broker stops mid-run: pages from the HTTP API go out meanwhile; it comes back:
    the relay reconnects and republishes its status, channel state and discovery (the
    broker kept nothing); the relay killed with SIGKILL: the last will says offline."""
    udp = free_port()
    config = mqtt_config(tmp_path / "relay", mosquitto)
    token = add_token(config, "Talker", "talk")
    tone = (tmp_path / "relay" / "tone.wav").read_bytes()
    relay = start_relay(config, udp_port=udp)
    try:

        async def online() -> list[Got]:
            async with watcher(mosquitto.port, "homeassistant/#", f"{TOPIC}/#") as ha:
                await ha.topic(f"{TOPIC}/status", b"online", timeout=15)
                await ha.wait(lambda g: "/notify/" in g.topic, timeout=15)
                await ha.topic(f"{TOPIC}/channel/26/state", timeout=15)
                await asyncio.sleep(0.3)
                return ha.messages

        asyncio.run(online())
        mosquitto.stop()
        with UdpCapture(udp) as capture:
            status, answer = relay.request(
                "POST", "/api/v1/pages?channel=26&codec=g711u&wait=1", token, tone
            )
            assert (status, answer["outcome"]) == (200, "completed")
            assert split_page(capture.wait_quiet(0.5)).alerts
        mosquitto.start()
        messages = asyncio.run(online())  # the broker forgot all: republished
        assert [g.payload for g in messages if g.topic == f"{TOPIC}/channel/26/state"] == [b"idle"]
        assert len(discovery_of(messages)) == 3

        async def killed() -> None:
            async with watcher(mosquitto.port, f"{TOPIC}/status") as ha:
                await ha.topic(f"{TOPIC}/status", b"online")
                relay.process.send_signal(signal.SIGKILL)
                await ha.topic(f"{TOPIC}/status", b"offline", timeout=10)

        asyncio.run(killed())
    finally:
        relay.stop(signal.SIGKILL)
    log = relay.stderr.read_text()
    assert log.count("MQTT: lost the broker") == 1, log


@pytest.mark.network
def test_a_button_rings_a_schedule_and_a_switch_pauses_it(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    """Per schedule a button and a switch; pressing the button rings the bell on its
    channel (schedule_rang on the event topic), the switch pauses and resumes it; a
    relay started without the schedule removes both entities; schedules paused, added
    and deleted through the API are followed."""
    port = free_port()
    folder = tmp_path / "relay"
    bell = '[[schedule]]\nname = "Lunch"\ncron = "0 12 * * *"\nchannel = 26\naudio = "tone.wav"\n'
    config = mqtt_config(folder, mosquitto, "")
    config.write_text(config.read_text().replace("[mqtt]", bell + "[mqtt]"))
    button = f"homeassistant/button/{NODE}/schedule_Lunch_ring/config"
    switch = f"homeassistant/switch/{NODE}/schedule_Lunch_enabled/config"

    async def main() -> tuple[list[Got], list[tuple[float, bytes]]]:
        async with watcher(mosquitto.port, "homeassistant/#", f"{TOPIC}/#") as ha:
            with UdpCapture(port) as capture:
                relay_settings = settings(config, port, clock=VirtualClock(), data=folder / "d")
                async with app_client(relay_settings) as client:
                    relay = client.server.app[RELAY]
                    pressed = json.loads((await ha.topic(button)).payload)
                    toggle = json.loads((await ha.topic(switch)).payload)
                    assert (pressed["name"], toggle["name"]) == ("Ring Lunch", "Lunch enabled")
                    assert_ha_keys(button, pressed)
                    assert_ha_keys(switch, toggle)
                    await ha.topic(toggle["state_topic"], b"ON")
                    await ha.client.publish(pressed["command_topic"], "PRESS", qos=1)
                    await ha.topic(f"{TOPIC}/event/schedule_rang", timeout=15)
                    packets = capture.wait_quiet(0.5)
                    await ha.client.publish(toggle["command_topic"], "OFF", qos=1)
                    off = await ha.topic(toggle["state_topic"], b"OFF")
                    assert relay.bells.get("Lunch").paused
                    await ha.client.publish(toggle["command_topic"], "ON", qos=1)
                    await ha.topic(toggle["state_topic"], b"ON", after=ha.messages.index(off))
                    assert not relay.bells.get("Lunch").paused
                    # changes through the HTTP API reach Home Assistant too
                    seen = len(ha.messages)
                    await relay.bells.pause("Lunch")
                    await ha.topic(toggle["state_topic"], b"OFF", after=seen)
                    supper = {"name": "Supper", "cron": "0 18 * * *", "channel": 26}
                    await relay.bells.put(parse_schedule({**supper, "say": "Supper"}))
                    added = f"homeassistant/button/{NODE}/schedule_Supper_ring/config"
                    assert json.loads((await ha.topic(added)).payload)["name"] == "Ring Supper"
                    await relay.bells.delete("Supper")
                    await ha.topic(added, b"")
            config.write_text(config.read_text().replace(bell, ""))
            async with app_client(settings(config, port, clock=VirtualClock(), data=folder / "e")):
                await ha.topic(button, b"", timeout=5)
                await ha.topic(switch, b"", timeout=5)
            return ha.messages, packets

    messages, packets = asyncio.run(main())
    page = split_page(packets)
    assert {p.channel for _t, p in page.alerts} == {26}
    rang = json.loads(next(g for g in messages if g.topic.endswith("/schedule_rang")).payload)
    assert (rang["schedule"]["name"], rang["schedule"]["channel"]) == ("Lunch", 26)


@pytest.mark.network
def test_a_schedule_on_a_channel_not_announced_is_refused_and_has_no_entities(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    """Only announce_channels are paged from MQTT, bells included: a schedule on channel
    27 (announce_channels = [26]) gets no button or switch (an earlier relay's are
    removed), and ringing, pausing or resuming it is refused on the error topic with
    nothing sent; the schedule on channel 26 keeps its entities."""
    port = free_port()
    folder = tmp_path / "relay"
    bells = "".join(
        f'[[schedule]]\nname = "{name}"\ncron = "0 12 * * *"\nchannel = {channel}\n'
        'audio = "tone.wav"\n'
        for name, channel in (("Lunch", 26), ("Kitchen", 27))
    )
    config = mqtt_config(folder, mosquitto)
    config.write_text(config.read_text().replace("[mqtt]", bells + "[mqtt]"))
    kitchen = [
        f"homeassistant/{c}/{NODE}/schedule_Kitchen_{w}/config"
        for c, w in (("button", "ring"), ("switch", "enabled"))
    ]

    async def main() -> tuple[list[Got], list[Got], list[tuple[float, bytes]]]:
        async with watcher(mosquitto.port) as old:  # an earlier relay published them
            for topic in kitchen:
                await old.client.publish(topic, '{"name": "Ring Kitchen"}', qos=1, retain=True)
        async with watcher(mosquitto.port, "homeassistant/#", f"{TOPIC}/#") as ha:
            with UdpCapture(port) as capture:
                relay_settings = settings(config, port, clock=VirtualClock(), data=folder / "d")
                async with app_client(relay_settings) as client:
                    relay = client.server.app[RELAY]
                    for topic in kitchen:
                        await ha.topic(topic, b"", timeout=5)  # removed
                    await asyncio.sleep(0.5)
                    base = f"{TOPIC}/schedule/Kitchen"
                    await ha.client.publish(f"{base}/ring", "PRESS", qos=1)
                    await ha.client.publish(f"{base}/enabled/set", "OFF", qos=1)
                    errors = await wait_count(ha, f"{TOPIC}/error", 2)
                    await asyncio.sleep(0.5)
                    assert not relay.bells.get("Kitchen").paused
                    return ha.messages, errors, capture.packets

    messages, errors, packets = asyncio.run(main())
    assert packets == []
    why = "schedule 'Kitchen' rings channel 27, which is not announced over MQTT (26)"
    assert [json.loads(g.payload) for g in errors] == [
        {"error": why, "topic": f"{TOPIC}/schedule/Kitchen/ring"},
        {"error": why, "topic": f"{TOPIC}/schedule/Kitchen/enabled/set"},
    ]
    found = discovery_of(messages)
    schedules = sorted(t.split("/")[3] for t in found if "/schedule_" in t)
    assert schedules == ["schedule_Lunch_enabled", "schedule_Lunch_ring"]
    assert not [g for g in messages if g.topic == f"{TOPIC}/schedule/Kitchen/enabled"]
    assert not [g for g in messages if g.topic.endswith("/schedule_rang")]


LUNCH = '[[schedule]]\nname = "Lunch"\ncron = "0 12 * * *"\nchannel = 26\naudio = "tone.wav"\n'


@pytest.mark.network
def test_with_commands_false_no_command_is_obeyed_and_only_sensors_are_discovered(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    """commands = false: a page, a notify message, a bell's ring and a switch's OFF are
    all ignored (nothing sent, no error, the bell not paused), and Home Assistant gets
    only the channel's two sensors: no notify, button or switch that could do nothing."""
    port = free_port()
    folder = tmp_path / "relay"
    config = mqtt_config(folder, mosquitto, "commands = false\n")
    config.write_text(config.read_text().replace("[mqtt]", LUNCH + "[mqtt]"))

    async def main() -> tuple[list[Got], list[tuple[float, bytes]]]:
        async with watcher(mosquitto.port, "#") as ha:
            with UdpCapture(port) as capture:
                relay_settings = settings(config, port, clock=VirtualClock(), data=folder / "d")
                async with app_client(relay_settings) as client:
                    relay = client.server.app[RELAY]
                    await ha.wait(lambda g: "/sensor/" in g.topic)
                    await asyncio.sleep(0.5)
                    page = b'{"channel": 26, "audio": "tone", "codec": "g711u"}'
                    await ha.client.publish(f"{TOPIC}/page/set", page, qos=1)
                    await ha.client.publish(f"{TOPIC}/channel/26/say", "hello", qos=1)
                    await ha.client.publish(f"{TOPIC}/schedule/Lunch/ring", "PRESS", qos=1)
                    await ha.client.publish(f"{TOPIC}/schedule/Lunch/enabled/set", "OFF", qos=1)
                    await asyncio.sleep(2.0)
                    assert not relay.bells.get("Lunch").paused
                    return ha.messages, capture.packets

    messages, packets = asyncio.run(main())
    assert packets == []
    topics = [g.topic for g in messages]
    assert f"{TOPIC}/error" not in topics
    assert [g.payload for g in messages if g.topic == f"{TOPIC}/channel/26/state"] == [b"idle"]
    assert [t for t in topics if t.startswith(f"{TOPIC}/event/")] == [
        f"{TOPIC}/event/relay_started"
    ]
    found = discovery_of(messages)
    assert sorted(t.split("/")[1] for t in found) == ["binary_sensor", "sensor"]
    for topic, payload in found.items():
        assert_ha_keys(topic, payload)


@pytest.mark.network
def test_an_empty_discovery_prefix_publishes_nothing_for_home_assistant(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    """discovery_prefix = "": not one message under homeassistant/ (nor any config),
    not even after Home Assistant's birth message; the relay's own topics and commands
    work as ever."""
    port = free_port()
    folder = tmp_path / "relay"
    config = mqtt_config(folder, mosquitto, 'discovery_prefix = ""\n')
    config.write_text(config.read_text().replace("[mqtt]", LUNCH + "[mqtt]"))

    async def main() -> list[Got]:
        async with watcher(mosquitto.port, "#") as ha:
            with UdpCapture(port):
                relay_settings = settings(config, port, clock=VirtualClock(), data=folder / "d")
                async with app_client(relay_settings):
                    await ha.topic(f"{TOPIC}/schedule/Lunch/enabled", b"ON")
                    await ha.client.publish("homeassistant/status", "online", qos=1)
                    page = b'{"channel": 26, "audio": "tone", "codec": "g711u"}'
                    await ha.client.publish(f"{TOPIC}/page/set", page, qos=1)
                    state = f"{TOPIC}/channel/26/state"
                    on = await ha.topic(state, b"paging", timeout=10)
                    await ha.topic(state, b"idle", after=ha.messages.index(on))
                    await asyncio.sleep(1.5)  # SCAN_S and a republish would be over
                    return ha.messages

    messages = asyncio.run(main())
    theirs = [g.topic for g in messages if g.topic != "homeassistant/status"]
    assert [t for t in theirs if t.startswith("homeassistant/") or t.endswith("/config")] == []
    assert f"{TOPIC}/status" in theirs
