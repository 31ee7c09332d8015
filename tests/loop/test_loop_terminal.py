"""``polyptt loop`` for real: a pseudo-terminal, the virtual audio devices, real multicast.

Each test drives the loop through a pty as a person would (Space, q, Ctrl-C), plays
speech into the virtual microphone (``paplay -d micsink``), records the virtual speaker
(its monitor) and watches the wire (a `UdpCapture` on the group) or a ``polyptt listen
--record`` running beside it. They run inside the network namespace (``network``).
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from tests.support.audio_devices import (
    SpeakerMonitor,
    align,
    assert_speech_whole,
    one_clean_run,
    sounddevice_or_skip,
)
from tests.support.listen import CHIME, expected_audio, make_page_capture, start_listen
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.terminal import LOOP_SERIAL, LoopTerminal
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.protocol import DEFAULT_GROUP, AlertPacket, EndPacket, TransmitPacket, parse_packet

pytestmark = [pytest.mark.audio, pytest.mark.network]

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech16k.wav"


def speech_clip(folder: Path, seconds: float) -> tuple[Path, np.ndarray]:
    pcm, rate = soundfile.read(SPEECH, dtype="int16")
    clip = pcm[: int(seconds * rate)]
    path = folder / "speech.wav"
    soundfile.write(path, clip, rate)
    return path, clip


def kinds(packets: list[tuple[float, bytes]], serial: int) -> Counter[str]:
    """Alerts, transmits and ends on the wire from the sender with `serial`."""
    counts: Counter[str] = Counter()
    for _arrival, datagram in packets:
        packet = parse_packet(datagram)
        if packet.serial == serial:
            name = {AlertPacket: "alert", TransmitPacket: "transmit", EndPacket: "end"}
            counts[name[type(packet)]] += 1
    return counts


def send_process(port: int, *args: str) -> subprocess.Popen:
    """``polyptt send`` to the loop's group and port, in the background."""
    return subprocess.Popen(
        polyptt_command("send", "--to", f"{DEFAULT_GROUP}:{port}", "-q", *args),
        env=polyptt_env(),
        stderr=subprocess.PIPE,
        text=True,
    )


def succeeded(sender: subprocess.Popen) -> bool:
    """Wait for a `send_process`; whether it exited 0 (its errors are printed)."""
    _out, errors = sender.communicate(timeout=30)
    print(errors)
    return sender.returncode == 0


def test_talk_from_a_terminal_is_heard_whole_from_its_first_word(tmp_path: Path) -> None:
    """Space, speech, Space: a listener beside the loop records exactly that page (one
    clean run in three: the VM may starve the microphone's threads)."""
    sounddevice_or_skip()
    one_clean_run(_talk_from_a_terminal, tmp_path)


def _talk_from_a_terminal(tmp_path: Path) -> None:
    port = free_port()
    wav, clip = speech_clip(tmp_path, 3.0)
    listening = start_listen(tmp_path / "rec", port=port)
    try:
        with UdpCapture(port) as capture:
            terminal = LoopTerminal(tmp_path, port)
            terminal.press(" ")
            terminal.expect("state: ALERTING")  # the alerts last 0.93 s: speak at once
            subprocess.run(["paplay", "-d", "micsink", str(wav)], check=True, timeout=30)
            time.sleep(0.3)
            terminal.press(" ")
            terminal.expect("state: idle")
            terminal.press("q")
            assert terminal.finish() == 0
            packets = capture.wait_quiet()
    finally:
        listening.process.send_signal(signal.SIGINT)
        listening.wait()
    assert terminal.terminal_restored()
    counts = kinds(packets, LOOP_SERIAL)
    assert counts["alert"] == 31
    assert counts["end"] == 12
    recordings = listening.recordings()
    assert list(recordings) == [(LOOP_SERIAL, 26)]
    meta, audio = recordings[(LOOP_SERIAL, 26)]
    assert meta["end_reason"] == "end_packets"
    # the page's audio starts at the key press, so the first word is near its start
    assert_speech_whole(audio, clip, starts_within_s=0.6)


@pytest.mark.parametrize(
    ("how", "status"), [("q", 0), ("ctrl-c", 130), ("sigterm", 143), ("sighup", 129)]
)
def test_quitting_while_talking_ends_the_page_and_restores_the_terminal(
    tmp_path: Path, how: str, status: int
) -> None:
    sounddevice_or_skip()
    port = free_port()
    with UdpCapture(port) as capture:
        terminal = LoopTerminal(tmp_path, port)
        terminal.press(" ")
        terminal.expect("state: TALKING")
        time.sleep(0.3)
        if how == "q":
            terminal.press("q")
        elif how == "ctrl-c":
            terminal.press("\x03")  # the terminal's interrupt character: SIGINT to the job
        else:
            terminal.signal(signal.SIGTERM if how == "sigterm" else signal.SIGHUP)
        assert terminal.finish() == status
        packets = capture.wait_quiet()
    assert terminal.terminal_restored()
    counts = kinds(packets, LOOP_SERIAL)
    assert counts["alert"] == 31
    assert counts["transmit"] > 0
    assert counts["end"] == 12


