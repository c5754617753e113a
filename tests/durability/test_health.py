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
from typing import Any

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


def test_wedged_batch_turns_health_503_within_the_stall_window(
        make_harness: Any) -> None:
    """A batch that never returns (test-only hook ``STREAMER_TEST_WEDGE_AFTER``: after N
    detect batches the next one awaits forever) while the consumer keeps running: Faust alone
    sees nothing wrong, ``/health`` must turn 503 within the stall window
    (``STREAMER_HEALTH_STALL_S``), and ``/ready`` stays as it was (the worker is not
    rebalancing). Before this fix /health read a consumer attribute Faust 0.15 does not have,
    and answered 200 for ever."""
    stall_s = 4.0
    h = make_harness(STREAMER_TEST_WEDGE_AFTER="1", STREAMER_HEALTH_STALL_S=str(stall_s))
    stream = make_stream(600, 20, tag="wedge")
    w = h.worker("w").start()
    w.wait_consuming(120)
    h.produce(stream.records[:50])
    poll("the first batch", lambda: w.get("/health")[1].get("batches", 0) >= 1, 60,
         alive=w.check_alive)
    status, body = w.get("/health")
    assert status == 200 and body["status"] == "ok", body

    h.produce(stream.records[50:])  # the next batch wedges
    t0 = time.monotonic()
    status, body = poll("/health 503", lambda: (r := w.get("/health"))[0] == 503 and r,
                        stall_s + 30, alive=w.check_alive)
    took = time.monotonic() - t0
    log(f"wedged worker: /health -> {status} after {took:.1f}s: {body}")
    # first seen either way: records wait with no batch finished, or the batch runs too long
    assert "records wait on" in body["detail"] or "has run for more than" in body["detail"]
    assert body["agents_alive"] is True  # nothing crashed: it is stuck, and says so
    assert took < stall_s + 15, took
    # and once the wedged batch is older than the window, that is what it says
    status, body = poll("the wedged batch named", lambda: (r := w.get("/health"))[0] == 503
                        and "a batch of agent detect has run for more than" in r[1]["detail"]
                        and r, stall_s + 15, alive=w.check_alive)
    assert w.get("/ready")[0] == 200
    w.kill()  # a wedged batch never finishes, so SIGTERM would wait: a liveness kill
