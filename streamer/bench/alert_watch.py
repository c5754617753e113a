"""The bench's alert consumer, in a process of its own: ``python -m streamer.bench.alert_watch
BOOTSTRAP TOPIC OUT`` reads ``TOPIC`` from its start and appends one JSON line per alert to
``OUT``: the wall time it was received, and the alert.

Event -> alert latency is measured as a user of the alerts topic sees it, and a user's consumer
is a process of its own. Run as a thread of the bench process, it shared one interpreter lock
with the paced producer, and its polls waited behind the producer's sends: the same worker run
measured a p99 of 0.8-1.1 s through that thread and 0.4-0.7 s through a separate process.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import orjson


def main(argv: list[str]) -> None:
    from kafka import KafkaConsumer

    bootstrap, topic, out = argv
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                             auto_offset_reset="earliest", fetch_max_wait_ms=20)
    with open(out, "ab") as f:

        def write(batches: Any) -> None:
            now = time.time()
            for records in batches:
                for r in records:
                    f.write(orjson.dumps({"received": now, "alert": orjson.loads(r.value)})
                            + b"\n")
            f.flush()

        # ready once the topic's partitions are assigned (or after 10 s, if it has none yet):
        # the bench starts producing only then, so no alert is stamped late by our start-up
        deadline = time.monotonic() + 10
        while not consumer.assignment() and time.monotonic() < deadline:
            write(consumer.poll(timeout_ms=50).values())  # nothing yet: the topic is fresh
        f.write(b'{"ready": true}\n')
        f.flush()
        while True:  # until the bench terminates it
            write(consumer.poll(timeout_ms=50).values())

if __name__ == "__main__":  # pragma: no cover - run by streamer.bench.broker.AlertWatch
    main(sys.argv[1:])
