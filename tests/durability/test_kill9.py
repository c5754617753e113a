"""kill -9 the worker again and again while a stream flows; nothing is lost, nothing counted twice.

The worker runs with the RocksDB store, so a restart finds its state in the data dir; the last
restart wipes the data dir, so state must come back from the changelog alone. Counts are
checked for *every* customer from the changelog's final value per key (exactly what a recovering
worker would load), for a sample through ``GET /customers/{id}``, and the campaign customer's
episode and alert ids must survive every restart.

Also measured and printed: recovery time after kill -9 with ~10k customers' state (data dir
intact, and changelog-only), and the encoded state size per customer.
"""

from __future__ import annotations

import re
import shutil
import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from streamer.shell.supervise import WorkerProcess
from tests.durability.checks import (
    assert_alert_ids_consistent,
    assert_exact_counts,
    assert_sample_via_web,
    log_alerts,
)
from tests.durability.gen import make_stream
from tests.durability.harness import Harness, log, poll, rss_kb

pytestmark = [pytest.mark.kafka, pytest.mark.durability]

N_MAIN = 50_000  # the stream produced while the worker is killed
CUSTOMERS = 10_000
TAIL = 1_500  # produced while the worker is down before each measured recovery
KILLS = 4
RATE = 2_000  # events/s offered while killing (about what one worker sustains here)
BATCH = 500  # STREAMER_BATCH_SIZE default
STEP_MS = 40  # event time per record


#: records acknowledged between two commits at most (``broker_commit_every``, shell/faust_app.py)
COMMIT_EVERY = 1000
#: how far a stored state may trail what the worker showed: up to two commit periods and the
#: batch in flight (measured up to ~1,100 records; one batch was the claim before, and failed)
MAX_BEHIND = 2 * COMMIT_EVERY + BATCH
#: seeks back to one dropped record by one process (the first, and a few if Faust drops the
#: re-fetch again or the backstop passes; the old rule re-sought every 2 s: 12-17 times)
MAX_SEEKS_PER_HOLE = 3


def most_in_window(records: list[tuple[bytes, bytes]], key: bytes, window: int) -> int:
    """The most records of ``key`` in any ``window`` consecutive records (bursts included)."""
    flags = [k == key for k, _ in records]
    best = cur = sum(flags[:window])
    for i in range(window, len(flags)):
        cur += flags[i] - flags[i - window]
        best = max(best, cur)
    return best


def summary(w: WorkerProcess, cid: str) -> dict[str, Any] | None:
    try:
        status, body = w.get(f"/customers/{cid}", timeout=5)
    except (OSError, ValueError):
        return None
    return body if status == 200 else None


def processed(w: WorkerProcess) -> int:
    st = w.stats()
    return int(st["events_processed"]) if st else 0


def restart_timed(w: WorkerProcess) -> dict[str, float]:
    """Start ``w``; seconds until partitions are assigned and until its first input batch."""
    t0 = time.monotonic()
    w.start()
    w.wait_consuming(120)
    assigned = time.monotonic() - t0
    poll("first batch after restart", lambda: processed(w) > 0, 120, every_s=0.1,
         alive=w.check_alive)
    return {"assigned_s": assigned, "first_batch_s": time.monotonic() - t0}


