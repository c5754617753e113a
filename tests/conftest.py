"""Shared fixtures. Only tests that request ``kafka_bootstrap`` get a broker; unit tests never do.

Broker lifecycle: with ``KAFKA_BOOTSTRAP_SERVERS`` set, the tests use that cluster and start
nothing. Otherwise ``kafka_bootstrap`` reuses the local broker if one is running (``make kafka``)
and starts it if not. It stops the broker at the end of the session only if this session started
it, so a broker you started yourself (or another session is using) is left alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from uuid import uuid4

import pytest


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a ready Kafka cluster (external or the project's local broker)."""
    from streamer.settings import Settings
    from streamer.shell import localkafka

    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if external:
        localkafka.wait_ready(external, 60, Settings.from_env().kafka_client_options())
        yield external
        return
    port = localkafka.default_port()
    started_here = localkafka.broker_pid() is None and not localkafka.is_ready(f"127.0.0.1:{port}")
    bootstrap = localkafka.up(port)
    yield bootstrap
    if started_here:
        localkafka.down()


@pytest.fixture
def unique_name() -> Callable[..., str]:
    """``unique_name("alerts")`` -> ``"alerts-1a2b3c4d"``: fresh topic / app-id names per test."""

    def make(prefix: str = "t") -> str:
        return f"{prefix}-{uuid4().hex[:8]}"

    return make
