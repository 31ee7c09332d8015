"""Shared fixtures: where the ITU test vectors are (readers are in tests/support/vectors.py).

Also what keeps a run outside the private network namespace quiet on the network, and
the end-of-run account of what was skipped and why.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support import workers
from tests.support.processes import LOOPBACK_ENV, only_loopback

#: The ITU-T G.191 conformance data, kept in the repository with its licence and README.
TESTVECTORS = Path(__file__).resolve().parent / "data" / "testvectors"


@pytest.fixture(scope="session")
def testvectors() -> Path:
    """The ITU-T G.191 conformance data: tests/data/testvectors, or $POLYPTT_TESTVECTORS.

    They are part of the repository, so missing vectors fail the tests that need them,
    never skip them.
    """
    folder = Path(os.environ.get("POLYPTT_TESTVECTORS") or TESTVECTORS)
    if not folder.is_dir():
        pytest.fail(f"the ITU test vectors are missing: {folder} is not a folder", pytrace=False)
    return folder


@pytest.fixture(autouse=True)
def _pin_to_loopback(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for name, value in LOOPBACK_ENV.items():
        monkeypatch.setenv(name, value)
    # a relay a test starts without --data keeps its database here, never in the
    # home folder of whoever runs the tests
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
    for name in ("POLYPTT_TO", "POLYPTT_CALLER_ID", "POLYPTT_SERIAL"):
        monkeypatch.delenv(name, raising=False)


def pytest_configure(config: pytest.Config) -> None:
    """An xdist worker gets a loopback and sound devices of its own; the controller
    makes the lock that lets ``exclusive`` tests run alone (tests/support/workers.py)."""
    name = workers.worker_name()
    if name is None:
        locks = workers.make_locks()
        config.add_cleanup(lambda: workers.remove_locks(locks))
        return
    workers.own_network()
    audio = workers.own_audio(name)
    if audio is not None:
        config.add_cleanup(lambda: workers.stop_audio(audio))


_turns = workers.Turns()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    """Under xdist, a test marked ``exclusive`` runs with no other test beside it."""
    exclusive = item.get_closest_marker("exclusive") is not None
    following = nextitem is not None and nextitem.get_closest_marker("exclusive") is not None
    with _turns.turn(exclusive=exclusive, next_exclusive=following):
        return (yield)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``exclusive`` first (see tests/support/workers.py); tests marked
    ``network`` send real packets: only inside the private namespace."""
    workers.first_exclusive(items)
    if only_loopback():
        return
    skip = pytest.mark.skip(
        reason="sends packets: run it in the private namespace: tools/isolated python -m pytest"
    )
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """After the run, what was skipped and why: one line per reason, with its count.

    ``-rs`` lists the skipped tests one by one.
    """
    reasons = Counter(_skip_reason(report) for report in terminalreporter.stats.get("skipped", []))
    if not reasons:
        return
    terminalreporter.section("skipped, and why")
    for reason, count in reasons.most_common():
        terminalreporter.line(f"{count:5d}  {reason}")


def _skip_reason(report: pytest.TestReport) -> str:
    # A skip's longrepr is (path, line, "Skipped: reason").
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return reason.removeprefix("Skipped: ")
