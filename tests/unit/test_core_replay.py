"""Offline replay runs on event time, not wall time.

The same stream gives the same outputs every time (and in every process); the interleaving of
*different* customers' events does not change any customer's alerts or feature windows as long
as the stream's event time is reasonably ordered; a day of event time replays in seconds and
yields one feature record per customer per 5-minute window with traffic.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from streamer.core.alerts import QUIET_MS
from streamer.core.customer import WINDOW_MS
from streamer.core.engine import replay
from streamer.core.events import InferenceEvent
from tests.unit.core_streams import (
    DAY,
    HOUR,
    MINUTE,
    SECOND,
    T0,
    alerts_in,
    benign_events,
    escalating_events,
    event,
    extraction_events,
    features_in,
    hydra_heads,
    merged,
    run_engine,
)

ROOT = Path(__file__).resolve().parents[2]


def mixed_stream() -> list[InferenceEvent]:
    """Attackers, ordinary customers and a hydra cluster, in event-time order."""
    parts = [
        escalating_events(customer_id="esc", n_cot=200),
        extraction_events(300, customer_id="att", gap_ms=9 * SECOND, start=T0 + 20 * MINUTE),
        benign_events(200, customer_id="ben1", seed=3),
        benign_events(200, customer_id="ben2", seed=4, output_tokens=900),
        merged(hydra_heads(12)),
    ]
    return sorted((e for p in parts for e in p), key=lambda e: (e.ts_ms, e.customer_id))


def no_cluster_streams() -> list[list[InferenceEvent]]:
    """Per-customer streams that share no fingerprint (no cluster can form)."""
    return [
        escalating_events(customer_id="esc", n_cot=200),
        extraction_events(300, customer_id="att", gap_ms=9 * SECOND, start=T0 + 20 * MINUTE),
        benign_events(200, customer_id="ben1", seed=3),
        benign_events(200, customer_id="ben2", seed=4, output_tokens=900),
    ]


def digest() -> str:
    """Hash of everything a replay of :func:`mixed_stream` emits (used across processes)."""
    result = replay(mixed_stream())
    blob = orjson.dumps([result.alerts, result.features], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(blob).hexdigest()


def by_customer(outputs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for o in outputs:
        out[o["customer_id"]].append(o)
    return dict(out)


def without_baselines(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The population baseline shown next to each reason is context (a running median over
    *all* customers' windows learnt so far); it is not part of the customer's own verdict."""
    return [{**a, "reasons": [{k: v for k, v in r.items() if k != "baseline"}
                              for r in a["reasons"]]} for a in alerts]


def skewed_arrival(streams: list[list[InferenceEvent]], rng: random.Random,
                   max_skew_ms: int) -> list[InferenceEvent]:
    """Shuffle the arrival order of different customers' events, keeping each customer's own
    order, with up to ``max_skew_ms`` of event-time disorder across customers."""
    keyed = []
    for s in streams:
        last = 0
        for ev in s:
            last = max(last + 1, ev.ts_ms + rng.randrange(max_skew_ms))  # strictly increasing
            keyed.append((last, rng.random(), ev))
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [ev for _, _, ev in keyed]


# --- determinism -------------------------------------------------------------------------------


def test_replaying_the_same_stream_twice_gives_identical_outputs() -> None:
    first, second = replay(mixed_stream()), replay(mixed_stream())
    assert first.alerts == second.alerts
    assert first.features == second.features
    # The stream is not trivial: single-account alerts and cluster alerts both happen.
    assert {a["customer_id"] for a in first.alerts} >= {"esc", "att"}
    assert any(a["cluster"] for a in first.alerts)
    assert all(a["emitted_at"] is None for a in first.alerts)  # wall clock only in the shell


def test_replay_reads_no_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = replay(mixed_stream())

    def forbidden(*_: object) -> float:
        raise AssertionError("the core read the wall clock")

    for name in ("time", "time_ns", "monotonic", "monotonic_ns"):
        monkeypatch.setattr(time, name, forbidden)
    got = replay(mixed_stream())
    monkeypatch.undo()
    assert got.alerts == expected.alerts and got.features == expected.features


def test_replay_is_identical_across_processes_and_hash_seeds() -> None:
    """Alert ids and outputs must not depend on PYTHONHASHSEED (a restarted worker re-emits
    the same ids)."""
    code = "from tests.unit.test_core_replay import digest; print(digest())"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                         text=True, env={**os.environ, "PYTHONHASHSEED": seed})
        for seed in ("0", "4242")
    ]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1] == digest()


