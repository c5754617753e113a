"""Every Prometheus metric of the worker, in one place, and the small API that records them.

The Faust shell calls :meth:`Metrics.record_batch` once per processed batch and
:meth:`Metrics.observe_loop_lag` / :meth:`Metrics.set_consumer_lag` from a periodic task;
``GET /metrics`` serves :meth:`Metrics.exposition`. Each worker owns one :class:`Metrics` with its
own registry (no process-global state, so tests build as many as they like).

Metric names (all prefixed ``streamer_``; the Grafana dashboard and the Prometheus rules in
``deploy/`` use exactly these):

==============================================  =========  ==================================
name                                            type       labels
==============================================  =========  ==================================
streamer_events_total                           counter    outcome (processed, duplicate,
                                                           dead_lettered)
streamer_dead_lettered_total                    counter    reason
streamer_fields_dropped_total                   counter    field (optional input fields
                                                           dropped as unusable)
streamer_alerts_total                           counter    severity, status
streamer_batches_total                          counter    agent
streamer_batch_duration_seconds                 histogram  agent
streamer_alert_latency_seconds                  histogram  (emitted_at - record timestamp)
streamer_event_time_lag_seconds                 histogram  (wall clock now - event ts)
streamer_event_loop_lag_seconds                 histogram  (how late a 50 ms probe woke)
streamer_gc_pause_seconds                       histogram  generation (one garbage
                                                           collection, which holds the loop)
streamer_consumer_lag                           gauge      topic, partition
streamer_last_batch_timestamp_seconds           gauge      (unix time of the last batch)
streamer_customers_tracked                      gauge      (live customer states)
streamer_cluster_index_size                     gauge      (live fingerprint tokens)
streamer_state_bytes                            gauge      store (bytes of the state store on
                                                           disk)
streamer_state_encoded_bytes                    histogram  table (size of each state written)
streamer_assigned_partitions                    gauge      (partitions of the input assigned)
streamer_ready                                  gauge      (1 when ``/ready`` answers 200)
streamer_dashboard_view_entries                 gauge      kind (bounded dashboard view)
streamer_driver_structure_size                  gauge      structure (the core driver's
                                                           bounded structures: cached states,
                                                           timers, ledger ranges, ...)
==============================================  =========  ==================================

>>> m = Metrics()
>>> m.record_events(processed=3, duplicates=1, dead_lettered={"bad_json": 2})
>>> m.value("streamer_events_total", outcome="processed")
3.0
>>> m.value("streamer_dead_lettered_total", reason="bad_json")
2.0
>>> m.observe_alert(severity="high", status="open", latency_s=0.4)
>>> m.value("streamer_alerts_total", severity="high", status="open")
1.0
>>> b"streamer_alert_latency_seconds_count 1.0" in m.exposition()
True
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from streamer.core.outputs import SEVERITIES

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "directory_bytes"]

OUTCOMES = ("processed", "duplicate", "dead_lettered")
#: The alert lifecycle of :mod:`streamer.core.alerts` (pre-created so rates start at 0).
STATUSES = ("open", "escalated", "resolved")
#: Latency buckets (seconds): the detector's promise is "within seconds".
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0)
#: Event-time lag buckets (seconds): from live traffic to replays hours old.
EVENT_LAG_BUCKETS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 86400.0)
BATCH_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LOOP_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
STATE_BUCKETS = (256, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 262144, 1048576)
#: The loop-lag probe: how often it wakes, over how long ``/stats`` reports the worst lag, and
#: how many probes that keeps (the cap of the window).
LOOP_PROBE_S = 0.05
LOOP_WINDOW_S = 10.0
LOOP_PROBES = int(LOOP_WINDOW_S / LOOP_PROBE_S) + 1
GC_PAUSES_KEPT = 256
#: no ``*_created`` series: they double the exposition for nothing
disable_created_metrics()  # type: ignore[no-untyped-call]

#: How long a computed store size is reused (walking a RocksDB directory costs a few ms).
STATE_BYTES_TTL_S = 15.0


def directory_bytes(path: str | os.PathLike[str]) -> int:
    """Total size of the regular files under ``path`` (0 if it does not exist).

    >>> directory_bytes("/nonexistent/streamer")
    0
    """
    total = 0
    stack = [Path(path)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


class Metrics:
    """The worker's metrics (one registry) and the calls that record them."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events = Counter("streamer_events", "Input events by outcome", ["outcome"],
                              registry=r)
        self.dead_lettered = Counter("streamer_dead_lettered",
                                     "Records sent to the dead-letter topic, by reason",
                                     ["reason"], registry=r)
        self.fields_dropped = Counter("streamer_fields_dropped",
                                      "Optional input fields dropped as unusable, by field",
                                      ["field"], registry=r)
        self.alerts = Counter("streamer_alerts", "Alerts emitted, by severity and status",
                              ["severity", "status"], registry=r)
        self.batches = Counter("streamer_batches", "Batches processed, by agent", ["agent"],
                               registry=r)
        self.batch_duration = Histogram("streamer_batch_duration_seconds",
                                        "Wall time to process one batch", ["agent"],
                                        buckets=BATCH_BUCKETS, registry=r)
        self.alert_latency = Histogram(
            "streamer_alert_latency_seconds",
            "Wall clock from the triggering record's Kafka timestamp to the alert's emitted_at",
            buckets=LATENCY_BUCKETS, registry=r)
        self.event_time_lag = Histogram(
            "streamer_event_time_lag_seconds",
            "Wall clock at processing minus the event's own ts",
            buckets=EVENT_LAG_BUCKETS, registry=r)
        self.loop_lag = Histogram("streamer_event_loop_lag_seconds",
                                  "How late a periodic timer runs on the worker's event loop",
                                  buckets=LOOP_BUCKETS, registry=r)
        self.gc_pause = Histogram("streamer_gc_pause_seconds",
                                  "Wall time of one garbage collection (it holds the loop)",
                                  ["generation"], buckets=LOOP_BUCKETS, registry=r)
        self.consumer_lag = Gauge("streamer_consumer_lag",
                                  "Records behind: highwater minus the consumer's position",
                                  ["topic", "partition"], registry=r)
        self.last_batch = Gauge("streamer_last_batch_timestamp_seconds",
                                "Unix time at which the last batch finished", registry=r)
        self.customers = Gauge("streamer_customers_tracked",
                               "Customer states live in this worker's memory", registry=r)
        self.cluster_index = Gauge("streamer_cluster_index_size",
                                   "Fingerprint tokens of the cluster index live in memory",
                                   registry=r)
        self.state_bytes = Gauge("streamer_state_bytes",
                                 "Bytes of the local state store on disk", ["store"],
                                 registry=r)
        self.state_encoded = Histogram("streamer_state_encoded_bytes",
                                       "Encoded size of each state written", ["table"],
                                       buckets=STATE_BUCKETS, registry=r)
        self.assigned = Gauge("streamer_assigned_partitions",
                              "Partitions of the input topic assigned to this worker",
                              registry=r)
        self.ready = Gauge("streamer_ready", "1 when /ready answers 200", registry=r)
        self.view_entries = Gauge("streamer_dashboard_view_entries",
                                  "Entries held by the dashboard's bounded view", ["kind"],
                                  registry=r)
        self.structures = Gauge("streamer_driver_structure_size",
                                "Entries in each bounded structure of the core driver",
                                ["structure"], registry=r)
        for outcome in OUTCOMES:
            self.events.labels(outcome=outcome)
        self.gc_pause.labels(generation="2")  # exposed (empty) before the first full collection
        for sev in SEVERITIES:
            for status in STATUSES:
                self.alerts.labels(severity=sev, status=status)
        self.loop_lag_last_s = 0.0
        #: (monotonic time, lag, lag on CPU) of the recent loop probes (bounded: LOOP_PROBES)
        self._loop_lags: deque[tuple[float, float, float]] = deque(maxlen=LOOP_PROBES)
        #: (monotonic time, pause) of the recent collections of the oldest generation (bounded)
        self._gc_pauses: deque[tuple[float, float]] = deque(maxlen=GC_PAUSES_KEPT)
        self._state_bytes_at = -STATE_BYTES_TTL_S
        self._state_bytes_sources: dict[str, Callable[[], int]] = {}

    # --- recording ----------------------------------------------------------------------
    def record_events(self, *, processed: int = 0, duplicates: int = 0,
                      dead_lettered: Mapping[str, int] | None = None,
                      dropped: Mapping[str, int] | None = None) -> None:
        """Count input records by outcome (``processed`` excludes duplicates)."""
        if processed:
            self.events.labels(outcome="processed").inc(processed)
        if duplicates:
            self.events.labels(outcome="duplicate").inc(duplicates)
        for reason, n in (dead_lettered or {}).items():
            self.events.labels(outcome="dead_lettered").inc(n)
            self.dead_lettered.labels(reason=reason).inc(n)
        for name, n in (dropped or {}).items():
            self.fields_dropped.labels(field=name).inc(n)

    def observe_alert(self, *, severity: str, status: str, latency_s: float | None) -> None:
        """One alert emitted; ``latency_s`` is emitted_at minus the trigger's record time."""
        self.alerts.labels(severity=severity, status=status).inc()
        if latency_s is not None:
            self.alert_latency.observe(max(0.0, latency_s))

    def observe_event_times(self, event_ts_ms: Iterable[int], now_ms: int) -> None:
        for ts in event_ts_ms:
            self.event_time_lag.observe(max(0.0, (now_ms - ts) / 1000))

    def record_batch(self, agent: str, result: Any, *, duration_s: float, now_ms: int,
                     dlq_topic: str = "", alerts_topic: str = "",
                     messages: Sequence[Any] = (),
                     timestamps_ms: Sequence[int] = ()) -> list[dict[str, Any]]:
        """Record one processed batch of ``agent`` from its ``BatchResult``.

        Reads, when present on ``result``: ``events``, ``duplicates``, ``dropped`` (field ->
        count), ``event_ts_ms`` (event times of the processed events), ``sends`` (the DLQ
        reason comes from the ``streamer-reason`` header, alerts are the sends to
        ``alerts_topic``) and ``writes`` (encoded state sizes). ``messages`` (with ``key``
        and ``value``) and ``timestamps_ms`` (their Kafka record timestamps) give the alert
        latency: emitted_at minus the timestamp of the record whose event triggered it
        (alerts raised by the clock, such as resolutions, have no such record and are not
        observed). A ``result.alerts`` list of (trigger message or None, ``Alert``) pairs,
        when present, is used instead of decoding the alert sends: the trigger's timestamp is
        then the one of that message in ``messages``. Returns the alerts of the batch as
        contract dicts (for the dashboard's view).
        """
        duplicates = int(getattr(result, "duplicates", 0))
        structured = getattr(result, "alerts", None)
        reasons: dict[str, int] = {}
        alerts: list[dict[str, Any]] = []
        for send in getattr(result, "sends", ()):
            if dlq_topic and send.topic == dlq_topic:
                reason = dict(send.headers).get("streamer-reason", b"unknown")
                key = reason.decode("utf-8", "replace")
                reasons[key] = reasons.get(key, 0) + 1
            elif alerts_topic and send.topic == alerts_topic and structured is None:
                alerts.append(orjson.loads(send.value))
        if structured is not None:
            # (trigger message or None, core Alert) pairs: the trigger is known exactly
            stamp = {id(m): ts for m, ts in zip(messages, timestamps_ms, strict=False)}
            for msg, alert in structured:
                alerts.append(alert.to_dict(emitted_at_ms=now_ms))
                ts = None if msg is None else stamp.get(id(msg))
                self.observe_alert(severity=alert.severity, status=alert.status,
                                   latency_s=None if ts is None else (now_ms - ts) / 1000)
        else:
            received = (trigger_times(messages, timestamps_ms, {str(a.get("customer_id"))
                                                                for a in alerts})
                        if alerts and timestamps_ms else {})
            for alert in alerts:
                trigger = received.get(str(alert.get("trigger_event_id")))
                self.observe_alert(
                    severity=str(alert.get("severity")), status=str(alert.get("status")),
                    latency_s=None if trigger is None else (now_ms - trigger) / 1000)
        if agent == "detect":
            processed = max(0, int(getattr(result, "events", 0)) - duplicates)
            self.record_events(processed=processed, duplicates=duplicates,
                               dead_lettered=reasons, dropped=getattr(result, "dropped", None))
            self.observe_event_times(getattr(result, "event_ts_ms", ()), now_ms)
        elif reasons:
            self.record_events(dead_lettered=reasons)
        table = "customer-state" if agent == "detect" else "cluster-index"
        for _, value in getattr(result, "writes", {}).values():
            self.state_encoded.labels(table=table).observe(len(value))
        self.batches.labels(agent=agent).inc()
        self.batch_duration.labels(agent=agent).observe(duration_s)
        self.last_batch.set(now_ms / 1000)
        return alerts

    def observe_loop_lag(self, lag_s: float, now: float | None = None,
                         on_cpu_s: float | None = None) -> None:
        """One probe of the event loop's lag (how late a timer ran), at monotonic ``now``.

        ``on_cpu_s``: how much of the lag the loop's own thread spent running (its CPU time
        over the probe, capped at the lag): the part the process's own code is responsible
        for. The rest is time the thread waited for a CPU (a busy machine), not a blocked loop.
        """
        self.loop_lag_last_s = max(0.0, lag_s)
        self.loop_lag.observe(self.loop_lag_last_s)
        at = time.monotonic() if now is None else now
        cpu = self.loop_lag_last_s if on_cpu_s is None else min(self.loop_lag_last_s,
                                                                max(0.0, on_cpu_s))
        self._loop_lags.append((at, self.loop_lag_last_s, cpu))

    def loop_lag_max(self, window_s: float = LOOP_WINDOW_S, now: float | None = None,
                     on_cpu: bool = False) -> float:
        """The largest loop lag probed in the last ``window_s`` seconds (0 before any probe);
        with ``on_cpu``, the largest part of a lag the loop's thread spent running.

        >>> m = Metrics()
        >>> m.observe_loop_lag(0.3, now=10.0, on_cpu_s=0.05); m.observe_loop_lag(0.002, now=30.0)
        >>> m.loop_lag_max(now=31.0), m.loop_lag_max(now=19.0)
        (0.002, 0.3)
        >>> m.loop_lag_max(now=19.0, on_cpu=True)
        0.05
        """
        return _recent_max(self._loop_lags, 2 if on_cpu else 1, window_s, now)

    def observe_gc_pause(self, generation: int, pause_s: float,
                         now: float | None = None) -> None:
        """One garbage collection of ``generation`` took ``pause_s`` (see :func:`watch_gc`)."""
        self.gc_pause.labels(generation=str(generation)).observe(max(0.0, pause_s))
        self._gc_pauses.append((time.monotonic() if now is None else now, max(0.0, pause_s)))

    def gc_pause_max(self, window_s: float = LOOP_WINDOW_S, now: float | None = None) -> float:
        """The longest collection (any generation) in the last ``window_s`` seconds.

        >>> m = Metrics()
        >>> m.observe_gc_pause(2, 0.08, now=10.0); m.observe_gc_pause(0, 0.001, now=30.0)
        >>> m.gc_pause_max(now=31.0), m.gc_pause_max(now=19.0)
        (0.001, 0.08)
        """
        return _recent_max(self._gc_pauses, 1, window_s, now)

    def set_structures(self, sizes: Mapping[str, int]) -> None:
        """The driver's structure sizes (``Driver.sizes()``), one gauge per structure."""
        for name, size in sizes.items():
            self.structures.labels(structure=name).set(size)

    def set_consumer_lag(self, lags: Mapping[tuple[str, int], int]) -> None:
        """Replace the per-partition lag gauges (partitions no longer assigned disappear)."""
        self.consumer_lag.clear()
        for (topic, partition), lag in lags.items():
            self.consumer_lag.labels(topic=topic, partition=str(partition)).set(max(0, lag))

    def track(self, *, customers: Callable[[], int], cluster_index: Callable[[], int],
              state_stores: Mapping[str, Callable[[], int]] | None = None) -> None:
        """Gauges read when scraped: live customers, live tokens, store bytes (cached)."""
        self.customers.set_function(lambda: float(customers()))
        self.cluster_index.set_function(lambda: float(cluster_index()))
        self._state_bytes_sources = dict(state_stores or {})

    def _refresh_state_bytes(self) -> None:
        now = time.monotonic()
        if now - self._state_bytes_at < STATE_BYTES_TTL_S:
            return
        self._state_bytes_at = now
        for store, size in self._state_bytes_sources.items():
            self.state_bytes.labels(store=store).set(size())

    # --- reading --------------------------------------------------------------------------
    def exposition(self) -> bytes:
        """The registry in Prometheus text format (what ``GET /metrics`` serves)."""
        self._refresh_state_bytes()
        return generate_latest(self.registry)

    def value(self, name: str, **labels: str) -> float | None:
        """One sample's current value (for ``/stats``, the dashboard and tests)."""
        for metric in self.registry.collect():
            for sample in metric.samples:
                if sample.name in {name, name + "_total"} and sample.labels == labels:
                    return float(sample.value)
        return None

    def total(self, name: str) -> float:
        """The sum of a counter over all its label values."""
        total = 0.0
        for metric in self.registry.collect():
            for sample in metric.samples:
                if sample.name in {name, name + "_total"}:
                    total += sample.value
        return total


