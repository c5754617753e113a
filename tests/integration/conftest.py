"""Integration fixtures: one real worker per test module, on fresh topics of the real broker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from streamer.settings import Settings
from streamer.shell.supervise import WorkerProcess, topic_env
from streamer.shell.topics import ensure_topics


class Pipeline:
    """A running worker plus producer/consumer helpers on its topics."""

    def __init__(self, bootstrap: str, env: dict[str, str], worker: WorkerProcess) -> None:
        from kafka import KafkaProducer

        self.bootstrap = bootstrap
        self.env = env
        self.worker = worker
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=2,
                                      max_request_size=3_000_000)

    def topic(self, kind: str) -> str:
        return self.env[f"STREAMER_{kind.upper()}_TOPIC"]

    def send(self, value: bytes, key: bytes | None, topic: str | None = None) -> None:
        self.producer.send(topic or self.topic("input"), key=key, value=value)

    def send_event(self, event: dict[str, Any]) -> None:
        self.send(orjson.dumps(event), event["customer_id"].encode())

    def flush(self) -> None:
        self.producer.flush(30)

    def consume(self, kind: str, until: Callable[[list[Any]], bool],
                timeout_s: float = 60.0) -> list[Any]:
        """Read the topic from the start until ``until(records)`` holds or the timeout."""
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(self.topic(kind), bootstrap_servers=self.bootstrap,
                                 auto_offset_reset="earliest", enable_auto_commit=False,
                                 consumer_timeout_ms=500)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                records.extend(consumer)
                if until(records):
                    break
                self.worker.check_alive()
        finally:
            consumer.close()
        return records

    def customer(self, customer_id: str) -> dict[str, Any]:
        status, body = self.worker.get(f"/customers/{customer_id}")
        return body if status == 200 else {"events_processed": 0}

    def wait_processed(self, customer_id: str, count: int, timeout_s: float = 60) -> int:
        deadline = time.monotonic() + timeout_s
        seen = 0
        while time.monotonic() < deadline:
            seen = int(self.customer(customer_id).get("events_processed", 0))
            if seen >= count:
                return seen
            time.sleep(0.2)
        return seen


@pytest.fixture(scope="module")
def pipeline(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    prefix = f"it-{uuid.uuid4().hex[:8]}"
    env = {**topic_env(prefix), "STREAMER_STORE": "memory://"}
    ensure_topics(Settings.from_env({**env, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}))
    worker = WorkerProcess(kafka_bootstrap, env, tmp_path_factory.mktemp("worker")).start()
    try:
        worker.wait_consuming(120)
        pipe = Pipeline(kafka_bootstrap, env, worker)
        yield pipe
        pipe.producer.close()
    finally:
        code = worker.stop()
        assert code == 0, f"worker exited with {code}:\n{worker.log_tail()}"


def attack_events(
    customer_id: str, n: int, start_ms: int, *, prefix: str = ""
) -> list[dict[str, Any]]:
    """An obvious chain-of-thought extraction stream from a day-old account."""
    subjects = ["apples", "trains", "tanks", "coins", "marbles", "workers", "pages", "boxes"]
    return [
        {
            "event_id": f"{prefix}{customer_id}-{i}", "ts": start_ms + i * 2000,
            "customer_id": customer_id, "model": "atlas-2", "input_tokens": 120,
            "output_tokens": 1400 + i % 50, "max_tokens": 2000, "temperature": 0.7,
            "prompt": (f"Think step by step and explain your reasoning in detail. Question: "
                       f"{subjects[i % 8]} problem {i}: if {i} {subjects[(i * 3) % 8]} cost "
                       f"{i * 7} dollars and {subjects[(i * 5) % 8]} weigh {i % 13} kilos, "
                       f"{'how many' if i % 2 else 'what fraction'} remain after {i % 4} days?"),
            "account": {"created_at": start_ms - 3_600_000, "signup_channel": "free_trial"},
            "client": {"asn": "AS9009", "tls_fingerprint": "771,4865-4866,0-23"},
        }
        for i in range(n)
    ]


def ordinary_events(customer_id: str, n: int, start_ms: int) -> list[dict[str, Any]]:
    """A small chat customer: varied short questions, short answers, human timing."""
    asks = ["can you suggest a name for my bakery", "translate 'good morning' to french",
            "what's a good stretching routine", "summarise the plot of hamlet briefly",
            "how do I fix a squeaky door", "recommend a sci-fi book", "what is a roth ira",
            "why is the sky blue"]
    return [
        {"event_id": f"{customer_id}-{i}", "ts": start_ms + i * 37_000 + (i * i % 11) * 5000,
         "customer_id": customer_id, "model": "atlas-2", "input_tokens": 30 + i % 9,
         "output_tokens": 90 + (i * 17) % 120, "prompt": f"{asks[i % 8]} ({i})",
         "account": {"created_at": "2024-01-10T00:00:00Z", "signup_channel": "self_serve"}}
        for i in range(n)
    ]


@pytest.fixture
def customer_id() -> Callable[[str], str]:
    return lambda role: f"cus_{role}_{uuid.uuid4().hex[:6]}"
