"""Far more input than the worker can take: memory stays bounded while the lag grows; a SIGTERM
while it lags is a clean stop (exit 0, offsets committed); a restart catches up exactly."""

from __future__ import annotations

import time
from collections import defaultdict

import pytest

from tests.durability.checks import assert_exact_counts
from tests.durability.gen import small_stream
from tests.durability.harness import PARTITIONS, Harness, log, rss_kb

pytestmark = [pytest.mark.kafka, pytest.mark.durability]

N = 150_000  # small events, produced in a few seconds; the worker takes ~1 minute
CUSTOMERS = 2_000
RSS_LIMIT_MB = 1_500  # generous: the worker idles at ~160 MB and levels off below ~400 MB
BACKLOG_RSS_LIMIT_MB = 200  # above idle, when the backlog is at its largest
SIGTERM_LIMIT_S = 30.0


def test_backlog_keeps_memory_bounded_and_sigterm_is_clean(harness: Harness) -> None:
    t_test = time.monotonic()
    h = harness
    stream = small_stream(N, CUSTOMERS)
    w = h.worker("w").start()
    w.wait_consuming(120)
    assert w.proc is not None
    pid = w.proc.pid
    idle_mb = rss_kb(pid) / 1024

    producing = h.produce_in_background(stream.records)  # as fast as the producer goes
    samples: list[tuple[float, float, int]] = []  # (seconds, RSS MB, lag)
    t0 = time.monotonic()

    def sample() -> int:
        w.check_alive()
        lag = h.lag()
        samples.append((time.monotonic() - t0, rss_kb(pid) / 1024, lag))
        return lag

    while producing.running:
        sample()
        time.sleep(0.25)
    producing.join()  # (bounded: raises if the producer hangs)
    deadline = time.monotonic() + 240
    while sample() > N // 4:  # work a good part of the backlog off, then SIGTERM mid-way
        assert time.monotonic() < deadline, f"backlog not worked off in time: {samples[-1]}"
        time.sleep(0.5)
    peak_lag = max(lag for _, _, lag in samples)
    rss_at_peak_lag = max(m for _, m, lag in samples if lag == peak_lag)
    peak_mb = max(m for _, m, _ in samples)
    log(f"produced {N} events in {producing.seconds:.1f}s; RSS idle {idle_mb:.0f} MB, at the "
        f"peak lag of {peak_lag} {rss_at_peak_lag:.0f} MB, peak {peak_mb:.0f} MB; samples "
        "(s, MB, lag): " + ", ".join(f"({t:.0f}, {m:.0f}, {lag})"
                                    for t, m, lag in samples[:: max(1, len(samples) // 10)]))
    assert peak_lag >= N // 2, f"never lagged by half the stream (peak {peak_lag}): no backpressure"
    assert peak_mb < RSS_LIMIT_MB, f"peak RSS {peak_mb:.0f} MB"
    assert rss_at_peak_lag - idle_mb < BACKLOG_RSS_LIMIT_MB, (
        f"RSS {rss_at_peak_lag:.0f} MB with {peak_lag} events waiting (idle {idle_mb:.0f} MB): "
        "the backlog is being buffered in memory")

    lag_at_stop = h.lag()
    t_stop = time.monotonic()
    code = w.stop(timeout_s=SIGTERM_LIMIT_S + 30)
    took = time.monotonic() - t_stop
    log(f"SIGTERM with lag {lag_at_stop}: exit {code} in {took:.1f}s")
    assert code == 0, f"exit code {code} on SIGTERM\n{w.log_tail()}"
    assert took < SIGTERM_LIMIT_S, f"SIGTERM took {took:.1f}s"

    # offsets committed: no stored state reflects an event at or beyond its committed offset,
    # so the restart replays (processes twice) nothing
    committed = {int(k.rsplit(":", 1)[1]): v for k, v in _committed(h).items()}
    last: dict[int, int] = defaultdict(lambda: -1)
    for cid, st in h.final_states().items():
        p = partition_of(cid)
        last[p] = max(last[p], st.last_offset)
    ahead = {p: (last[p], committed.get(p, 0)) for p in last if last[p] >= committed.get(p, 0)}
    assert not ahead, f"state ahead of the committed offset (last, committed): {ahead}"

    w.start()
    w.wait_consuming(120)
    h.wait_caught_up(240, [w])
    assert_exact_counts(h, stream)
    assert w.stop() == 0
    log(f"backpressure + SIGTERM test took {time.monotonic() - t_test:.0f}s")


def _committed(h: Harness) -> dict[str, int]:
    """``topic:partition`` -> the group's committed offset on the input topic."""
    lag = h.lag_by_partition()
    consumer = h.consumer()
    try:
        from kafka import TopicPartition

        tps = [TopicPartition(h.input_topic, int(k.rsplit(":", 1)[1])) for k in lag]
        end = consumer.end_offsets(tps)
    finally:
        consumer.close()
    return {f"{tp.topic}:{tp.partition}": end[tp] - lag[f"{tp.topic}:{tp.partition}"]
            for tp in tps}



def partition_of(customer_id: str) -> int:
    """The input partition of a key under the Java/kafka-python/aiokafka default partitioner."""
    from kafka.partitioner.default import murmur2

    return (murmur2(customer_id.encode()) & 0x7FFFFFFF) % PARTITIONS