def _recent_max(samples: Iterable[tuple[float, ...]], field: int, window_s: float,
                now: float | None) -> float:
    """The largest ``field`` of the (monotonic time, ...) samples of the last ``window_s``
    seconds before ``now``; 0 for none."""
    at = time.monotonic() if now is None else now
    return max((sample[field] for sample in samples if at - sample[0] <= window_s),
               default=0.0)


def watch_gc(metrics: Metrics, min_pause_s: float = 0.001,
             clock: Callable[[], float] = time.perf_counter) -> Callable[[], None]:
    """Time the garbage collections of this process into ``metrics``: every full one
    (generation 2), and the younger ones that take at least ``min_pause_s`` (they take
    microseconds and run thousands of times a second). Returns the function that stops
    watching. A collection runs on the loop's thread and holds the loop for its whole length,
    so a long one is a loop lag with nothing of ours on the stack.

    >>> import gc
    >>> m = Metrics(); stop = watch_gc(m, min_pause_s=0.0)
    >>> _ = gc.collect(); stop()
    >>> m.value("streamer_gc_pause_seconds_count", generation="2") >= 1
    True
    """
    started: list[float] = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = clock()
            return
        pause = clock() - started[0]
        if pause >= min_pause_s or info.get("generation") == 2:
            metrics.observe_gc_pause(int(info.get("generation", -1)), pause)

    gc.callbacks.append(callback)

    def stop() -> None:
        if callback in gc.callbacks:
            gc.callbacks.remove(callback)

    return stop