@pytest.mark.exclusive  # plays to the virtual speaker: needs an idle CPU
def test_pages_play_while_idle_but_not_while_talking(tmp_path: Path) -> None:
    """A page from ``polyptt send`` plays on the speaker while the loop is idle; while it
    talks, neither another page nor its own is played (half duplex), yet --record keeps
    the other page (one clean run in three: the VM may starve the audio threads)."""
    sounddevice = sounddevice_or_skip()
    one_clean_run(lambda folder: _play_while_idle(sounddevice, folder), tmp_path)


def _play_while_idle(sounddevice: Any, tmp_path: Path) -> None:
    port = free_port()
    page_args = ["--frame-ms", "20", "--serial", "0x100", "--caller-id", "sender"]
    page_args += ["--start-count", "0"]
    capture = make_page_capture(
        tmp_path / "page.pcap", port=port, serial=0x100, caller_id="sender", frame_ms=20
    )
    _, reference, _ = expected_audio(d for _, d in capture)
    wav, _clip = speech_clip(tmp_path, 2.0)
    record = tmp_path / "loop-rec"
    terminal = LoopTerminal(tmp_path, port, "--record", str(record))
    try:
        with SpeakerMonitor(sounddevice) as idle_monitor:
            sender = send_process(port, *page_args, str(CHIME))
            assert succeeded(sender)
            terminal.expect(r"ch 26  'sender' +\d+\.\d\d s")  # in the recent pages
            time.sleep(0.5)
        terminal.press(" ")
        terminal.expect("state: ALERTING")
        with SpeakerMonitor(sounddevice) as talk_monitor:
            sender = send_process(port, *page_args, "-c", "27", str(CHIME))
            subprocess.run(["paplay", "-d", "micsink", str(wav)], check=True, timeout=30)
            assert succeeded(sender)
            terminal.press(" ")
            terminal.expect("state: idle")
        terminal.press("q")
        assert terminal.finish() == 0
    finally:
        terminal.close()
    heard = idle_monitor.audio
    _lag, corr = align(heard, reference.astype(np.float32) / 32768)
    assert corr > 0.99, f"correlation {corr:.3f}"
    level = float(np.sqrt(np.mean(reference.astype(np.float64) ** 2)) / 32768)
    silent = float(np.sqrt(np.mean(talk_monitor.audio.astype(np.float64) ** 2)))
    assert silent < 0.01 * level, "something played while the loop talked"
    channels = sorted(re.findall(r"_ch(\d\d)_", " ".join(p.name for p in record.glob("*.wav"))))
    assert channels == ["26", "27"]  # the page heard while talking is recorded


def test_talk_is_refused_while_another_sender_holds_the_channel(tmp_path: Path) -> None:
    sounddevice_or_skip()
    port = free_port()
    wav, _clip = speech_clip(tmp_path, 3.0)
    with UdpCapture(port) as capture:
        terminal = LoopTerminal(tmp_path, port)
        sender = send_process(port, "--serial", "0x100", "--caller-id", "holder", str(wav))
        terminal.expect("hearing 'holder' on ch 26")
        terminal.press(" ")
        terminal.expect("BUSY: 'holder' holds ch 26")
        terminal.expect("note: busy: 'holder' holds ch 26")
        assert succeeded(sender)
        terminal.expect("state: idle")
        terminal.expect("keys:")  # the whole drawing
        # the page is over: the channel is free, and the panel no longer says it is busy
        # (well within the 8 s a notice stays)
        idle_panel = terminal.panel()
        terminal.press("q")
        assert terminal.finish() == 0
        packets = capture.wait_quiet()
    assert "note:" not in idle_panel, idle_panel
    assert kinds(packets, LOOP_SERIAL) == Counter()  # nothing sent
    assert kinds(packets, 0x100)["end"] == 12


def test_a_page_from_this_host_is_shown_with_its_audio_duration(tmp_path: Path) -> None:
    """``polyptt send`` on this host, both under this host's serial (no --serial) and from
    the same address and port: the loop shows the page, and its recent-pages line gives
    the page's audio duration exactly as ``listen`` beside it measures it (not the time
    from its first alert to its end packets, 0.93 s more)."""
    sounddevice_or_skip()
    port = free_port()
    listening = start_listen(tmp_path / "rec", "--count", "1", "--timeout", "30", port=port)
    terminal = LoopTerminal(tmp_path, port, serial=None)
    try:
        sender = send_process(port, "--caller-id", "bell", str(CHIME))
        terminal.expect("hearing 'bell' on ch 26")
        assert succeeded(sender)
        assert listening.wait() == 0
        ((meta, _audio),) = listening.recordings().values()
        shown = terminal.expect(r"ch 26  'bell' +\d+\.\d\d s")
        terminal.press("q")
        assert terminal.finish() == 0
    finally:
        terminal.close()
    assert meta["caller_id"] == "bell"
    assert shown.endswith(f"'bell' {meta['duration_s']:6.2f} s")
    assert 1.6 < meta["duration_s"] < 1.8  # the chime's 1.7 s, in whole frames


