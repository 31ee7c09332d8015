"""Webhooks (relay/hooks/webhooks.py): signed deliveries off the paging path, checked
against a real aiohttp receiver on 127.0.0.1 that verifies every signature. Only the
tests that run a relay (it pages: UDP multicast) are marked ``network``; the signature,
retry and queue tests talk to the receiver over loopback TCP and run anywhere."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from tests.support.clocks import VirtualClock
from tests.support.relay import add_token, app_client, settings, write_config
from tests.support.udp_capture import UdpCapture, free_port
from tests.support.webhook_receiver import SECRET, receiver

from polyptt import protocol
from polyptt.relay.events import Event
from polyptt.relay.hooks.config import WebhookConfig
from polyptt.relay.hooks.signing import sign, verify
from polyptt.relay.hooks.webhooks import Delivery, Webhook, delivery_body
from polyptt.relay.hub import Metrics
from polyptt.relay.state import RELAY

ROOT = Path(__file__).resolve().parents[3]


class FakeTime:
    """A monotonic clock that only the webhook's sleeps move; the delays it slept."""

    def __init__(self) -> None:
        self.now = 0.0
        self.delays: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += seconds


def hook(url: str, **changes: Any) -> WebhookConfig:
    events = frozenset({"page_started", "page_ended", "recording_ready", "relay_started"})
    return WebhookConfig(url=url, secret=SECRET, events=events, **changes)


def delivery(number: int = 1) -> Delivery:
    body = delivery_body(Event("page_started", {"id": number, "channel": 26}), f"d{number}")
    return Delivery(f"d{number}", "page_started", body)


def tone_wav(folder: Path, seconds: float = 0.3) -> Path:
    rate = 8000
    samples = np.arange(int(rate * seconds))
    tone = (0.3 * np.sin(2 * np.pi * 440 * samples / rate) * 32767).astype(np.int16)
    wav = folder / "tone.wav"
    soundfile.write(wav, tone, rate, subtype="PCM_16")
    return wav


def webhook_config(folder: Path, url: str, extra: str = "") -> Path:
    return write_config(
        folder,
        'public_url = "https://paging.example.org"\n'
        f'[[webhook]]\nurl = "{url}"\nsecret = "{SECRET}"\n'
        'events = ["relay_started", "page_started", "page_ended", "recording_ready"]\n'
        f"{extra}\n",
    )


# ---------------------------------------------------------------- signatures


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"event":"page_started"}'
    expected = hmac.new(b"k" * 16, b"1765000000." + body, hashlib.sha256).hexdigest()
    assert sign("k" * 16, 1765000000, body) == f"sha256={expected}"
    good = sign("k" * 16, 1765000000, body)
    assert verify("k" * 16, "1765000000", good, body, now=1765000100)
    assert not verify("k" * 16, "1765000000", good, body + b" ", now=1765000100)
    assert not verify("x" * 16, "1765000000", good, body, now=1765000100)
    assert not verify("k" * 16, "1765000000", good, body, now=1765000301)  # a replay
    assert not verify("k" * 16, "soon", good, body, now=1765000100)


def test_the_example_verifier_accepts_a_delivery_and_refuses_a_forgery(tmp_path: Path) -> None:
    body = delivery(7).body
    stamp = int(time.time())
    (tmp_path / "body.json").write_bytes(body)
    script = ROOT / "examples" / "webhook" / "verify.py"

    def run(signature: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), "--timestamp", str(stamp), "--signature", signature],
            input=body.decode(),
            env={"POLYPTT_WEBHOOK_SECRET": SECRET},
            capture_output=True,
            text=True,
            check=False,
        )

    good = run(sign(SECRET, stamp, body))
    assert (good.returncode, good.stdout, good.stderr) == (0, "valid: page_started d7\n", "")
    bad = run(sign("another secret, long enough", stamp, body))
    assert (bad.returncode, bad.stdout) == (1, "")
    assert bad.stderr == "invalid: the signature does not match (wrong secret or altered body)\n"


# ---------------------------------------------------------------- retries


def test_a_receiver_failing_three_times_then_succeeding_gets_the_delivery() -> None:
    async def main() -> None:
        async with receiver(fail=3) as got:
            fake, metrics = FakeTime(), Metrics()
            one = Webhook(
                1, hook(got.url), metrics, clock=fake.clock, sleep=fake.sleep, jitter=lambda: 0.0
            )
            import aiohttp

            async with aiohttp.ClientSession() as session:
                assert await one.deliver(session, delivery(5))
            assert [d["delivery"] for d in got.deliveries] == ["d5"]
            assert got.forged == []  # all four attempts were signed
            assert {h["X-Polyptt-Delivery"] for _t, h in got.attempts} == {"d5"}
            assert len(got.attempts) == 4
            assert fake.delays == [0.5, 1.0, 2.0]  # exponential, jitter 0 halves
            assert (metrics.webhooks_delivered, metrics.webhooks_retried) == (1, 3)

    asyncio.run(main())