async def measure_loop_lag(metrics: Metrics, interval_s: float = LOOP_PROBE_S,
                           clock: Callable[[], float] = time.monotonic,
                           rounds: int | None = None,
                           cpu_clock: Callable[[], float] = time.thread_time,
                           on_wake: Callable[[], None] | None = None) -> None:
    """Sleep ``interval_s`` repeatedly; how much later than asked it wakes is the loop lag.

    A batch that hogs the event loop (CPU-bound scoring, a blocking call) shows up here as a
    late wake-up: with a probe every ``interval_s``, a stretch of ``b`` seconds without a turn
    for the loop is seen as a lag of at least ``b - interval_s``. The loop thread's CPU time
    over the probe (``cpu_clock``) tells a blocked loop from a starved one. ``rounds`` bounds
    the loop (tests), ``None`` runs until cancelled. ``on_wake`` is called at every wake-up
    (the :class:`~streamer.shell.loopwatch.LoopWatch` heartbeat).
    """
    n = 0
    while rounds is None or n < rounds:
        start, cpu = clock(), cpu_clock()
        await asyncio.sleep(interval_s)
        end = clock()
        if on_wake is not None:
            on_wake()
        metrics.observe_loop_lag(end - start - interval_s, now=end,
                                 on_cpu_s=cpu_clock() - cpu)
        n += 1