def test_a_lower_serial_starting_at_the_same_moment_wins(tmp_path: Path) -> None:
    """Two senders start on the channel: the loop (serial 0x9000) backs off with its ends."""
    sounddevice_or_skip()
    port = free_port()
    with UdpCapture(port) as capture:
        terminal = LoopTerminal(tmp_path, port)
        terminal.press(" ")
        sender = send_process(port, "--serial", "0x10", "--caller-id", "boss", str(CHIME))
        terminal.expect("lost ch 26 to 'boss'")
        assert succeeded(sender)
        terminal.expect("state: idle")
        terminal.press("q")
        assert terminal.finish() == 0
        packets = capture.wait_quiet()
    ours, theirs = kinds(packets, LOOP_SERIAL), kinds(packets, 0x10)
    assert ours["end"] == 12
    assert theirs["alert"] == 31
    assert theirs["end"] == 12
    # we stopped at once: our last packet left before their page was half over
    last_ours = max(t for t, d in packets if parse_packet(d).serial == LOOP_SERIAL)
    their_times = [t for t, d in packets if parse_packet(d).serial == 0x10]
    assert last_ours < (their_times[0] + their_times[-1]) / 2


def test_hold_mode_talks_while_space_repeats(tmp_path: Path) -> None:
    """--hold: a held Space (one press, the keyboard's repeat delay, then repeats) talks;
    when the repeats stop the page ends with its ends."""
    sounddevice_or_skip()
    port = free_port()
    with UdpCapture(port) as capture:
        # every sample, so that the page lasts exactly as long as the key was held
        terminal = LoopTerminal(tmp_path, port, "--hold", "--keep-pauses")
        terminal.expect("hold Space to talk")
        terminal.press(" ")
        time.sleep(0.5)  # a typical repeat delay
        held_until = time.monotonic() + 2.0
        while time.monotonic() < held_until:
            terminal.press(" ")  # pexpect waits 50 ms before each send: a 20 Hz repeat
        terminal.expect("state: idle")
        terminal.press("q")
        assert terminal.finish() == 0
        packets = capture.wait_quiet()
    counts = kinds(packets, LOOP_SERIAL)
    assert counts["alert"] == 31
    assert counts["end"] == 12
    # 2.5 s held and up to 0.2 s to notice the release: 30 ms frames
    assert 2.4 / 0.03 <= counts["transmit"] <= 3.0 / 0.03


def test_vox_talks_while_the_microphone_is_loud(tmp_path: Path) -> None:
    """--vox: speech opens a page by itself (its onset kept by the pre-roll) and the
    page ends after the hang time; the listener beside records it (one clean run in
    three: the VM may starve the microphone's threads)."""
    sounddevice_or_skip()
    one_clean_run(_vox_talk, tmp_path)


def _vox_talk(tmp_path: Path) -> None:
    port = free_port()
    wav, clip = speech_clip(tmp_path, 3.0)
    listening = start_listen(tmp_path / "rec", port=port)
    try:
        with UdpCapture(port) as capture:
            terminal = LoopTerminal(tmp_path, port, "--vox", "-35")
            time.sleep(0.5)
            subprocess.run(["paplay", "-d", "micsink", str(wav)], check=True, timeout=30)
            terminal.expect("state: TALKING")
            terminal.expect("state: idle")
            terminal.press("q")
            assert terminal.finish() == 0
            packets = capture.wait_quiet()
    finally:
        listening.process.send_signal(signal.SIGINT)
        listening.wait()
    counts = kinds(packets, LOOP_SERIAL)
    assert counts["alert"] == 31
    assert counts["end"] == 12
    recordings = listening.recordings()
    assert list(recordings) == [(LOOP_SERIAL, 26)]
    _meta, audio = recordings[(LOOP_SERIAL, 26)]
    # the pre-roll: the page starts at most 0.3 s before the speech, which is all there
    assert_speech_whole(audio, clip, starts_within_s=0.3)


def test_a_higher_serial_starting_at_the_same_moment_does_not_stop_us(tmp_path: Path) -> None:
    """The other side of the rule: the loop (0x9000) keeps the channel from 0xF0000."""
    sounddevice_or_skip()
    port = free_port()
    with UdpCapture(port) as capture:
        # every sample: the page's length is the test's clock (the mic is silent)
        terminal = LoopTerminal(tmp_path, port, "--keep-pauses")
        terminal.press(" ")
        sender = send_process(port, "--serial", "0xF0000", "--caller-id", "late", str(CHIME))
        assert succeeded(sender)
        terminal.expect("state: TALKING")
        terminal.press(" ")
        terminal.expect("state: idle")
        terminal.press("q")
        assert terminal.finish() == 0
        packets = capture.wait_quiet()
    assert "lost ch" not in terminal.screen()
    ours = kinds(packets, LOOP_SERIAL)
    assert ours["alert"] == 31
    assert ours["end"] == 12
    # talked through the other page (2.7 s of chime, after its start-up) to the end
    assert ours["transmit"] >= 2.7 / 0.03
