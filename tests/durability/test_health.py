"""``/health`` turns 503 when an agent dies, and the failed batch is never committed.

Provoked realistically: a malformed record on the internal cluster-verdicts topic. Internal
topics are trusted (only the worker writes them), so a record there that does not parse is a
bug and must fail loudly rather than go to the dead-letter topic. The worker stays up and
answers 503 with the reason (a liveness probe restarts it); the batch that failed is not
committed, so a restarted worker meets the same record again instead of silently skipping it
together with the valid events that shared its batch.
"""

from __future__ import annotations

import time

import pytest

from tests.durability.gen import make_stream
from tests.durability.harness import Harness, log, poll

pytestmark = [pytest.mark.kafka, pytest.mark.durability]

POISON = b'{"customer_id": "cus_h00001", "cluster_id": "c1"}'  # a verdict without its fields


def test_dead_agent_makes_health_503_and_its_batch_is_not_committed(harness: Harness) -> None:
    t_test = time.monotonic()
    h = harness
    stream = make_stream(3_000, 100, tag="h")
    w = h.worker("w").start()
    w.wait_consuming(120)
    h.produce(stream.records[:1_500])
    h.wait_caught_up(60, [w])
    status, body = w.get("/health")
    assert status == 200 and body["status"] == "ok", body

    h.produce([(b"cus_h00001", POISON)], topic=h.verdicts_topic)
    h.produce(stream.records[1_500:])
    # documented behaviour: the worker stays up and reports unhealthy, with the reason
    status, body = poll("/health 503", lambda: (r := w.get("/health"))[0] == 503 and r, 60,
                        alive=w.check_alive)
    log(f"after the poisoned verdict: /health -> {status} {body}")
    assert body["agents_alive"] is False and body["status"] == "unhealthy", body
    assert "detect" in body["detail"] and "KeyError" in body["detail"], body

    # the failed batch stays uncommitted: the poisoned verdict is still ahead of the group
    time.sleep(3)  # several commit intervals
    lag = h.lag_by_partition([h.verdicts_topic])
    log(f"verdicts lag after the failure: {lag}")
    assert sum(lag.values()) >= 1, "the poisoned record was committed (its batch would be lost)"

    # a restarted worker fails the same way (loudly) instead of skipping past it
    w.stop()
    w.start()
    w.wait_consuming(120)
    status, body = poll("/health 503 again after a restart", lambda: (
        (r := w.get("/health"))[0] == 503 and r), 60, alive=w.check_alive)
    assert "KeyError" in body["detail"], body
    code = w.stop()
    log(f"SIGTERM of the unhealthy worker: exit {code}; test took "
        f"{time.monotonic() - t_test:.0f}s")
