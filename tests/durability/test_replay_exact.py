"""A busy customer's count stays exact through kill -9 and a full replay (issue 11, item 3).

The old worker treated a record at or below a customer's last offset whose event id had left
the 512-id ring as "out of order" and processed it again: 600 replayed events gave
``events_total`` 1,200. Campaigns are exactly the high-rate customers this hits. Here one
customer sends 6,000 events; the worker is killed with -9 mid-stream and, once caught up,
the consumer group is rewound to the start of the input so that *every* event is replayed.
"""

from __future__ import annotations

import time

import orjson
import pytest

from tests.durability.gen import START_MS
from tests.durability.harness import Harness, log, poll

pytestmark = [pytest.mark.kafka, pytest.mark.durability]

BUSY = "cus_busy0001"
N_BUSY = 6_000
N_OTHER = 400


def _records() -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(N_BUSY + N_OTHER):
        cid = BUSY if i % 16 else f"cus_other{i % 40:03d}"
        out.append((cid.encode(), orjson.dumps({
            "event_id": f"{cid}-{i}", "ts": START_MS + i * 50, "customer_id": cid,
            "model": "atlas-2", "input_tokens": 10 + i % 50, "output_tokens": 20 + i % 300,
            "prompt": f"summarise ticket {i} for the support queue"})))
    return out


def _rewind_group(h: Harness) -> None:
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    consumer = KafkaConsumer(bootstrap_servers=h.bootstrap, group_id=h.app_id,
                             enable_auto_commit=False)
    try:
        parts = consumer.partitions_for_topic(h.input_topic) or set()
        tps = [TopicPartition(h.input_topic, p) for p in parts]
        consumer.assign(tps)
        consumer.commit({tp: OffsetAndMetadata(0, "", -1) for tp in tps})
    finally:
        consumer.close()


def test_busy_customer_counts_stay_exact_through_kill_9_and_a_full_replay(
        harness: Harness) -> None:
    h = harness
    records = _records()
    expected = sum(1 for k, _ in records if k == BUSY.encode())
    w = h.worker("w", env={"STREAMER_GROUP_INSTANCE_ID": f"{h.app_id}-w"}).start()
    w.wait_consuming(120)
    producing = h.produce_in_background(records, rate=1_500)
    poll("half the busy customer's events", lambda: (w.stats() or {}).get(
        "events_processed", 0) >= N_BUSY // 2, 120, every_s=0.1, alive=w.check_alive)
    w.kill()
    log("killed -9 mid-stream")
    w.start()
    w.wait_consuming(120)
    producing.join()
    h.wait_caught_up(180, [w])
    assert h.final_states()[BUSY].events_total == expected

    code = w.stop()
    assert code == 0, w.log_tail()
    _rewind_group(h)
    log("consumer group rewound to offset 0: every event is replayed")
    t0 = time.monotonic()
    w.start()
    w.wait_consuming(120)
    h.wait_caught_up(180, [w])
    log(f"replayed {len(records)} records in {time.monotonic() - t0:.1f}s")
    status, body = w.get(f"/customers/{BUSY}")
    assert status == 200 and body["events_processed"] == expected, body
    assert h.final_states()[BUSY].events_total == expected
    w.stop()
