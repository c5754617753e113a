"""``/health``: bad input is data, a bug fails loudly, and a failed batch is never committed.

A malformed record on the internal cluster-verdicts topic goes to the dead-letter topic and the
worker stays healthy (every topic is untrusted input). A genuine failure inside a batch —
provoked with the test-only ``STREAMER_TEST_FAIL_ON`` hook — stops the agent: the worker stays
up and answers 503 with the reason (a liveness probe restarts it); the batch that failed is not
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


def test_poison_is_dead_lettered_but_a_failing_batch_makes_health_503_and_is_not_committed(
        harness: Harness) -> None:
    t_test = time.monotonic()
    h = harness
    stream = make_stream(3_000, 100, tag="h")
    marker = "boom-" + h.app_id
    w = h.worker("w", env={"STREAMER_TEST_FAIL_ON": marker}).start()
    w.wait_consuming(120)
    h.produce(stream.records[:1_500])
    h.wait_caught_up(60, [w])
    status, body = w.get("/health")
    assert status == 200 and body["status"] == "ok", body

    # a malformed record on an internal topic is data: dead-lettered, the worker stays healthy
    h.produce([(b"cus_h00001", POISON)], topic=h.verdicts_topic)
    h.wait_caught_up(60, [w])
    status, body = w.get("/health")
    assert status == 200 and body["agents_alive"] is True, body
    dlq = [r for r in h.read_topic(h.settings.dlq_topic) if r.key == b"cus_h00001"]
    assert dlq and dict(dlq[0].headers)["streamer-reason"] in {b"missing_field", b"wrong_type"}

    # a bug (here the test-only STREAMER_TEST_FAIL_ON hook) fails loudly: 503 with the reason
    tag = f'"event_id":"{marker}-'.encode()
    bad = (stream.records[0][0], stream.records[0][1].replace(b'"event_id":"', tag, 1))
    assert marker.encode() in bad[1]
    h.produce([bad])
    h.produce(stream.records[1_500:])
    status, body = poll("/health 503", lambda: (r := w.get("/health"))[0] == 503 and r, 60,
                        alive=w.check_alive)
    log(f"after the failing batch: /health -> {status} {body}")
    assert body["agents_alive"] is False and body["status"] == "unhealthy", body
    assert "detect" in body["detail"] and "RuntimeError" in body["detail"], body

    # the failed batch stays uncommitted: its records are still ahead of the group
    time.sleep(3)  # several commit intervals
    lag = h.lag_by_partition([h.input_topic])
    log(f"input lag after the failure: {lag}")
    assert sum(lag.values()) >= 1, "the failed batch was committed (its events would be lost)"

    # a restarted worker fails the same way (loudly) instead of skipping past it
    w.stop()
    w.start()
    w.wait_consuming(120)
    status, body = poll("/health 503 again after a restart", lambda: (
        (r := w.get("/health"))[0] == 503 and r), 60, alive=w.check_alive)
    assert "RuntimeError" in body["detail"], body
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
    # the log says once where the batch waits: every task's chain of awaits
    poll("the stalled batch's await chains in the log", lambda: "stalled for over" in w.log(),
         15, alive=w.check_alive)
    dump = w.log()[w.log().index("stalled for over"):]
    assert "detect_batch" in dump, dump[:3000]
    assert w.log().count("batch of agent detect stalled") == 1
    w.kill()  # a wedged batch never finishes, so SIGTERM would wait: a liveness kill