# --- arrival order across customers --------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_interleaving_customers_does_not_change_their_alerts(seed: int) -> None:
    streams = no_cluster_streams()
    in_order = sorted((e for s in streams for e in s), key=lambda e: (e.ts_ms, e.customer_id))
    _, base = run_engine(in_order)
    _, shuffled = run_engine(skewed_arrival(streams, random.Random(seed),
                                            max_skew_ms=2 * MINUTE))
    assert shuffled != base  # guard: the arrival order really changed the output order
    a_base, a_shuf = by_customer(alerts_in(base)), by_customer(alerts_in(shuffled))
    assert set(a_base) == set(a_shuf) >= {"esc", "att"}
    for cid in a_base:
        assert without_baselines(a_shuf[cid]) == without_baselines(a_base[cid]), cid
        assert all(a["cluster"] is None for a in a_base[cid])
    f_base, f_shuf = by_customer(features_in(base)), by_customer(features_in(shuffled))
    assert f_base == f_shuf


def test_a_customer_lagging_the_watermark_keeps_one_alert_per_episode() -> None:
    ordinary = [event(i, T0 + i * 30 * SECOND, customer_id="ben") for i in range(720)]  # 6 h
    attack = extraction_events(360, customer_id="att", gap_ms=5 * SECOND)  # 30 min from T0

    def late_arrival() -> list[InferenceEvent]:
        # The attacker's gateway is 3 h behind: its events arrive interleaved with the
        # ordinary customer's events of 3 h later (each customer's own order is kept).
        out = ordinary[:360]
        for b, a in zip(ordinary[360:], attack, strict=True):
            out += [b, a]
        return out

    assert attack[0].ts_ms + QUIET_MS < ordinary[360].ts_ms
    _, in_order = run_engine(sorted([*ordinary, *attack], key=lambda e: e.ts_ms))
    _, late = run_engine(late_arrival())
    expected = [a for a in alerts_in(in_order) if a["customer_id"] == "att"]
    got = [a for a in alerts_in(late) if a["customer_id"] == "att"]
    assert [a["status"] for a in expected] == ["open", "resolved"]  # the guard: in order, fine
    assert [a["status"] for a in got].count("open") == 1
    assert len({a["alert_id"] for a in got}) == 1
    windows = [f["window_start_ms"] for f in features_in(late) if f["customer_id"] == "att"]
    assert len(windows) == len(set(windows))


# --- a day of event time in seconds ---------------------------------------------------------------


def day_stream() -> list[InferenceEvent]:
    steady = [event(i, T0 + i * MINUTE + 7 * SECOND, customer_id="steady",
                    output_tokens=100 + i % 50) for i in range(24 * 60)]
    # Ten requests every two hours: only those windows have traffic.
    bursty = [event(h * 100 + k, T0 + h * 2 * HOUR + 30 * MINUTE + k * 20 * SECOND,
                    customer_id="bursty") for h in range(12) for k in range(10)]
    return sorted([*steady, *bursty], key=lambda e: e.ts_ms)


def test_a_day_of_event_time_replays_fast_with_one_record_per_5_minute_window() -> None:
    events = day_stream()
    assert events[-1].ts_ms - events[0].ts_ms >= DAY - 2 * MINUTE
    started = time.perf_counter()
    result = replay(events)
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0, f"a day of event time took {elapsed:.1f} s"
    assert result.events == len(events)

    feats = by_customer(result.features)
    for cid in ("steady", "bursty"):
        evs = [e for e in events if e.customer_id == cid]
        expected_windows = sorted({e.ts_ms - e.ts_ms % WINDOW_MS for e in evs})
        recs = feats[cid]
        starts = [f["window_start_ms"] for f in recs]
        assert starts == expected_windows, cid  # one per window with traffic, in order
        assert all(f["window_end_ms"] - f["window_start_ms"] == WINDOW_MS for f in recs)
        assert sum(f["events_in_window"] for f in recs) == len(evs)
        assert recs[-1]["events_total"] == len(evs)
        for f in recs:
            in_window = [e for e in evs if f["window_start_ms"] <= e.ts_ms < f["window_end_ms"]]
            assert f["events_in_window"] == len(in_window)
    assert len(feats["steady"]) == 24 * 60 // 5
    assert len(feats["bursty"]) == 12 * 1  # each 200 s burst sits inside one window
    assert result.alerts == []  # nothing suspicious in either


def test_windows_follow_event_time_not_arrival_speed() -> None:
    """The same events replayed at any speed (here: all at once, or in two sessions with an
    idle gap in between) give the same windows."""
    events = day_stream()
    whole = replay(events)
    eng, first = run_engine(events[: len(events) // 2], finish=False)
    _, second = run_engine(events[len(events) // 2:], engine=eng)
    assert features_in(first + second) == whole.features
