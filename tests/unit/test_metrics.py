"""Metrics recorded from real batches of the real processor, read back from the exposition.

No broker: the :class:`CustomerProcessor` is the one the worker runs, fed with the simulator's
attack traffic (``smoke``), a malformed record and a replayed record.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streamer.shell import metrics as metrics_module
from streamer.shell.metrics import Metrics, consumer_lags, directory_bytes, measure_loop_lag
from streamer.shell.processor import CustomerProcessor, Message
from streamer.sim import simulate

TOPICS = {"input_topic": "in", "verdicts_topic": "verdicts", "feedback_topic": "fb",
          "alerts_topic": "alerts", "features_topic": "features", "dlq_topic": "dlq",
          "signals_topic": "signals"}


def documented_names() -> set[str]:
    """The metric names of the table in :mod:`streamer.shell.metrics`' docstring."""
    doc = metrics_module.__doc__ or ""
    return set(re.findall(r"^(streamer_[a-z_]+)\s", doc, flags=re.M))


def families(m: Metrics) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(m.exposition().decode())}


@pytest.fixture(scope="module")
def attack() -> list[dict[str, Any]]:
    """The smoke scenario's events of its campaign accounts and of three ordinary customers."""
    sim = simulate("smoke", seed=0)
    campaign = set(next(iter(sim.labels["campaigns"].values()))["accounts"])
    ordinary = [c for c, lab in sim.labels["customers"].items() if lab["role"] == "ordinary"][:3]
    keep = campaign | set(ordinary)
    return [e for e in sim.events() if e["customer_id"] in keep]


def run(events: list[dict[str, Any]], extra: list[Message]) -> tuple[Metrics, list[Any], int]:
    store: dict[str, bytes] = {}
    proc = CustomerProcessor(**TOPICS, max_message_bytes=1_000_000, get=store.get)
    m = Metrics()
    msgs = [Message("in", 0, i, e["customer_id"].encode(), orjson.dumps(e))
            for i, e in enumerate(events)]
    msgs += extra
    alerts: list[Any] = []
    now = max(e["ts"] for e in events) if events and isinstance(events[0]["ts"], int) else 0
    for start in range(0, len(msgs), 500):
        batch = msgs[start:start + 500]
        result = proc.process_batch(batch, now_ms=now or 1)
        for key, (_, value) in result.writes.items():
            store[key] = value
        stamps = [now - 1500] * len(batch)  # every record produced 1.5 s before emission
        alerts += m.record_batch("detect", result, duration_s=0.01, now_ms=now or 1,
                                 dlq_topic="dlq", alerts_topic="alerts", messages=batch,
                                 timestamps_ms=stamps)
    return m, alerts, len(msgs)


def ts_ms(event: dict[str, Any]) -> int:
    from streamer.core.events import parse_ts

    return parse_ts(event["ts"])


def test_events_alerts_and_latency_from_a_real_batch(attack: list[dict[str, Any]]) -> None:
    events = [{**e, "ts": ts_ms(e)} for e in attack]
    bad = Message("in", 0, len(events), b"k", b"{not json")
    replay = Message("in", 0, 3, events[3]["customer_id"].encode(), orjson.dumps(events[3]))
    m, alerts, _ = run(events, [bad, replay])

    assert m.value("streamer_events_total", outcome="processed") == len(events)
    assert m.value("streamer_events_total", outcome="duplicate") == 1
    assert m.value("streamer_events_total", outcome="dead_lettered") == 1
    assert m.value("streamer_dead_lettered_total", reason="bad_json") == 1
    # every alert the processor emitted is counted once, by its own severity and status
    assert alerts, "the campaign of the smoke scenario raises alerts"
    by_label = Counter((a["severity"], a["status"]) for a in alerts)
    for (sev, status), n in by_label.items():
        assert m.value("streamer_alerts_total", severity=sev, status=status) == n
    assert m.total("streamer_alerts") == len(alerts)
    fam = families(m)
    # alerts triggered by an event of the batch have a latency: 1.5 s by construction
    lat = {s.name: s.value for s in fam["streamer_alert_latency_seconds"].samples
           if not s.labels or "le" not in s.labels}
    triggered = sum(1 for a in alerts if a["trigger_event_id"] in {e["event_id"] for e in events})
    assert lat["streamer_alert_latency_seconds_count"] == triggered > 0
    assert lat["streamer_alert_latency_seconds_sum"] == pytest.approx(1.5 * triggered)
    lag = {s.name: s.value for s in fam["streamer_event_time_lag_seconds"].samples
           if "le" not in s.labels}
    assert lag["streamer_event_time_lag_seconds_count"] == len(events)
    enc = [s for s in fam["streamer_state_encoded_bytes"].samples
           if s.name.endswith("_count")]
    assert enc and enc[0].value >= 1