def test_kill_9_repeatedly_loses_nothing_and_counts_nothing_twice(
    make_harness: Callable[..., Harness],
) -> None:
    t_test = time.monotonic()
    stream = make_stream(N_MAIN + 2 * TAIL, CUSTOMERS, step_ms=STEP_MS, gap_at=int(N_MAIN * 0.8))
    main, tail1, tail2 = (stream.records[:N_MAIN], stream.records[N_MAIN:N_MAIN + TAIL],
                          stream.records[N_MAIN + TAIL:])
    campaign = stream.campaigns[0]
    behind = most_in_window(main, campaign.encode(), MAX_BEHIND)
    assert len(stream.expected) >= 1_000 and len(main) >= 50_000
    # A supervised worker restarts under its own static group membership (a StatefulSet pod's
    # name): it gets its partitions back at once. A dynamic member killed with -9 keeps its
    # partitions stalled until the broker expires its session (Faust's default: 60 s).
    h = make_harness()
    w = h.worker("w", env={"STREAMER_GROUP_INSTANCE_ID": f"{h.app_id}-w"}).start()
    w.wait_consuming(120)

    producing = h.produce_in_background(main, rate=RATE)
    kills_while_producing = 0
    restarts: list[dict[str, float]] = []
    for k in range(KILLS):
        # let it make real progress, then kill at a different point of a batch each time
        need = 2_000 + 1_500 * k
        poll(f"{need} events processed before kill {k + 1}", lambda n=need: processed(w) >= n,
             120, every_s=0.1, alive=w.check_alive)
        time.sleep(0.13 * k)
        before = summary(w, campaign)
        # mid-stream: records still arriving, or a backlog still unprocessed (a loaded
        # machine drains more slowly than the producer sends)
        kills_while_producing += producing.running or h.lag() > 0
        done = processed(w)
        w.kill()
        log(f"kill -9 #{k + 1} after {done} events; campaign before: "
            f"{before and (before['events_processed'], before['episode'])}")
        restarts.append(restart_timed(w))
        after = poll("campaign state after restart", lambda: summary(w, campaign), 60)
        if before is None:
            continue
        log(f"  campaign right after restart: {(after['events_processed'], after['episode'])}")
        # What /customers showed may be ahead of what was stored (the batch in flight, and
        # what Faust's recovery replays of the changelog since the last commit): the stored
        # state trails by at most MAX_BEHIND records, is never a cold start, and the replay
        # brings it back.
        assert after["events_processed"] >= before["events_processed"] - behind, (
            before, after)
        poll("campaign state back where it was", lambda b=before: (s := summary(w, campaign))
             and s["events_processed"] >= b["events_processed"] and s["episode"] >= b["episode"],
             90, alive=w.check_alive)
    producing.join()
    log(f"produced {len(main)} events in {producing.seconds:.1f}s; {KILLS} kills "
        f"({kills_while_producing} while producing); restarts: "
        + ", ".join(f"{r['assigned_s']:.1f}s/{r['first_batch_s']:.1f}s" for r in restarts))
    assert kills_while_producing >= 3, "the stream was processed to its end before three kills"

    caught_up = h.wait_caught_up(240, [w])
    log(f"caught up {caught_up:.1f}s after the producer finished")
    states = assert_exact_counts(h, stream.head(N_MAIN))
    # A record Faust dropped after a restart is fetched again once, not every 2 s: re-seeking
    # while the re-fetch queued behind the backlog stalled its partition for 8-30 s.
    seeks = Counter(re.findall(r"\] \[(\d+)\] \[WARNING\] TopicPartition\(topic='[^']*', "
                               r"partition=(\d+)\) offset (\d+) was handed to the stream", w.log()))
    log(f"dropped records fetched again: {len(seeks)}, seeks per record: "
        f"{sorted(seeks.values(), reverse=True)[:10]}")
    assert max(seeks.values(), default=0) <= MAX_SEEKS_PER_HOLE, seeks.most_common(3)

    # --- recovery after kill -9 with ~10k customers' state -------------------------------
    n_states = len(states)
    w.kill()
    h.produce(tail1)
    warm = restart_timed(w)
    warm["lag0_s"] = warm["first_batch_s"] + h.wait_caught_up(120, [w])
    w.kill()
    h.produce(tail2)
    shutil.rmtree(w.data_dir)  # a new host: state only from the changelog
    cold = restart_timed(w)
    cold["lag0_s"] = cold["first_batch_s"] + h.wait_caught_up(180, [w])

    states = assert_exact_counts(h, stream)
    sample = [*stream.campaigns, *stream.customers[:: max(1, len(stream.customers) // 40)]]
    assert_sample_via_web(w, stream, sample)

    alerts = h.alerts()
    assert_alert_ids_consistent(alerts, states)
    mine = [a for a in alerts if a["customer_id"] == campaign]
    assert mine and mine[0]["severity"] in {"medium", "high", "critical"}, mine[:1]
    log_alerts(alerts, [campaign])
    episodes = states[campaign].episode.number
    assert 1 <= episodes <= 2, f"campaign went through {episodes} episodes"

    sizes = h.state_sizes()
    assert w.proc is not None
    rss_mb = rss_kb(w.proc.pid) / 1024
    code = w.stop()
    assert code == 0, f"SIGTERM exit code {code}\n{w.log_tail()}"
    log(f"RECOVERY with {n_states} customers' state: data dir intact: assigned "
        f"{warm['assigned_s']:.1f}s, first batch {warm['first_batch_s']:.1f}s, lag 0 "
        f"{warm['lag0_s']:.1f}s | changelog only: assigned {cold['assigned_s']:.1f}s, first "
        f"batch {cold['first_batch_s']:.1f}s, lag 0 {cold['lag0_s']:.1f}s")
    log(f"STATE SIZE per customer: mean {statistics.mean(sizes):.0f} B, median "
        f"{statistics.median(sizes):.0f} B, max {max(sizes)} B over {len(sizes)} customers; "
        f"campaign ({stream.expected[campaign]} events) "
        f"{len(h.latest_by_key(h.changelog_topic)[campaign.encode()])} B")
    log(f"worker RSS with {n_states} customers: {rss_mb:.0f} MB; campaign episodes: "
        f"{episodes}; campaign alerts: {len(mine)}; test took {time.monotonic() - t_test:.0f}s")



def test_exactly_once_is_refused(harness: Harness) -> None:
    """``STREAMER_PROCESSING_GUARANTEE=exactly_once`` failed the kill -9 test above with Faust
    0.15 (lost counts, a crash on SIGTERM, then ConsistencyError on restart), so the worker
    refuses it at start-up instead of running with it."""
    w = harness.worker("eos", env={"STREAMER_PROCESSING_GUARANTEE": "exactly_once"}).start()
    assert w.proc is not None
    code = w.proc.wait(90)
    assert code != 0
    assert "exactly_once' is not supported" in w.log_path.read_text(errors="replace")
