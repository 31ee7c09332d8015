"""``polyptt send`` end to end: the real command, real sockets, real signals and timing.

Pages run as subprocesses (``python -m polyptt send``) inside the private network
namespace, received by a socket joined to the group on loopback; pure command-line
behaviour (help, JSON, warnings, captures) runs in-process with Click's runner.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr
from click.testing import CliRunner
from tests.support.pages import split_page
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.udp_capture import UdpCapture, WireSniffer, free_port

from polyptt import audio, codecs, protocol
from polyptt.cli import cli

network = pytest.mark.network
SERIAL = 0x0BADCAFE


# ------------------------------------------------------------------------------ helpers


def command(*args: str) -> list[str]:
    return polyptt_command("send", *args)


def run(*args: str, stdin: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(*args), input=stdin, capture_output=True, env=polyptt_env(), timeout=timeout
    )


def noise_file(path: Path, rate: int, seconds: float, *, seed: int = 7) -> np.ndarray:
    """Band-limited noise plus tones, mono int16 at `rate`: the file's exact samples."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(rate * seconds)) / rate
    signal_ = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * rng.standard_normal(len(t))
    samples = np.clip(np.rint(signal_ * 12000), -32768, 32767).astype(np.int16)
    soundfile.write(path, samples, rate, subtype="PCM_16")
    return samples


def expected_frames(codec: str, samples: np.ndarray, frame_ms: int) -> list[bytes]:
    info = codecs.info(codec)
    data = codecs.encode(codec, audio.arrange(samples, info.frame_samples(frame_ms)))
    size = info.frame_bytes(frame_ms)
    return [data[i : i + size] for i in range(0, len(data), size)]


def receive_page(port: int, *args: str, group: str | None = "224.0.1.116", stdin=None):
    """Run a page to completion; returns the process result and the page as received."""
    with UdpCapture(port, group=group) as capture:
        result = run(*args, stdin=stdin)
        packets = capture.wait_quiet()
    return result, packets


def intervals(times: list[float]) -> np.ndarray:
    return np.diff(np.array(times)) * 1000


def read_pcap(path: Path) -> list[tuple[int, bytes, bytes]]:
    """(timestamp ns, IPv4 header, UDP payload) of each record of a raw-IP pcap."""
    data = path.read_bytes()
    magic, *_rest, linktype = struct.unpack("<IHHiIII", data[:24])
    assert (magic, linktype) == (0xA1B23C4D, 101)
    records, offset = [], 24
    while offset < len(data):
        seconds, nanoseconds, length, _orig = struct.unpack("<IIII", data[offset : offset + 16])
        packet = data[offset + 16 : offset + 16 + length]
        records.append((seconds * 10**9 + nanoseconds, packet[:20], packet[28:]))
        offset += 16 + length
    return records


# -------------------------------------------------------------------- a page, end to end


