"""The smoke scenario produced to a real broker reads back complete, keyed by customer id."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import orjson
import pytest

from streamer.sim import produce_to_kafka, simulate

pytestmark = pytest.mark.kafka


def test_smoke_round_trip(kafka_bootstrap: str, unique_name: Callable[[str], str]) -> None:
    from kafka import KafkaConsumer
    from kafka.admin import KafkaAdminClient, NewTopic

    topic = unique_name("sim-smoke")
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
        sim = simulate("smoke", seed=0)
        sent = produce_to_kafka(sim, kafka_bootstrap, topic, speedup=None, progress=False)
        assert sent == len(sim)

        consumer = KafkaConsumer(topic, bootstrap_servers=kafka_bootstrap,
                                 auto_offset_reset="earliest", enable_auto_commit=False,
                                 consumer_timeout_ms=10_000)
        received: Counter[str] = Counter()
        try:
            for msg in consumer:
                event = orjson.loads(msg.value)
                assert msg.key.decode("utf-8") == event["customer_id"]
                received[event["customer_id"]] += 1
                if sum(received.values()) >= sent:
                    break
        finally:
            consumer.close()
        expected = Counter(ev["customer_id"] for ev in sim.events())
        assert received == expected
    finally:
        try:
            admin.delete_topics([topic])
        finally:
            admin.close()
