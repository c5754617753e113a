"""The worker on a real SASL_PLAINTEXT + SCRAM-SHA-512 broker (``make kafka KAFKA_SASL=1``).

The broker is the project's SASL profile (its own port and data dir, beside the plain broker).
With the credentials from the settings the worker consumes and processes events; with a wrong
password it exits at once with one clear line and a non-zero code instead of retrying forever.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from streamer.settings import Settings
from streamer.shell import localkafka
from streamer.shell.supervise import WorkerProcess, topic_env
from streamer.shell.topics import ensure_topics
from tests.integration.conftest import attack_events

pytestmark = pytest.mark.kafka

VERSION = os.environ.get("STREAMER_TEST_SASL_KAFKA_VERSION", localkafka.KAFKA_VERSION)


@pytest.fixture(scope="module")
def sasl_broker() -> Iterator[dict[str, str]]:
    """Client settings (``KAFKA_BOOTSTRAP_SERVERS`` + ``STREAMER_SASL_*``) of the SASL broker."""
    profile = localkafka.Profile(VERSION, sasl=True)
    port = profile.default_port()
    started_here = localkafka.broker_pid(profile) is None
    localkafka.up(port, 150, profile)
    yield localkafka.client_env(profile, port)
    if started_here:
        localkafka.down(profile=profile)


def test_worker_processes_events_with_scram_credentials(
    sasl_broker: dict[str, str], tmp_path: Path
) -> None:
    bootstrap = sasl_broker["KAFKA_BOOTSTRAP_SERVERS"]
    assert not localkafka.is_ready(bootstrap, 3), "the SASL listener accepted a plain client"
    prefix = f"sasl-{uuid.uuid4().hex[:8]}"
    env = {**topic_env(prefix), **sasl_broker, "STREAMER_STORE": "memory://",
           "STREAMER_SASL_MECHANISM": "scram-sha-512"}  # any case is accepted
    settings = Settings.from_env(env)
    ensure_topics(settings)
    worker = WorkerProcess(bootstrap, env, tmp_path / "worker").start()
    try:
        worker.wait_consuming(150)
        producer = KafkaProducer(bootstrap_servers=bootstrap, **settings.kafka_client_options())
        cid = f"cus_sasl_{uuid.uuid4().hex[:6]}"
        for event in attack_events(cid, 30, int(time.time() * 1000) - 120_000):
            producer.send(settings.input_topic, key=cid.encode(), value=orjson.dumps(event))
        producer.flush(30)
        producer.close()
        deadline, seen = time.monotonic() + 60, 0
        while time.monotonic() < deadline and seen < 30:
            status, body = worker.get(f"/customers/{cid}")
            seen = int(body.get("events_processed", 0)) if status == 200 else 0
            time.sleep(0.3)
        assert seen == 30, worker.log_tail()
    finally:
        code = worker.stop()
    assert code == 0, worker.log_tail()


def test_a_wrong_password_fails_fast_with_one_clear_line(sasl_broker: dict[str, str]) -> None:
    prefix = f"sasl-bad-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, **topic_env(prefix), **sasl_broker, "STREAMER_STORE": "memory://",
           "STREAMER_SASL_PASSWORD": "not-the-password"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "streamer", "worker"], env=env,
                          capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "rejected the SCRAM-SHA-512 credentials of user 'streamer'" in lines[0]
    assert "STREAMER_SASL_PASSWORD" in lines[0] and "not-the-password" not in lines[0]
    assert elapsed < 30, f"took {elapsed:.1f} s"
