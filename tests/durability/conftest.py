"""Fixtures of the fault tests: a fresh app id, topics and data dirs per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.durability.harness import Harness


@pytest.fixture
def harness(kafka_bootstrap: str, unique_name: Callable[..., str],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    h = Harness(kafka_bootstrap, unique_name("dur"), tmp_path_factory.mktemp("dur"))
    try:
        yield h
    finally:
        h.cleanup()


@pytest.fixture
def make_harness(kafka_bootstrap: str, unique_name: Callable[..., str],
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Harness]]:
    """Several harnesses in one test (e.g. a reference run next to the run under test)."""
    made: list[Harness] = []

    def make(**extra_env: str) -> Harness:
        h = Harness(kafka_bootstrap, unique_name("dur"), tmp_path_factory.mktemp("dur"),
                    extra_env=dict(extra_env))
        made.append(h)
        return h

    try:
        yield make
    finally:
        for h in made:
            h.cleanup()