@network
@pytest.mark.parametrize(
    ("codec", "frame_ms", "start"),
    [
        *[(codec, 20, 0x12345678) for codec in ("g722", "g711u")],  # g726qi: 30 ms only
        *[(codec, 30, 0xFFFFFC00) for codec in ("g722", "g711u", "g726qi")],
    ],
)
def test_page_end_to_end(tmp_path: Path, codec: str, frame_ms: int, start: int) -> None:
    info = codecs.info(codec)
    samples = noise_file(tmp_path / "exact.wav", info.sample_rate, 1.01)
    port = free_port()
    result, packets = receive_page(
        port,
        *("--codec", codec, "--frame-ms", str(frame_ms), "--channel", "page:3"),
        *("--to", f"224.0.1.116:{port}", "--serial", hex(SERIAL), "--caller-id", "Front desk"),
        *("--start-count", str(start), str(tmp_path / "exact.wav")),
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""  # not a terminal: nothing but errors
    page = split_page(packets, step=8 * frame_ms)

    assert len(page.alerts) == protocol.ALERT_COUNT
    assert len(page.ends) == protocol.END_COUNT
    frames = expected_frames(codec, samples, frame_ms)
    assert len(page.transmits) == len(frames) == -(-len(samples) // info.frame_samples(frame_ms))
    assert page.frames == frames  # the file's samples, encoded, sample for sample
    first = page.transmits[0][1]
    assert len(first.audio) == info.frame_bytes(frame_ms)  # the first carries one frame
    assert all(len(p.audio) == 2 * info.frame_bytes(frame_ms) for _t, p in page.transmits[1:])
    assert page.counts[0] == start
    assert page.counts[-1] == protocol.advance(start, 8 * frame_ms * (len(frames) - 1))
    for _when, packet in page.transmits:
        assert (packet.channel, packet.serial, packet.caller_id) == (28, SERIAL, "Front desk")
        assert (packet.codec, packet.flags) == (info.wire_id, 0)
    assert page.alerts[0][1] == protocol.AlertPacket(28, SERIAL, "Front desk")
    assert page.ends[0][1] == protocol.EndPacket(28, SERIAL, "Front desk")

    alert_gaps = intervals([t for t, _p in page.alerts])
    transmit_gaps = intervals([t for t, _p in page.transmits])
    end_gaps = intervals([t for t, _p in page.ends])
    assert 29.5 < alert_gaps.mean() < 30.5
    assert 29.5 < end_gaps.mean() < 30.5
    assert frame_ms - 0.5 < transmit_gaps.mean() < frame_ms + 0.5
    assert np.median(np.abs(transmit_gaps - frame_ms)) < 2.0
    assert 20 < (page.transmits[0][0] - page.alerts[-1][0]) * 1000 < 45  # one alert interval
    assert 40 < (page.ends[0][0] - page.transmits[-1][0]) * 1000 < 70  # the 50 ms pause


def speech_or_tones(rate: int, seconds: float) -> np.ndarray:
    """Float mono: espeak-ng speech at its native 22.05 kHz resampled, or tones without it."""
    t = np.arange(round(rate * seconds)) / rate
    tones = 0.2 * np.sin(2 * np.pi * 350 * t) + 0.1 * np.sin(2 * np.pi * 2300 * t)
    if shutil.which("espeak-ng") is None:
        return tones
    wav = Path(os.environ.get("TMPDIR", "/tmp")) / f"polyptt-speech-{os.getpid()}.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "Attention please. Fire drill."], check=True)
    speech, speech_rate = soundfile.read(wav)
    wav.unlink()
    speech = soxr.resample(speech, speech_rate, rate, quality="HQ")[: len(t)]
    return np.pad(speech, (0, len(t) - len(speech))) * 0.8


@network
def test_stereo_44k1_file_arrives_with_good_snr(tmp_path: Path) -> None:
    left = speech_or_tones(44100, 2.0)
    right = 0.1 * np.sin(2 * np.pi * 1000 * np.arange(len(left)) / 44100)
    path = tmp_path / "stereo.flac"
    soundfile.write(path, np.stack([left, right], axis=1), 44100, subtype="PCM_24")
    port = free_port()
    result, packets = receive_page(port, "--to", f"224.0.1.116:{port}", str(path))
    assert result.returncode == 0, result.stderr
    page = split_page(packets, step=240)

    decoded = codecs.decode("g722", page.audio).astype(np.float64)
    file_samples, _rate = soundfile.read(path)
    reference = soxr.resample(file_samples.mean(axis=1), 44100, 16000, quality="HQ") * 32768
    n = len(reference)
    # The codec delays the signal by a few samples: align on the best lag.
    lag = max(range(64), key=lambda k: float(np.dot(reference[: n - 64], decoded[k : k + n - 64])))
    error = reference[: n - 64] - decoded[lag : lag + n - 64]
    snr = 10 * np.log10(np.sum(reference[: n - 64] ** 2) / np.sum(error**2))
    assert snr > 20, f"SNR {snr:.1f} dB at lag {lag}"


@network
def test_unicast_to_one_phone(tmp_path: Path) -> None:
    samples = noise_file(tmp_path / "a.wav", 8000, 0.3)
    port = free_port()
    result, packets = receive_page(
        port, "--to", f"127.0.0.1:{port}", "--codec", "g711u", str(tmp_path / "a.wav"), group=None
    )
    assert result.returncode == 0, result.stderr
    page = split_page(packets)
    assert page.frames == expected_frames("g711u", samples, 30)
    assert (len(page.alerts), len(page.ends)) == (31, 12)


# ----------------------------------------------------------------------------- bad input


@network
@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["missing.wav"], 2, "missing.wav: no such file"),
        (["text.wav"], 2, "not an audio file libsndfile can read"),
        (["empty.wav"], 2, "empty.wav: contains no audio"),
        (["onehz.wav"], 2, "onehz.wav: sample rate 1 Hz; files must be 4000-192000 Hz"),
        (["hour.flac"], 2, "hour.flac: the audio lasts 3600.0 s; limit: 600 s"),
        (["-c", "0", "good.wav"], 2, "invalid channel '0'"),
        (["-c", "51", "good.wav"], 2, "invalid channel '51'"),
        (["-c", "page:26", "good.wav"], 2, "paging groups are 1-25"),
        (["--codec", "g729", "good.wav"], 2, "'g729' is not one of"),
        (["--to", "224.0.1.116:70000", "good.wav"], 2, "port 70000 is not in 1-65535"),
        (["--to", "224.0.1.116:x", "good.wav"], 2, "port 'x' is not a number"),
        (["--to", "not a host", "good.wav"], 2, "is not an IPv4 address or host name"),
        (["--iface", "nosuch0", "good.wav"], 2, "no network interface named 'nosuch0'"),
        (["--iface", "192.0.2.9", "good.wav"], 2, "192.0.2.9 is not an address of this host"),
        (["--frame-ms", "25", "good.wav"], 2, "25 is not a multiple of 10"),
        (["--serial", "0x100000000", "good.wav"], 2, "must be below 2**32"),
        (["--to", "192.0.2.1", "--iface", "127.0.0.1", "good.wav"], 1, "Network is unreachable"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_input_sends_nothing(tmp_path: Path, args: list[str], status: int, message: str):
    noise_file(tmp_path / "good.wav", 16000, 0.2)
    (tmp_path / "text.wav").write_text("RIFF? no, just text\n")
    soundfile.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.int16), 16000)
    soundfile.write(tmp_path / "onehz.wav", np.zeros(2400, dtype=np.int16), 1)  # 40 minutes
    if "hour.flac" in args:  # a few hundred kilobytes, decoded whole: 230 MB at 16 kHz
        soundfile.write(tmp_path / "hour.flac", np.zeros(3600 * 8000, dtype=np.int16), 8000)
    args = [str(tmp_path / a) if a.endswith((".wav", ".flac")) else a for a in args]
    with WireSniffer() as sniffer:
        result = run(*args)
        time.sleep(0.5)
    stderr = result.stderr.decode()
    assert result.returncode == status, stderr
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "Traceback" not in stderr
    assert result.stdout == b""
    assert sniffer.datagrams == []