def test_every_documented_metric_is_exposed_and_nothing_else() -> None:
    m = Metrics()
    m.track(customers=lambda: 7, cluster_index=lambda: 3, state_stores={"rocksdb": lambda: 99})
    m.set_consumer_lag({("in", 0): 5})
    m.view_entries.labels(kind="open_alerts").set(1)
    m.state_encoded.labels(table="customer-state").observe(10)
    m.batches.labels(agent="detect").inc()
    m.batch_duration.labels(agent="detect").observe(0.1)
    m.dead_lettered.labels(reason="bad_json").inc()
    m.fields_dropped.labels(field="temperature").inc()
    m.set_structures({"timers": 4, "ledger_ranges": 1})
    exposed = {name + "_total" if f.type == "counter" else name
               for name, f in families(m).items()}
    assert exposed == documented_names(), exposed ^ documented_names()
    assert m.value("streamer_customers_tracked") == 7
    assert m.value("streamer_driver_structure_size", structure="timers") == 4
    assert m.value("streamer_cluster_index_size") == 3
    assert m.value("streamer_state_bytes", store="rocksdb") == 99
    assert m.value("streamer_consumer_lag", topic="in", partition="0") == 5
    m.set_consumer_lag({("in", 1): 2})  # a revoked partition's series disappears
    assert m.value("streamer_consumer_lag", topic="in", partition="0") is None


def test_rates_start_at_zero_for_every_outcome_and_alert_label() -> None:
    fam = families(Metrics())
    outcomes = {s.labels["outcome"] for s in fam["streamer_events"].samples}
    assert outcomes == {"processed", "duplicate", "dead_lettered"}
    labels = {(s.labels["severity"], s.labels["status"]) for s in fam["streamer_alerts"].samples}
    assert ("critical", "open") in labels and ("none", "resolved") in labels


def test_consumer_lag_and_loop_lag() -> None:
    assert consumer_lags({("a", 0): 100, ("a", 1): 7}, {("a", 0): 40, ("a", 1): 9}) == {
        ("a", 0): 60, ("a", 1): 0}
    m = Metrics()
    ticks = iter([0.0, 1.25, 2.0, 3.0])
    asyncio.run(measure_loop_lag(m, interval_s=0.0, clock=lambda: next(ticks), rounds=2))
    assert m.loop_lag_last_s == pytest.approx(1.0)
    count = next(s for s in families(m)["streamer_event_loop_lag_seconds"].samples
             if s.name.endswith("_count"))
    assert count.value == 2


def test_garbage_collections_are_timed_and_the_watch_stops() -> None:
    """A full collection holds the event loop: each one is timed into the histogram and the
    recent worst is what ``/stats`` shows; young ones below the threshold are not recorded;
    after ``stop()`` nothing more is."""
    import gc

    from streamer.shell.metrics import watch_gc

    m = Metrics()
    ticks = iter(float(i) * 0.01 for i in range(1000))
    stop = watch_gc(m, min_pause_s=1.0, clock=lambda: next(ticks))
    try:
        gc.collect(2)
        gc.collect(0)  # 10 ms on this clock: below the 1 s threshold
    finally:
        stop()
    fam = families(m)["streamer_gc_pause_seconds"]
    counts = {s.labels["generation"]: s.value for s in fam.samples if s.name.endswith("_count")}
    assert counts.get("2", 0) >= 1 and counts.get("0", 0) == 0
    assert m.gc_pause_max() == pytest.approx(0.01)
    gc.collect(2)
    after = {s.labels["generation"]: s.value for s in families(m)["streamer_gc_pause_seconds"]
             .samples if s.name.endswith("_count")}
    assert after == counts


def test_directory_bytes(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.sst").write_bytes(b"x" * 1000)
    (tmp_path / "y.log").write_bytes(b"y" * 24)
    assert directory_bytes(tmp_path) == 1024


def test_structured_alerts_of_the_new_driver_give_exact_trigger_latency() -> None:
    """A result carrying (trigger message, Alert) pairs (the driver's BatchResult) is counted
    from those, not from decoding its sends, and the latency uses that very message."""
    from dataclasses import dataclass, field

    from streamer.core.outputs import Alert, Reason
    from streamer.shell.processor import BatchResult

    @dataclass
    class DriverResult(BatchResult):
        alerts: list[tuple[Message | None, Alert]] = field(default_factory=list)

    def make(status: str, sev: str) -> Alert:
        return Alert(alert_id="xr_1", customer_id="c1", risk=0.9, severity=sev, status=status,
                     detected_at_ms=1, trigger_event_id="e1", window_start_ms=0,
                     window_end_ms=1, events_in_window=1, events_total=1,
                     reasons=(Reason("cot_rate", 1.0, 0.0, 3.0, "d"),), tactics=("t",),
                     cluster=None)

    trigger = Message("in", 0, 5, b"c1", b"{}")
    other = Message("in", 0, 6, b"c2", b"{}")
    result = DriverResult(alerts=[(trigger, make("open", "high")), (None, make("resolved",
                                                                               "none"))])
    m = Metrics()
    dicts = m.record_batch("detect", result, duration_s=0.1, now_ms=10_000,
                           alerts_topic="alerts", messages=[other, trigger],
                           timestamps_ms=[9_000, 7_500])
    assert [d["status"] for d in dicts] == ["open", "resolved"]
    assert m.value("streamer_alerts_total", severity="high", status="open") == 1
    assert m.value("streamer_alerts_total", severity="none", status="resolved") == 1
    lat = {s.name: s.value for s in families(m)["streamer_alert_latency_seconds"].samples}
    assert lat["streamer_alert_latency_seconds_count"] == 1
    assert lat["streamer_alert_latency_seconds_sum"] == pytest.approx(2.5)
