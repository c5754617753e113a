"""Stop the broker while the worker runs and a producer sends, start it again: the same worker
process recovers on its own and nothing is lost.

This stops the *shared* local broker, so it runs last (the file name sorts last) and always
starts the broker again, also when it fails. Skipped against an external cluster.
"""

from __future__ import annotations

import os
import time

import pytest

from streamer.shell import localkafka
from tests.durability.checks import assert_exact_counts
from tests.durability.gen import make_stream
from tests.durability.harness import Harness, log, poll

pytestmark = [pytest.mark.kafka, pytest.mark.durability]

N = 24_000
CUSTOMERS = 1_000
DOWN_S = 5.0


def health(w: object) -> int:
    try:
        return int(w.get("/health", timeout=3)[0])  # type: ignore[attr-defined]
    except (OSError, ValueError):
        return 0


@pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()),
                    reason="stops the local broker; an external cluster is not ours to stop")
def test_broker_stop_and_start_mid_stream_loses_nothing(harness: Harness) -> None:
    t_test = time.monotonic()
    h = harness
    port = localkafka.default_port()
    stream = make_stream(N, CUSTOMERS, tag="b", step_ms=100)
    w = h.worker("w").start()
    w.wait_consuming(120)
    assert w.proc is not None
    pid = w.proc.pid

    producing = h.produce_in_background(stream.records, rate=1_500)
    poll("some progress before the outage",
         lambda: (w.stats() or {}).get("events_processed", 0) > 3_000, 60, alive=w.check_alive)
    try:
        t_down = time.monotonic()
        assert localkafka.down(), "no local broker was running"
        poll("the broker to be gone", lambda: not localkafka.is_ready(f"127.0.0.1:{port}", 1), 30)
        down_health = health(w)
        time.sleep(DOWN_S)
        w.check_alive()
        log(f"broker down for {time.monotonic() - t_down:.1f}s; worker alive; /health while "
            f"down: {down_health}")
    finally:
        localkafka.up(port)
    t_up = time.monotonic()
    log(f"broker back after {t_up - t_down:.1f}s")

    poll("/health back to 200", lambda: health(w) == 200, 120, every_s=0.5, alive=w.check_alive)
    log(f"/health 200 again {time.monotonic() - t_up:.1f}s after the broker came back")
    producing.join(300)  # the producer retried through the outage
    h.wait_caught_up(240, [w])
    assert w.proc.pid == pid and w.proc.poll() is None, "the worker process did not survive"
    assert_exact_counts(h, stream)
    code = w.stop()
    assert code == 0, f"exit code {code}\n{w.log_tail()}"
    log(f"broker restart test took {time.monotonic() - t_test:.0f}s")