def test_a_4xx_is_not_retried() -> None:
    async def main() -> None:
        async with receiver(fail=1, status=410) as got:
            fake, metrics = FakeTime(), Metrics()
            one = Webhook(1, hook(got.url), metrics, clock=fake.clock, sleep=fake.sleep)
            import aiohttp

            async with aiohttp.ClientSession() as session:
                assert not await one.deliver(session, delivery())
            assert (len(got.attempts), fake.delays, metrics.webhooks_failed) == (1, [], 1)

    asyncio.run(main())


def test_errors_are_retried_with_jitter_for_ten_minutes_then_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No receiver at all (connection refused): retried with growing, jittered delays up
    to 10 minutes after the first attempt, then given up, logged without the URL."""
    url = f"http://127.0.0.1:{free_port()}/hook?token=sekrit"
    jitters = iter([0.0, 0.99] * 50)
    fake, metrics = FakeTime(), Metrics()
    one = Webhook(
        1, hook(url), metrics, clock=fake.clock, sleep=fake.sleep, jitter=lambda: next(jitters)
    )

    async def main() -> bool:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            return await one.deliver(session, delivery())

    with caplog.at_level(logging.DEBUG, logger="polyptt"):
        assert not asyncio.run(main())
    assert sum(fake.delays) <= 600
    assert fake.delays[:4] == [0.5, pytest.approx(1.99), 2.0, pytest.approx(7.96)]
    assert max(fake.delays) <= 120
    assert sum(fake.delays) + 60 > 600  # it stopped only when the next wait passed 10 min
    assert metrics.webhooks_failed == 1
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "webhook 1: page_started delivery d1 dropped after" in text
    assert "127.0.0.1" not in text
    assert "sekrit" not in text
    assert SECRET not in text


def test_an_attempt_without_an_answer_is_abandoned_after_timeout_s_then_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A receiver that holds the first attempt (it would answer in an hour): the attempt
    is given up after the webhook's timeout_s (0.4 s, on the test's clock), retried
    after the first backoff, and delivered."""

    async def main() -> float:
        async with receiver(hangs=1) as got:
            fake, metrics = FakeTime(), Metrics()
            one = Webhook(
                1,
                hook(got.url, timeout_s=0.4),
                metrics,
                clock=fake.clock,
                sleep=fake.sleep,
                jitter=lambda: 0.0,
            )
            import aiohttp

            async with aiohttp.ClientSession() as session:
                started = time.monotonic()
                assert await asyncio.wait_for(one.deliver(session, delivery(3)), 15)
                took = time.monotonic() - started
            assert [d["delivery"] for d in got.deliveries] == ["d3"]
            assert len(got.attempts) == 2
            assert got.attempts[1][0] - got.attempts[0][0] >= 0.4
            assert fake.delays == [0.5]
            assert (metrics.webhooks_delivered, metrics.webhooks_retried) == (1, 1)
            return took

    with caplog.at_level(logging.DEBUG, logger="polyptt"):
        took = asyncio.run(main())
    assert 0.4 <= took < 3.0, took  # the first attempt ended at its timeout, not later
    assert [r.getMessage() for r in caplog.records] == [
        "webhook 1: page_started d3: no answer within 0.4 s; again in 0.5 s"
    ]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed_and_is_a_failure(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A 3xx pointing elsewhere: the signed body is not posted there, and the delivery
    fails at once (not retried), logged without the URL or the Location."""

    async def main() -> None:
        async with receiver() as elsewhere:
            async with receiver(redirect=elsewhere.url + "?token=t0k3n", status=status) as got:
                fake, metrics = FakeTime(), Metrics()
                one = Webhook(1, hook(got.url), metrics, clock=fake.clock, sleep=fake.sleep)
                import aiohttp

                async with aiohttp.ClientSession() as session:
                    assert not await one.deliver(session, delivery(4))
                assert (len(got.attempts), fake.delays, metrics.webhooks_failed) == (1, [], 1)
            assert elsewhere.attempts == []

    with caplog.at_level(logging.DEBUG, logger="polyptt"):
        asyncio.run(main())
    assert [r.getMessage() for r in caplog.records] == [
        f"webhook 1: page_started delivery d4 dropped after 1 attempts "
        f"(HTTP {status} (a redirect: not followed): not retried)"
    ]


def test_a_full_queue_drops_the_oldest_with_a_count_and_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        metrics = Metrics()
        async with receiver() as got:
            one = Webhook(1, hook(got.url, queue=3), metrics)
            with caplog.at_level(logging.WARNING, logger="polyptt"):
                for number in range(1, 7):
                    one.offer(delivery(number))
            assert (one.pending(), metrics.webhooks_dropped) == (3, 3)
            import aiohttp

            async with aiohttp.ClientSession() as session:
                task = asyncio.create_task(one.run(session))
                deliveries = await got.wait_for(3)
                task.cancel()
        assert [d["delivery"] for d in deliveries] == ["d4", "d5", "d6"]
        lines = [r.getMessage() for r in caplog.records]
        assert lines == [
            "webhook 1: queue full (3): dropping the oldest deliveries (first: page_started d1)"
        ]

    asyncio.run(main())


# ---------------------------------------------------------------- through the relay


@pytest.mark.network
def test_every_event_of_a_page_arrives_once_in_order_with_its_record(tmp_path: Path) -> None:
    wav = tone_wav(tmp_path)
    port = free_port()

    async def main() -> None:
        async with receiver() as got:
            config = webhook_config(tmp_path / "relay", got.url, "channels = [27]")
            token = add_token(config, "Talker", "talk,listen")
            relay_settings = settings(config, port, clock=VirtualClock(), record=tmp_path / "rec")
            headers = {"Authorization": f"Bearer {token}"}
            async with app_client(relay_settings) as client:
                for channel in (28, 27):  # 28 is not the webhook's
                    answer = await client.post(
                        f"/api/v1/pages?channel={channel}&codec=g711u&wait=1",
                        data=wav.read_bytes(),
                        headers=headers,
                    )
                    assert answer.status == 200
                deliveries = await got.wait_for(4)
                listed = (await (await client.get("/api/v1/pages", headers=headers)).json())[
                    "pages"
                ]
                metrics = await (await client.get("/metrics", headers=headers)).text()
                await asyncio.sleep(0.3)  # nothing more comes
                assert len(got.deliveries) == 4
                assert client.server.app[RELAY].metrics.webhooks_delivered == 4
        assert got.forged == []
        names = [d["event"] for d in deliveries]
        assert names == ["relay_started", "page_started", "page_ended", "recording_ready"]
        assert len({d["delivery"] for d in deliveries}) == 4
        record = next(p for p in listed if p["channel"] == 27)
        started, ended, ready = (d["page"] for d in deliveries[1:])
        assert started["id"] == ended["id"] == ready["id"] == record["id"]
        assert ended == {k: v for k, v in record.items()}
        assert ready["recording_url"] == f"https://paging.example.org{record['wav']}"
        assert "polyptt_relay_webhooks_delivered_total 4" in metrics

    with UdpCapture(port):
        asyncio.run(main())


@pytest.mark.network
def test_a_hanging_receiver_never_delays_a_page(tmp_path: Path) -> None:
    """The first alert of the next page leaves as soon after its request as without any
    webhook (measured on a capture's kernel stamps), while the receiver holds every
    delivery; the queue overflows and says so in /metrics."""
    wav = tone_wav(tmp_path, 0.2)

    async def first_alert_delays(config: Path, port: int) -> tuple[list[float], str]:
        token = add_token(config, "Talker", "talk")
        headers = {"Authorization": f"Bearer {token}"}
        delays = []
        with UdpCapture(port) as capture:
            async with app_client(settings(config, port)) as client:
                for _ in range(4):
                    before = len(capture.packets)
                    asked = time.time()
                    answer = await client.post(
                        "/api/v1/pages?channel=26&codec=g711u&wait=1",
                        data=wav.read_bytes(),
                        headers=headers,
                    )
                    assert answer.status == 200
                    await asyncio.sleep(0.6)  # the page is heard back as ours no longer
                    first = capture.packets[before]
                    assert protocol.parse_packet(first[1]).OP == protocol.OpCode.ALERT
                    delays.append(first[0] - asked)
                metrics = await (await client.get("/metrics", headers=headers)).text()
        return delays, metrics

    async def main() -> None:
        plain, _ = await first_alert_delays(write_config(tmp_path / "plain"), free_port())
        async with receiver(hang=True) as got:
            config = webhook_config(tmp_path / "hooked", got.url, "queue = 2\ntimeout_s = 60")
            hooked, metrics = await first_alert_delays(config, free_port())
            assert got.attempts  # the receiver had them, and held them
            assert got.deliveries == []
        assert "polyptt_relay_webhooks_dropped_total 6" in metrics
        # the receiver holds each delivery for up to 60 s: had a page waited for one,
        # its first alert would have been that late
        assert max(hooked) < 1.0, (plain, hooked)
        assert float(np.median(hooked)) < float(np.median(plain)) + 0.05, (plain, hooked)

    asyncio.run(main())


@pytest.mark.network
def test_the_last_pages_events_are_delivered_as_the_relay_stops(tmp_path: Path) -> None:
    """A page ended by the relay's shutdown: its page_ended still reaches the receiver
    (the queues get a moment to empty before the tasks stop)."""
    wav = tone_wav(tmp_path, 3.0)
    port = free_port()

    async def main() -> list[dict[str, Any]]:
        async with receiver(delay=0.4) as got:  # a receiver that takes its time
            config = webhook_config(tmp_path / "relay", got.url)
            token = add_token(config, "Talker", "talk")
            async with app_client(settings(config, port)) as client:
                answer = await client.post(
                    "/api/v1/pages?channel=26&codec=g711u",
                    data=wav.read_bytes(),
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert answer.status == 202
                await got.wait_for(2)  # relay_started, page_started
            return list(got.deliveries)

    with UdpCapture(port):
        deliveries = asyncio.run(main())
    assert [d["event"] for d in deliveries] == ["relay_started", "page_started", "page_ended"]
    assert deliveries[2]["page"]["end_reason"] == "shutdown"


@pytest.mark.network
def test_the_relays_logs_never_name_a_webhooks_url_or_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A relay with two webhooks whose URLs carry tokens: one that holds its first
    attempt past timeout_s (abandoned, retried, delivered), one that redirects to
    another host (not followed, given up). Its log says all that, and never the URLs,
    their tokens, ports or Locations, nor the secret."""
    wav = tone_wav(tmp_path, 0.2)
    port = free_port()
    events = 'events = ["relay_started", "page_started", "page_ended"]\n'

    async def main() -> None:
        async with receiver() as elsewhere, receiver(hangs=1) as slow:
            moved = f"{elsewhere.url}?token=l0cation"
            async with receiver(redirect=moved, status=307) as moving:
                config = write_config(
                    tmp_path / "relay",
                    f'[[webhook]]\nurl = "{slow.url}?token=f1rst"\nsecret = "{SECRET}"\n'
                    f"{events}timeout_s = 0.3\n"
                    f'[[webhook]]\nurl = "{moving.url}?token=s3cond"\nsecret = "{SECRET}"\n'
                    f"{events}",
                )
                token = add_token(config, "Talker", "talk")
                async with app_client(settings(config, port)) as client:
                    answer = await client.post(
                        "/api/v1/pages?channel=26&codec=g711u&wait=1",
                        data=wav.read_bytes(),
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    assert answer.status == 200
                    deliveries = await slow.wait_for(3, timeout=15)
                    metrics = client.server.app[RELAY].metrics
                    deadline = time.monotonic() + 10
                    while metrics.webhooks_failed < 3 and time.monotonic() < deadline:
                        await asyncio.sleep(0.05)
                    assert (metrics.webhooks_failed, metrics.webhooks_retried) == (3, 1)
                assert [d["event"] for d in deliveries] == [
                    "relay_started",
                    "page_started",
                    "page_ended",
                ]
                assert len(moving.attempts) == 3
            assert elsewhere.attempts == []
            urls.extend([slow.url, moving.url, elsewhere.url])

    urls: list[str] = []
    with caplog.at_level(logging.DEBUG, logger="polyptt"), UdpCapture(port):
        asyncio.run(main())
    lines = [r.getMessage() for r in caplog.records]
    text = "\n".join(lines + [r.exc_text or "" for r in caplog.records])
    (retried,) = [x for x in lines if x.startswith("webhook 1: relay_started ")]
    assert ": no answer within 0.3 s; again in " in retried
    assert sum("(HTTP 307 (a redirect: not followed): not retried)" in x for x in lines) == 3
    for secret in ("f1rst", "s3cond", "l0cation", SECRET, "/hook"):
        assert secret not in text
    for url in urls:
        assert ":" + url.split("/hook")[0].rsplit(":", 1)[1] not in text  # nor the port