def consumer_lags(highwater: Mapping[tuple[str, int], int | None],
                  position: Mapping[tuple[str, int], int | None]) -> dict[tuple[str, int], int]:
    """Per partition: highwater minus position, for partitions where both are known.

    >>> consumer_lags({("t", 0): 10, ("t", 1): None, ("t", 2): 5}, {("t", 0): 4, ("t", 2): 7})
    {('t', 0): 6, ('t', 2): 0}
    """
    out: dict[tuple[str, int], int] = {}
    for tp, hw in highwater.items():
        pos = position.get(tp)
        if hw is not None and pos is not None:
            out[tp] = max(0, hw - pos)
    return out


def trigger_times(messages: Sequence[Any], timestamps_ms: Sequence[int],
                  customers: Iterable[str]) -> dict[str, int]:
    """Event id -> record timestamp, for the batch's records of ``customers`` only.

    Only customers that alerted in the batch are decoded again (alerts are rare), so the
    latency histogram costs nothing on ordinary batches.
    """
    wanted = {c.encode() for c in customers}
    out: dict[str, int] = {}
    if not wanted:
        return out
    for msg, ts in zip(messages, timestamps_ms, strict=True):
        if msg.key not in wanted:
            continue
        try:
            obj = orjson.loads(msg.value)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("event_id"), str):
            out[obj["event_id"]] = ts
    return out


#: How many objects :func:`freeze_start_up` moved out of the collector's generations (empty:
#: not yet). Kept here because ``gc.get_freeze_count()`` walks the whole permanent generation
#: (hundreds of thousands of objects in a worker): called per batch and per ``/stats`` request,
#: it was 6 % of a busy worker's CPU (py-spy, issue 9).
_FROZEN: list[int] = []


def freeze_start_up() -> None:
    """``gc.freeze()`` once: what start-up built (modules, the app, its tables and consumers)
    lives as long as the worker; out of the collector's generations, a full collection (it
    holds the loop) no longer walks it. Refcounting still frees what is dropped.

    >>> freeze_start_up(); n = frozen_objects(); freeze_start_up(); n == frozen_objects() > 0
    True
    """
    if not _FROZEN:
        gc.freeze()
        _FROZEN.append(gc.get_freeze_count())


def frozen_objects() -> int:
    """Objects frozen by :func:`freeze_start_up` (0 before it ran), without walking them."""
    return _FROZEN[0] if _FROZEN else 0