# ------------------------------------------------------------------------------- signals


@network
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
@pytest.mark.parametrize("when", ["alerts", "audio"])
def test_signal_ends_the_page(tmp_path: Path, signum: int, when: str) -> None:
    noise_file(tmp_path / "long.wav", 16000, 10.0)
    port = free_port()
    with UdpCapture(port) as capture:
        with subprocess.Popen(
            command("--to", f"224.0.1.116:{port}", str(tmp_path / "long.wav")),
            env=polyptt_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as process:
            try:
                assert capture.wait_for(1, timeout=10), "no first alert"
                time.sleep(0.3 if when == "alerts" else 1.5)
                signalled = time.time()
                process.send_signal(signum)
                _out, err = process.communicate(timeout=5)
            finally:
                process.kill()
        packets = capture.wait_quiet()
    assert process.returncode == 128 + signum, err
    assert b"Traceback" not in err
    page = split_page(packets)
    assert len(page.alerts) == (protocol.ALERT_COUNT if when == "audio" else len(page.alerts))
    assert (len(page.transmits) == 0) == (when == "alerts")
    assert len(page.ends) == protocol.END_COUNT
    assert page.ends[-1][0] - signalled < 0.5
    assert page.ends[0][0] > signalled


# ---------------------------------------------------------------------- captures and CLI


def invoke(*args: str, stdin: bytes | None = None):
    runner = CliRunner()
    return runner.invoke(cli, ["send", *args], input=stdin, catch_exceptions=False)


def test_pcap_has_the_page_on_its_schedule(tmp_path: Path) -> None:
    samples = noise_file(tmp_path / "a.wav", 16000, 0.5)
    capture = tmp_path / "page.pcap"
    started = time.time_ns()
    result = invoke(
        "--pcap", str(capture), "--to", "224.0.1.116:5001", "--frame-ms", "20",
        "--start-count", "0", "--json", str(tmp_path / "a.wav"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert time.time_ns() - started < 5e8  # written, not waited for: a 1.9 s page

    records = read_pcap(capture)
    frames = expected_frames("g722", samples, 20)
    assert len(records) == 31 + len(frames) + 12 == summary["packets"]
    page = split_page([(ts / 1e9, payload) for ts, _ip, payload in records], step=160)
    assert page.frames == frames
    offsets = [(ts - records[0][0]) / 1e9 for ts, _ip, _p in records]
    schedule = [i * 0.030 for i in range(31)] + [0.93 + i * 0.020 for i in range(len(frames))]
    schedule += [schedule[-1] + 0.050 + i * 0.030 for i in range(12)]
    assert offsets == pytest.approx(schedule, abs=1e-6)
    ip = records[0][1]
    assert ip[8] == 0  # TTL from POLYPTT_TTL
    assert ip[12:16] == bytes([127, 0, 0, 1])  # source from POLYPTT_IFACE
    assert ip[16:20] == bytes([224, 0, 1, 116])


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_reads_the_pcap(tmp_path: Path) -> None:
    noise_file(tmp_path / "a.wav", 8000, 0.3)
    capture = tmp_path / "page.pcap"
    assert (
        invoke("--pcap", str(capture), "--codec", "g726qi", str(tmp_path / "a.wav")).exit_code == 0
    )
    fields = subprocess.run(
        ["tshark", "-r", str(capture), "-T", "fields", "-e", "frame.time_relative",
         "-e", "udp.dstport", "-e", "data.len"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    rows = [line.split("\t") for line in fields]
    assert len(rows) == 31 + 10 + 12
    assert {row[1] for row in rows} == {"5001"}
    assert [row[2] for row in rows[31:34]] == ["116", "206", "206"]  # 26 + 90, 26 + 180
    assert float(rows[31][0]) == pytest.approx(0.93, abs=1e-6)
    assert float(rows[-1][0]) == pytest.approx(0.93 + 9 * 0.03 + 0.05 + 11 * 0.03, abs=1e-6)


def test_repeat_gap_and_stdin(tmp_path: Path) -> None:
    samples = noise_file(tmp_path / "a.wav", 8000, 0.25)
    capture = tmp_path / "page.pcap"
    stdin = (tmp_path / "a.wav").read_bytes()
    result = invoke(
        "--pcap", str(capture), "--codec", "g711u", "--repeat", "3", "--gap", "0.5", "-",
        stdin=stdin,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    page = split_page([(ts / 1e9, p) for ts, _ip, p in read_pcap(capture)])
    gap = np.zeros(4000, dtype=np.int16)
    signal_ = np.concatenate([samples, gap, samples, gap, samples])
    assert len(page.frames) == -(-len(signal_) // 240) == 59
    assert page.frames == expected_frames("g711u", signal_, 30)


def test_gain_and_clipping_warning(tmp_path: Path) -> None:
    noise_file(tmp_path / "a.wav", 16000, 0.5)
    loud = invoke(
        "--pcap", str(tmp_path / "x.pcap"), "--gain", "20", "--json", str(tmp_path / "a.wav")
    )
    assert loud.exit_code == 0
    assert json.loads(loud.stdout)["clipped_samples"] > 0
    assert "samples clipped at full scale; lower --gain" in loud.stderr
    levels = {}
    for gain in ("0", "-12"):
        capture = tmp_path / f"{gain}.pcap"
        assert (
            invoke("--pcap", str(capture), "--gain", gain, str(tmp_path / "a.wav")).exit_code == 0
        )
        page = split_page([(ts / 1e9, p) for ts, _ip, p in read_pcap(capture)])
        decoded = codecs.decode("g722", page.audio).astype(np.float64)
        levels[gain] = np.sqrt(np.mean(decoded[400:-400] ** 2))
    assert 20 * np.log10(levels["-12"] / levels["0"]) == pytest.approx(-12, abs=0.5)


def test_json_summary(tmp_path: Path) -> None:
    noise_file(tmp_path / "a.wav", 16000, 0.6)
    result = invoke(
        "--pcap", str(tmp_path / "p.pcap"), "--json", "-c", "50", "--serial", "42",
        "--caller-id", "Ops", "--start-count", "4294967295",
        str(tmp_path / "a.wav"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary == summary | {
        "channel": 50, "channel_name": "page:25", "codec": "g722", "frame_ms": 30,
        "frames": 20, "frame_bytes": 240, "audio_s": 0.6, "caller_id": "Ops",
        "serial": "0x0000002A", "destination": "224.0.1.116:5001", "ttl": 0,
        "packets": 63, "alerts": 31, "transmits": 20, "ends": 12,
        "start_count": 4294967295, "last_count": 4294967295 + 19 * 240 - 2**32,
        "interrupted": None, "exit_status": 0, "clipped_samples": 0,
    }  # fmt: skip
    assert summary["page_s"] == pytest.approx(0.93 + 19 * 0.03 + 0.05 + 11 * 0.03)


def test_long_caller_id_is_cut_with_a_warning(tmp_path: Path) -> None:
    noise_file(tmp_path / "a.wav", 16000, 0.1)
    capture = tmp_path / "p.pcap"
    result = invoke(
        "--pcap", str(capture), "--caller-id", "Réception Étage 2", str(tmp_path / "a.wav")
    )
    assert result.exit_code == 0
    assert result.stderr == (
        "Warning: caller id 'Réception Étage 2' is longer than 13 bytes; "
        "phones will show 'Réception É'\n"
    )
    page = split_page([(ts / 1e9, p) for ts, _ip, p in read_pcap(capture)])
    assert page.alerts[0][1].caller_id == "Réception É"
    quiet = invoke("-q", "--pcap", str(capture), "--caller-id", "x" * 20, str(tmp_path / "a.wav"))
    assert quiet.stderr == ""


def test_caller_id_with_nul_is_refused(tmp_path: Path) -> None:
    noise_file(tmp_path / "a.wav", 16000, 0.1)
    result = CliRunner().invoke(
        cli,
        [
            "send",
            "--pcap",
            str(tmp_path / "p.pcap"),
            "--caller-id",
            "a\0b",
            str(tmp_path / "a.wav"),
        ],
    )
    assert result.exit_code == 2
    assert "Invalid value for '--caller-id'" in result.stderr
    assert "contains a NUL" in result.stderr


def test_environment_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    noise_file(tmp_path / "a.wav", 8000, 0.1)
    monkeypatch.setenv("POLYPTT_CALLER_ID", "From env")
    monkeypatch.setenv("POLYPTT_SERIAL", "0x10")
    monkeypatch.setenv("POLYPTT_TO", "239.1.1.1:6000")
    monkeypatch.setenv("POLYPTT_SEND_CHANNEL", "ptt:24")
    monkeypatch.setenv("POLYPTT_SEND_CODEC", "g711u")
    monkeypatch.setenv("POLYPTT_SEND_FRAME_MS", "20")
    result = invoke("--pcap", str(tmp_path / "p.pcap"), "--json", str(tmp_path / "a.wav"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["caller_id"], summary["serial"], summary["destination"]) == (
        "From env", "0x00000010", "239.1.1.1:6000",
    )  # fmt: skip
    assert (summary["channel"], summary["codec"], summary["frame_ms"]) == (24, "g711u", 20)


def test_help_names_the_environment_variables() -> None:
    result = CliRunner().invoke(cli, ["send", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for name in ("POLYPTT_TO", "POLYPTT_IFACE", "POLYPTT_CALLER_ID", "POLYPTT_SERIAL",
                 "POLYPTT_TTL", "POLYPTT_SEND_CHANNEL", "POLYPTT_SEND_CODEC",
                 "POLYPTT_SEND_GAIN", "POLYPTT_SEND_PCAP", "POLYPTT_SEND_JSON"):  # fmt: skip
        assert name in result.output
    assert "--start-count" not in result.output  # for tests only


def test_usage_errors_are_one_line() -> None:
    result = CliRunner().invoke(cli, ["send", "--channel", "0", "x.wav"], prog_name="polyptt")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: Invalid value for '-c' / '--channel': invalid channel '0': channels are 1-50 "
        "(1-25 push-to-talk, 26-50 paging groups 1-25) (see 'polyptt send --help')\n"
    )
    missing = CliRunner().invoke(cli, ["send"], prog_name="polyptt")
    assert missing.exit_code == 2
    assert missing.stderr == (
        "Error: Missing argument 'FILE' (an audio file, - for standard input) or --mic. "
        "(see 'polyptt send --help')\n"
    )


def test_default_caller_id_is_the_short_host_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    noise_file(tmp_path / "a.wav", 16000, 0.1)
    monkeypatch.setattr(socket, "gethostname", lambda: "paging-server-01.school.example")
    result = invoke("--pcap", str(tmp_path / "p.pcap"), "--json", str(tmp_path / "a.wav"))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["caller_id"] == "paging-server"  # 13 bytes, no warning
    assert result.stderr == ""


# ------------------------------------------------------------------------ terminal output


def _run_with_terminal_stderr(args: list[str]) -> tuple[int, str]:
    """Run polyptt with stderr on a pseudo-terminal, as at an interactive shell."""
    import pty

    master, slave = pty.openpty()
    try:
        with subprocess.Popen(
            command(*args), env=polyptt_env(), stdout=subprocess.DEVNULL, stderr=slave
        ) as process:
            os.close(slave)
            chunks = []
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            returncode = process.wait(timeout=30)
    finally:
        os.close(master)
    return returncode, b"".join(chunks).decode()


@network
def test_terminal_shows_one_live_status_line(tmp_path: Path) -> None:
    noise_file(tmp_path / "one.wav", 16000, 1.0)
    port = free_port()
    with UdpCapture(port):
        returncode, shown = _run_with_terminal_stderr(
            ["--to", f"224.0.1.116:{port}", str(tmp_path / "one.wav")]
        )
    assert returncode == 0, shown
    redraws = shown.split("\r\x1b[2K")
    assert len(redraws) >= 5  # redrawn in place as the page goes, not one line each
    assert "\n" not in shown.rstrip("\r\n")
    # the whole page on the wire: 0.93 s of alerts, 1 s of audio, the pause and the ends
    assert "paging   2.3 / 2.3 s  channel page:1 (26), g722" in shown
    assert shown.endswith("\r\x1b[2K")  # erased at the end: the terminal is left clean


@network
def test_without_a_terminal_a_good_page_prints_nothing(tmp_path: Path) -> None:
    noise_file(tmp_path / "one.wav", 16000, 0.5)
    port = free_port()
    with UdpCapture(port):
        done = run("--to", f"224.0.1.116:{port}", str(tmp_path / "one.wav"))
    assert done.returncode == 0
    assert done.stdout == done.stderr == b""
