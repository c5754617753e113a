"""Two workers in one consumer group; one leaves (SIGTERM) mid-stream and another joins.

Partitions move twice while events flow. Afterwards counts are exact for every customer and
the alerts (customer, alert_id, severity at medium or above) are the same set a single worker
produces from the same stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from streamer.shell.supervise import WorkerProcess
from tests.durability.checks import alert_set, assert_alert_ids_consistent, assert_exact_counts
from tests.durability.gen import make_stream
from tests.durability.harness import PARTITIONS, Harness, log, poll

pytestmark = [pytest.mark.kafka, pytest.mark.durability]

N = 24_000
CUSTOMERS = 600
CAMPAIGNS = 4


def inputs(w: WorkerProcess, topic: str) -> set[int]:
    """Input partitions assigned to ``w`` (per its /stats)."""
    st = w.stats() or {}
    return {int(a.rsplit(":", 1)[1]) for a in st.get("assigned", [])
            if a.rsplit(":", 1)[0] == topic}


def processed(w: WorkerProcess) -> int:
    st = w.stats()
    return int(st["events_processed"]) if st else 0


def test_rebalance_moves_partitions_and_loses_nothing(
    make_harness: Callable[..., Harness],
) -> None:
    t_test = time.monotonic()
    stream = make_stream(N, CUSTOMERS, n_campaigns=CAMPAIGNS, tag="r", step_ms=100)
    all_parts = set(range(PARTITIONS))

    # reference: one worker, no faults
    ref = make_harness()
    w0 = ref.worker("ref").start()
    w0.wait_consuming(120)
    ref.produce(stream.records)
    ref.wait_caught_up(180, [w0])
    ref_states = assert_exact_counts(ref, stream)
    ref_alerts = ref.alerts()
    assert w0.stop() == 0
    expected_alerts = alert_set(ref_alerts)
    assert {c for c, _, _ in expected_alerts} >= set(stream.campaigns), expected_alerts
    assert_alert_ids_consistent(ref_alerts, ref_states)
    log(f"reference run: {len(expected_alerts)} alerts at medium+ in "
        f"{time.monotonic() - t_test:.0f}s")

    # the run under test: same stream, the group changes twice while it flows
    h = make_harness()
    topic = h.input_topic
    w1, w2 = h.worker("w1").start(), h.worker("w2").start()
    w1.wait_consuming(120)
    w2.wait_consuming(120)
    poll("both workers sharing the input partitions", lambda: (
        (a := inputs(w1, topic)) and (b := inputs(w2, topic)) and not a & b
        and a | b == all_parts), 60)
    log(f"w1 has {sorted(inputs(w1, topic))}, w2 has {sorted(inputs(w2, topic))}")

    producing = h.produce_in_background(stream.records, rate=1_500)
    poll("progress on both", lambda: processed(w1) > 1_500 and processed(w2) > 1_500, 60,
         alive=lambda: [w.check_alive() for w in (w1, w2)])
    t0 = time.monotonic()
    code = w1.stop()
    assert code == 0, f"w1 exited with {code} on SIGTERM\n{w1.log_tail()}"
    log(f"w1 stopped (SIGTERM, exit 0) in {time.monotonic() - t0:.1f}s after "
        f"{processed(w1) or 'its'} events")
    poll("w2 taking over every partition", lambda: inputs(w2, topic) == all_parts, 90,
         alive=w2.check_alive)
    log(f"w2 owns all partitions {time.monotonic() - t0:.1f}s after w1 got SIGTERM")
    assert producing.running, "the stream ended before the rebalance: make it longer"

    w3 = h.worker("w3").start()
    w3.wait_consuming(120)
    poll("w2 and w3 sharing the partitions", lambda: (
        (a := inputs(w2, topic)) and (b := inputs(w3, topic)) and not a & b
        and a | b == all_parts), 90, alive=lambda: [w.check_alive() for w in (w2, w3)])
    log(f"after w3 joined: w2 has {sorted(inputs(w2, topic))}, w3 has "
        f"{sorted(inputs(w3, topic))}; stream still flowing: {producing.running}")

    producing.join()
    h.wait_caught_up(180, [w2, w3])
    states = assert_exact_counts(h, stream)
    alerts = h.alerts()
    assert_alert_ids_consistent(alerts, states)
    got = alert_set(alerts)
    assert got == expected_alerts, (f"missing: {sorted(expected_alerts - got)}; "
                                    f"extra: {sorted(got - expected_alerts)}")
    for w in (w2, w3):
        code = w.stop()
        assert code == 0, f"exit code {code} on SIGTERM\n{w.log_tail()}"
    log(f"rebalance run: counts exact, {len(got)} alerts equal the reference; test took "
        f"{time.monotonic() - t_test:.0f}s")
