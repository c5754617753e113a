"""The project's Kafka broker is real: metadata, topic creation, produce/consume, idempotent up."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from streamer.settings import Settings
from streamer.shell import localkafka
from streamer.shell.topics import delete_topics, ensure_topics

pytestmark = pytest.mark.kafka


def test_broker_answers_a_metadata_request(kafka_bootstrap: str) -> None:
    with localkafka.admin_client(kafka_bootstrap) as admin:
        cluster = admin.describe_cluster()
    assert cluster["brokers"] and cluster["cluster_id"]
    assert localkafka.is_ready(kafka_bootstrap)


def test_ensure_topics_creates_the_requested_partitions(
    kafka_bootstrap: str, unique_name: Callable[..., str]
) -> None:
    names = {field: unique_name(field) for field in
             ("input_topic", "alerts_topic", "dlq_topic", "features_topic", "feedback_topic")}
    extra = unique_name("extra")
    settings = dataclasses.replace(
        Settings.from_env(), bootstrap_servers=kafka_bootstrap, partitions=3, **names
    )
    try:
        ensure_topics(settings, {extra: 2})
        ensure_topics(settings, {extra: 2})  # idempotent
        consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
        try:
            for name in names.values():
                assert consumer.partitions_for_topic(name) == {0, 1, 2}
            assert consumer.partitions_for_topic(extra) == {0, 1}
        finally:
            consumer.close()
    finally:
        delete_topics(kafka_bootstrap, [*names.values(), extra])


def test_produced_message_is_consumed_back(
    kafka_bootstrap: str, unique_name: Callable[..., str]
) -> None:
    topic = unique_name("roundtrip")
    settings = dataclasses.replace(Settings.from_env(), bootstrap_servers=kafka_bootstrap)
    ensure_topics(settings, {topic: 1})
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all",
                             max_request_size=3_000_000)
    consumer = KafkaConsumer(topic, bootstrap_servers=kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=20_000,
                             fetch_max_bytes=3_000_000, max_partition_fetch_bytes=3_000_000)
    try:
        producer.send(topic, key=b"customer-1", value=b"hello").get(timeout=20)
        big = b"x" * 1_500_000  # above the clients' 1 MB default, below the broker's 2 MiB
        producer.send(topic, value=big).get(timeout=20)
        with pytest.raises(KafkaError):  # above message.max.bytes: the broker refuses it
            producer.send(topic, value=b"y" * 2_500_000).get(timeout=20)
        received = [(m.key, m.value) for _, m in zip(range(2), consumer, strict=False)]
        assert received == [(b"customer-1", b"hello"), (None, big)]
    finally:
        producer.close()
        consumer.close()
        delete_topics(kafka_bootstrap, [topic])


@pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")),
                    reason="external cluster: the project manages no broker")
def test_up_twice_reuses_the_running_broker(kafka_bootstrap: str) -> None:
    port = int(kafka_bootstrap.rpartition(":")[2])
    pid = localkafka.broker_pid()
    started = time.monotonic()
    assert localkafka.up(port) == kafka_bootstrap
    assert localkafka.up(port) == kafka_bootstrap
    assert time.monotonic() - started < 10
    assert localkafka.broker_pid() == pid
    assert localkafka.status(port)
