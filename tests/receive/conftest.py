"""Fixtures for the listener's tests: synthetic pages as real packet bytes."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from tests.support.synthetic import SyntheticPage, build_page


@pytest.fixture
def make_page() -> Callable[..., SyntheticPage]:
    """``make_page(n, frame_bytes, **build_page_options)`` with random frame contents."""

    def make(count: int, frame_bytes: int, *, seed: int = 1, **options: object) -> SyntheticPage:
        rng = random.Random(seed)
        frames = [rng.randbytes(frame_bytes) for _ in range(count)]
        return build_page(frames, **options)  # type: ignore[arg-type]

    return make
