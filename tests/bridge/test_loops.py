"""A page never crosses two bridges, so bridges never ping-pong (issue 22, item 4).

The rule (`polyptt.bridge.marks`): a bridge's Poly pages carry a serial, and its RTP
streams an SSRC, whose top 16 bits are 0xBD6E; no bridge carries a page so marked. Each
test puts one page in on one side and watches both sides' wires until they are quiet:
how many Poly pages (by serial) and how many RTP streams (by SSRC) there were.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from tests.support.bridge import (
    RTP_GROUP,
    BridgeProcess,
    RtpSender,
    rtp_stream,
    speech,
    start_bridge,
)
from tests.support.listen import polyptt
from tests.support.relay_audio import SPEECH
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.bridge.rtp import RtpPacket
from polyptt.protocol import DEFAULT_GROUP

pytestmark = pytest.mark.network

PHONE = 0x00012345  # the serial of the "phone" that pages


class Lan:
    """The Poly group and the RTP group of one test, both watched."""

    def __init__(self) -> None:
        self.poly_port, self.rtp_port = free_port(), free_port() & ~1
        self.poly = UdpCapture(self.poly_port)
        self.rtp = UdpCapture(self.rtp_port, RTP_GROUP)

    def bridge(self, tmp_path: Path, name: str, direction: str, serial: int) -> BridgeProcess:
        return start_bridge(
            tmp_path, "--rtp", f"{RTP_GROUP}:{self.rtp_port}", "--channel", "26",
            "--direction", direction, "--to", f"{DEFAULT_GROUP}:{self.poly_port}",
            "--serial", str(serial), name=name,
        )  # fmt: skip

    def page_from_a_phone(self) -> None:
        polyptt(
            "send", "--to", f"{DEFAULT_GROUP}:{self.poly_port}", "--channel", "26",
            "--serial", str(PHONE), "-q", "--duration", "2", str(SPEECH),
        )  # fmt: skip

    def stream_from_a_device(self, ssrc: int = 0x00C0FFEE) -> None:
        sender = RtpSender(self.rtp_port)
        sender.send([bytes(p) for p in rtp_stream(speech(8000)[:16000], ssrc=ssrc)])
        sender.close()

    def seen(self) -> tuple[dict[int, int], set[int]]:
        """Alerts per Poly serial, and the SSRCs heard, once both wires are quiet."""
        poly = self.poly.wait_quiet(2.0)
        rtp = self.rtp.wait_quiet(2.0)
        alerts: dict[int, int] = {}
        for _t, data in poly:
            if data[0] == 0x0F:
                serial = int.from_bytes(data[2:6], "big")
                alerts[serial] = alerts.get(serial, 0) + 1
        return alerts, {RtpPacket.parse(data).ssrc for _t, data in rtp}

    def __enter__(self) -> Lan:
        self.poly.__enter__()
        self.rtp.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.poly.__exit__(*exc_info)
        self.rtp.__exit__(*exc_info)


def marked(ssrcs: set[int]) -> set[int]:
    return {s for s in ssrcs if s >> 16 == 0xBD6E}


def test_both_ways_a_bridge_never_carries_its_own_page_back(tmp_path: Path) -> None:
    with Lan() as lan:
        bridge = lan.bridge(tmp_path, "a", "both", 0x11)
        lan.page_from_a_phone()
        alerts, ssrcs = lan.seen()
        assert alerts == {PHONE: 31}  # no page from the bridge: its stream not carried back
        assert len(ssrcs) == 1 == len(marked(ssrcs))  # the page, as one RTP stream
        lan.stream_from_a_device()
        alerts, ssrcs = lan.seen()
        assert alerts == {PHONE: 31, 0xBD6E0011: 31}  # the stream, as one Poly page
        assert ssrcs - marked(ssrcs) == {0x00C0FFEE}  # and no RTP stream of it back
        assert len(marked(ssrcs)) == 1
        assert bridge.stop() == 128 + signal.SIGTERM
    events = bridge.events
    assert [e["direction"] for e in events if e["event"] == "page_end"] == [
        "poly-to-rtp",
        "rtp-to-poly",
    ]
    (stopped,) = [e for e in events if e["event"] == "stopped"]
    assert stopped["rtp"][0]["looped"] > 0  # its own stream, heard back
    assert stopped["poly_own"] > 0  # its own page, heard back


def test_two_crossed_bridges_carry_a_page_once_each_way(tmp_path: Path) -> None:
    """A carries RTP to Poly, B Poly to RTP: a cycle, which without the marks would
    ping-pong forever (A's page -> B's stream -> A's page...)."""
    with Lan() as lan:
        a = lan.bridge(tmp_path, "a", "rtp-to-poly", 0xA)
        b = lan.bridge(tmp_path, "b", "poly-to-rtp", 0xB)
        lan.stream_from_a_device()
        alerts, ssrcs = lan.seen()
        assert alerts == {0xBD6E000A: 31}  # exactly one page out on the Poly side
        assert ssrcs == {0x00C0FFEE}  # and nothing back on the RTP side
        lan.page_from_a_phone()
        alerts, ssrcs = lan.seen()
        assert alerts == {0xBD6E000A: 31, PHONE: 31}  # nothing back on the Poly side
        assert len(marked(ssrcs)) == 1  # exactly one stream out on the RTP side
        for bridge in (a, b):
            assert bridge.stop() == 128 + signal.SIGTERM


def test_two_bridges_both_ways_on_one_mapping_never_ping_pong(tmp_path: Path) -> None:
    """Each carries the page once (the mapping is doubled), neither carries the other's."""
    with Lan() as lan:
        bridges = [
            lan.bridge(tmp_path, name, "both", serial) for name, serial in (("a", 0xA), ("b", 0xB))
        ]
        lan.stream_from_a_device()
        alerts, ssrcs = lan.seen()
        assert alerts == {0xBD6E000A: 31, 0xBD6E000B: 31}
        assert ssrcs == {0x00C0FFEE}
        for bridge in bridges:
            assert bridge.stop() == 128 + signal.SIGTERM
