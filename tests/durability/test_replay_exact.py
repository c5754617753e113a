"""A busy customer's count stays exact through kill -9 (issue 11, item 3).

The old worker treated a record at or below a customer's last offset whose event id had left
the 512-id ring as "out of order" and processed it again: 600 replayed events gave
``events_total`` 1,200. Campaigns are exactly the high-rate customers this hits. Here one
customer sends 5,625 of 6,400 events and the worker is killed with -9 twice mid-stream; each
restart replays the records since the last commit. (A replay of the whole stream is tested in
``tests/unit/test_driver.py``: 600 and 5,000 events, counted once.)
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


def test_busy_customer_counts_stay_exact_through_repeated_kill_9(harness: Harness) -> None:
    h = harness
    records = _records()
    expected = sum(1 for k, _ in records if k == BUSY.encode())
    w = h.worker("w", env={"STREAMER_GROUP_INSTANCE_ID": f"{h.app_id}-w"}).start()
    w.wait_consuming(120)
    producing = h.produce_in_background(records, rate=1_500)
    for k, share in enumerate((0.3, 0.6)):
        need = int(N_BUSY * share)
        poll(f"{need} events processed before kill {k + 1}", lambda n=need: (w.stats() or {}).get(
            "events_processed", 0) >= n, 180, every_s=0.1, alive=w.check_alive)
        w.kill()
        log(f"kill -9 #{k + 1}")
        w.start()
        w.wait_consuming(120)
    producing.join()
    t0 = time.monotonic()
    h.wait_caught_up(180, [w])
    log(f"caught up {time.monotonic() - t0:.1f}s after the producer finished")
    status, body = w.get(f"/customers/{BUSY}")
    assert status == 200 and body["events_processed"] == expected, body
    assert h.final_states()[BUSY].events_total == expected
    stats = w.stats() or {}
    log(f"driver counters after the kills: {stats.get('counters')}")
    assert w.stop() == 0
