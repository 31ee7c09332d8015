"""Third-party RTP peers and ``polyptt bridge``, for real (issue 22, items 1 and 2).

Senders: ffmpeg (PCMU and G.722, ``-re``: real time, its own large packets) and
GStreamer (``rtppcmupay``, ``rtpg722pay``; this GStreamer has no G.722 encoder, so
ffmpeg encodes the file and GStreamer paces and payloads it; its RTP timestamps then
stay constant, which the bridge, ordering by sequence number, takes). Each stream must become
exactly one Poly page, recorded by ``polyptt listen --record``, with 31 alerts and 12
ends on the wire and every voiced stretch of the speech in it (correlation > 0.9,
compared at the RTP codec's band: 8 kHz for PCMU, 16 kHz for G.722).

Receivers: a page sent by ``polyptt send`` reaches ffmpeg (reading an SDP file) and
GStreamer (``udpsrc ! rtpjitterbuffer ! rtppcmudepay ! mulawdec ! wavenc``) as PCMU, and
the WAV each writes holds every voiced stretch (> 0.9 at 8 kHz).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from tests.support.bridge import (
    RTP_GROUP,
    assert_voiced,
    band,
    poly_counts,
    speech,
    start_mapping,
)
from tests.support.listen import polyptt, start_listen
from tests.support.relay_audio import SPEECH
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.bridge.rtp import RtpPacket
from polyptt.protocol import DEFAULT_GROUP

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(
        not (shutil.which("ffmpeg") and shutil.which("gst-launch-1.0")),
        reason="ffmpeg and gst-launch-1.0 are needed",
    ),
]

RTP_SINK = "udpsink host={group} port={port} multicast-iface=lo ttl-mc=0 auto-multicast=true"


def _ports() -> tuple[int, int]:
    """A Poly port and an even RTP port (RTCP on the next)."""
    return free_port(), free_port() & ~1


def ffmpeg_sender(codec: str, port: int, folder: Path) -> list[str]:
    args = (
        ["-ar", "8000", "-acodec", "pcm_mulaw"]
        if codec == "pcmu"
        else ["-ar", "16000", "-acodec", "g722"]
    )
    url = f"rtp://{RTP_GROUP}:{port}?ttl=0&localaddr=127.0.0.1"
    return [
        "ffmpeg",
        "-loglevel",
        "error",
        "-re",
        "-i",
        str(SPEECH),
        "-ac",
        "1",
        *args,
        "-f",
        "rtp",
        url,
    ]


def gstreamer_sender(codec: str, port: int, folder: Path) -> list[str]:
    sink = RTP_SINK.format(group=RTP_GROUP, port=port).split()
    if codec == "pcmu":
        source = f"filesrc location={SPEECH} ! wavparse ! audioconvert ! audioresample"
        chain = f"{source} ! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay"
    else:
        coded = folder / "speech.g722"
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-i", str(SPEECH), "-ac", "1", "-ar", "16000",
             "-acodec", "g722", "-f", "g722", str(coded)],
            check=True,
        )  # fmt: skip
        chain = (
            f"filesrc location={coded} blocksize=160 ! "
            "identity datarate=8000 single-segment=true ! audio/G722,rate=16000,channels=1 ! "
            "rtpg722pay min-ptime=20000000 max-ptime=20000000"
        )
    return ["gst-launch-1.0", "-q", *chain.split(), "!", *sink]


@pytest.mark.parametrize("codec", ["pcmu", "g722"])
@pytest.mark.parametrize("sender", [ffmpeg_sender, gstreamer_sender], ids=["ffmpeg", "gstreamer"])
def test_a_third_party_stream_becomes_one_whole_poly_page(
    tmp_path: Path, sender, codec: str
) -> None:
    poly_port, rtp_port = _ports()
    record = tmp_path / "record"
    record.mkdir()
    listening = start_listen(record, "--count", "1", "--timeout", "30", port=poly_port)
    bridge = start_mapping(tmp_path, poly_port, rtp_port)
    with UdpCapture(poly_port) as wire:
        subprocess.run(sender(codec, rtp_port, tmp_path), check=True, timeout=60)
        assert listening.wait(timeout=30) == 0, listening.stderr
        datagrams = [data for _t, data in wire.wait_quiet(0.5)]
    assert bridge.stop() == 128 + signal.SIGTERM
    assert poly_counts(datagrams)["alerts"] == 31
    assert poly_counts(datagrams)["ends"] == 12
    (page,) = bridge.pages("rtp-to-poly")
    assert (page["rtp_codec"], page["reason"], page["alerts"], page["ends"]) == (
        codec,
        "idle",
        31,
        12,
    )
    assert page["lost"] == page["late"] == page["duplicates"] == 0
    recordings = listening.recordings()
    assert len(recordings) == 1
    ((meta, audio),) = recordings.values()
    assert (meta["channel"], meta["codec"], meta["end_reason"]) == (26, "g722", "end_packets")
    rate = 8000 if codec == "pcmu" else 16000
    assert_voiced(band(audio, 16000, rate), speech(rate), rate)


def _sdp(port: int) -> str:
    return (
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=polyptt bridge\r\n"
        f"c=IN IP4 {RTP_GROUP}/0\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n"
        "a=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n"
    )


def test_a_poly_page_reaches_ffmpeg_and_gstreamer_as_pcmu(tmp_path: Path) -> None:
    poly_port, rtp_port = _ports()
    bridge = start_mapping(tmp_path, poly_port, rtp_port, "--direction", "poly-to-rtp")
    sdp = tmp_path / "stream.sdp"
    sdp.write_text(_sdp(rtp_port))
    by_ffmpeg, by_gstreamer = tmp_path / "ffmpeg.wav", tmp_path / "gstreamer.wav"
    ffmpeg = subprocess.Popen(
        ["ffmpeg", "-loglevel", "error", "-protocol_whitelist", "file,udp,rtp", "-i", str(sdp),
         "-t", "12", "-y", str(by_ffmpeg)],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    caps = "application/x-rtp,media=audio,clock-rate=8000,encoding-name=PCMU,payload=0"
    pipeline = (
        f"udpsrc address={RTP_GROUP} port={rtp_port} multicast-iface=lo caps={caps} ! "
        f"rtpjitterbuffer ! rtppcmudepay ! mulawdec ! wavenc ! filesink location={by_gstreamer}"
    )
    gstreamer = subprocess.Popen(["gst-launch-1.0", "-q", "-e", *pipeline.split()])
    with UdpCapture(rtp_port, RTP_GROUP) as wire:
        time.sleep(1.0)  # both joined
        polyptt(
            "send", "--to", f"{DEFAULT_GROUP}:{poly_port}", "--channel", "26", "-q", str(SPEECH)
        )
        packets = [RtpPacket.parse(data) for _t, data in wire.wait_quiet(1.0)]
    time.sleep(0.5)
    gstreamer.send_signal(signal.SIGINT)  # -e: an end of stream, so the WAV is whole
    assert gstreamer.wait(timeout=20) == 0
    assert ffmpeg.wait(timeout=30) == 0  # ends at the BYE
    assert bridge.stop() == 128 + signal.SIGTERM
    (stream,) = bridge.pages("poly-to-rtp")
    assert {p.ssrc for p in packets} == {stream["ssrc"]}
    assert stream["packets"] == len(packets)
    assert stream["bye"]
    reference = speech(8000)
    for written in (by_ffmpeg, by_gstreamer):
        audio, rate = soundfile.read(written, dtype="int16")
        assert rate == 8000
        assert_voiced(np.asarray(audio), reference, 8000)
