"""What building a page's datagrams costs per packet, before and after the schedule.

Before the sender was rebuilt around `polyptt.send.Schedule`, every transmit packet was
a validated `TransmitPacket` object turned into bytes (about 6 us a packet). The
schedule builds the 22 unchanging bytes once per page and joins them with the sample
count and the audio. Both are timed here in the same run, alternating, median of
several runs, so the ratio holds however busy the machine is; so is the whole pacer
path (`PageRun.advance`, the report and a sink that drops the datagram), what a page
really costs per packet apart from waiting.

    PYTHONPATH=src python benchmarks/packets.py [--packets 20000] [--runs 7]

Sends nothing.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import time

import polyptt
from polyptt import protocol
from polyptt.send import PageParams, PageRun, Schedule

PARAMS = PageParams(26, 0x0A1B2C3D, "Front desk", protocol.CodecId.G722, 20)
FRAME = bytes(range(160))


def packet_objects(count: int) -> float:
    """Seconds for `count` transmit packets the old way: a validated object each."""
    previous, sample_count = b"", 0
    started = time.perf_counter()
    for _ in range(count):
        bytes(
            protocol.TransmitPacket.from_frames(
                channel=PARAMS.channel,
                serial=PARAMS.serial,
                caller_id=PARAMS.caller_id,
                codec=PARAMS.codec,
                sample_count=sample_count,
                frame=FRAME,
                redundant=previous,
            )
        )
        previous, sample_count = FRAME, protocol.advance(sample_count, 160)
    return time.perf_counter() - started


def schedule_take(count: int) -> float:
    """Seconds for `count` transmit packets from a schedule (prefix built once)."""
    schedule = Schedule(PARAMS, start_count=0)
    while not schedule.wants_frame:
        schedule.take()
    take = schedule.take
    started = time.perf_counter()
    for _ in range(count):
        take(FRAME)
    return time.perf_counter() - started


class _Drop:
    paced = False

    def send(self, datagram: bytes, offset: float) -> None:
        pass


def page_run(count: int) -> float:
    """Seconds for a whole unpaced page of `count` frames through the pacers' core."""
    frames = [FRAME] * count
    run = PageRun(Schedule(PARAMS, start_count=0), iter_source(frames), _Drop())
    started = time.perf_counter()
    run.advance(math.inf)
    return (time.perf_counter() - started) * count / (count + 43)  # per packet of the page


def iter_source(frames: list[bytes]):
    from polyptt.send import IterableFrames

    return IterableFrames(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"polyptt {polyptt.__version__}  python {platform.python_version()}  "
          f"{platform.platform()}  packets {args.packets}  runs {args.runs}")  # fmt: skip
    results: dict[str, list[float]] = {"objects": [], "schedule": [], "page": []}
    for _ in range(args.runs):
        results["objects"].append(packet_objects(args.packets) / args.packets)
        results["schedule"].append(schedule_take(args.packets) / args.packets)
        results["page"].append(page_run(args.packets) / args.packets)
    median = {name: statistics.median(times) * 1e6 for name, times in results.items()}
    print(f"validated TransmitPacket per packet (before): {median['objects']:.2f} us")
    print(f"Schedule.take per packet (now):               {median['schedule']:.2f} us "
          f"({median['objects'] / median['schedule']:.1f}x faster)")  # fmt: skip
    print(f"whole pacer path per packet (now, no wait):    {median['page']:.2f} us")


if __name__ == "__main__":
    main()
