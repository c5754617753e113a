"""A data dir whose changelog was deleted and created again does not crash-loop the worker
(issue 11, item 15).

The old worker met Faust's ``ConsistencyError`` (persisted offset above the changelog's
high-water mark) on every start. Now the stale table partitions are moved aside with one
clear log line, rebuilt from the changelog, and the worker runs.
"""

from __future__ import annotations

import orjson
import pytest

from tests.durability.gen import small_stream
from tests.durability.harness import Harness, log, poll

pytestmark = [pytest.mark.kafka, pytest.mark.durability]


def _recreate(h: Harness, topic: str) -> None:
    from kafka import KafkaProducer
    from kafka.admin import NewTopic

    from streamer.shell.localkafka import admin_client

    with admin_client(h.bootstrap, 30) as admin:
        admin.delete_topics([topic])
    for _ in range(60):
        try:
            with admin_client(h.bootstrap, 30) as admin:
                admin.create_topics([NewTopic(topic, 4, 1)])
            break
        except Exception:
            import time

            time.sleep(0.5)
    producer = KafkaProducer(bootstrap_servers=h.bootstrap)
    for p in range(4):  # a few foreign records: a high-water mark above 0 but below ours
        producer.send(topic, key=b"cus_foreign", value=b"not a state", partition=p)
    producer.flush(10)
    producer.close()


def test_a_recreated_changelog_is_rebuilt_not_crash_looped(harness: Harness) -> None:
    h = harness
    stream = small_stream(2_000, 20, tag="dd")
    w = h.worker("w").start()
    w.wait_consuming(120)
    h.produce(stream.records)
    h.wait_caught_up(120, [w])
    assert w.stop() == 0
    _recreate(h, h.changelog_topic)
    log("changelog deleted and created again with foreign records")

    w.start()
    w.wait_consuming(120)
    more = small_stream(200, 5, tag="dd2")
    h.produce(more.records)
    poll("new events processed", lambda: (w.stats() or {}).get("events_processed", 0) >= 200,
         120, alive=w.check_alive)
    status, body = w.get("/health")
    assert status == 200, body
    text = w.log_path.read_text(errors="replace")
    assert "moved" in text and "rebuilds it from the changelog" in text, w.log_tail()
    assert "ConsistencyError" not in text
    cid = more.customers[0]
    status, body = w.get(f"/customers/{cid}")
    assert status == 200 and body["events_processed"] == more.expected[cid]
    assert w.stop() == 0
    assert orjson  # (records are produced raw above)
