"""A full disk stops recording, not paging: a real relay recording onto a 160 KiB tmpfs.

The relay process runs in a mount namespace of its own (``unshare -m``, possible as the
root of the test network namespace) with a tiny tmpfs mounted as its ``--record``
folder: no injected error, the kernel's own ENOSPC.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile
from tests.support.relay import RelayProcess, add_token, start_relay, write_config
from tests.support.relay_audio import CHIME, speech
from tests.support.udp_capture import UdpCapture, free_port

pytestmark = pytest.mark.network

_MOUNT = 'mount -t tmpfs -o size=160k tmpfs "$1" && shift && exec "$@"'


def _tiny_disk_or_skip(folder: Path) -> None:
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", _MOUNT, "sh", str(folder), "true"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (run under tools/isolated): {probe.stderr}")


def _start(config: Path, tiny: Path, data: Path, udp_port: int) -> RelayProcess:
    """The relay with `tiny` as its ``--record`` folder, a tmpfs in its own namespace."""
    return start_relay(
        config,
        udp_port=udp_port,
        serial=0x2000,
        args=["--record", str(tiny), "--data", str(data)],
        wrap=["unshare", "-m", "sh", "-c", _MOUNT, "sh", str(tiny)],
    )


def test_a_full_disk_stops_recording_with_one_error_and_paging_goes_on(tmp_path: Path) -> None:
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    _tiny_disk_or_skip(tiny)
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Desk", "listen,talk")
    long_page = tmp_path / "long.wav"
    soundfile.write(long_page, np.tile(speech(4.79), 2), 16000)  # 300 KiB recorded
    port = free_port()
    relay = _start(config, tiny, tmp_path / "data", port)
    answers = []
    with UdpCapture(port):
        try:
            for body in (CHIME, long_page, CHIME, CHIME):
                status, answer = relay.request(
                    "POST", "/api/v1/pages?channel=26&wait=1", token, body.read_bytes()
                )
                assert status == 200, answer
                answers.append(answer)
            _, listed = relay.request("GET", "/api/v1/pages", token)
            _, metrics = relay.request("GET", "/metrics", token)
        finally:
            assert relay.stop() == 128 + signal.SIGTERM
    assert [a["outcome"] for a in answers] == ["completed"] * 4
    pages = {page["id"]: page for page in listed["pages"]}
    first, long, *after = (pages[a["page"]] for a in answers)
    assert "wav" in first
    assert all("wav" not in page for page in (long, *after))
    assert all(page["end_reason"] == "completed" for page in pages.values())
    log = relay.stderr.read_text()
    stopped = [line for line in log.splitlines() if "recording stopped" in line]
    assert len(stopped) == 1, log
    assert stopped[0].endswith(
        "No space left on device; pages go on without recordings until the relay is restarted"
    )
    assert "polyptt_relay_recording 0\n" in metrics
    assert "polyptt_relay_recording_errors_total 1\n" in metrics
