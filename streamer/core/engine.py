"""Offline replay: the one :class:`~streamer.core.driver.Driver`, with the cluster stage wired
in-process.

The worker runs the same driver behind Faust. What differs, and only this:

* **cluster verdicts** travel through two Kafka topics in the worker, so they reach a member a
  few batches later than here, where :class:`Engine` hands each verdict over the moment the
  cluster stage produces it (a hydra head may need a few more requests to be flagged live);
* **timers** fire here after every event that makes one due; the worker fires them at the end
  of each batch, and at most ``timer_budget`` per batch (pacing a shared window boundary).

With ``partitions`` > 1 customers are spread over partitions exactly as Kafka's default
partitioner spreads records keyed by ``customer_id`` (murmur2), each partition with its own
watermark and population view, as in the worker.

>>> from streamer.core.events import event_from_dict
>>> eng = Engine()
>>> outs = []
>>> for i in range(40):
...     outs += eng.process(event_from_dict({"event_id": f"e{i}", "ts": 1767225600000 + i * 1000,
...         "customer_id": "c1", "model": "m", "input_tokens": 10, "output_tokens": 20}))
>>> outs += eng.finish()
>>> [o["kind"] for o in outs]
['features']
>>> outs[0]["events_total"]
40
>>> partition_for(b"cus_1", 4), partition_for(b"cus_2", 4)
(0, 3)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from streamer.core.clusters import ClusterIndex
from streamer.core.customer import CustomerState
from streamer.core.driver import DeadLetter, Driver, DriverConfig
from streamer.core.events import InferenceEvent
from streamer.core.outputs import Alert, ClusterSignal, FeatureRecord, Feedback
from streamer.core.population import Population


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (the Java client's ``Utils.murmur2``), as a signed 32-bit int."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail = length % 4
    base = length - tail
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - 2**32 if h & 0x80000000 else h


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class Engine:
    """Customer stage + population + cluster stage, in one process (see module docstring)."""

    def __init__(self, partitions: int = 1, config: DriverConfig | None = None) -> None:
        self.n_partitions = partitions
        self.driver = Driver(config)
        self.clusters = ClusterIndex()
        self._partition_of: dict[str, int] = {}

    # --- compatibility views ------------------------------------------------------------
    @property
    def customers(self) -> dict[str, CustomerState]:
        return {cid: st for cid, (_, st) in self.driver.cache.items()}

    @property
    def population(self) -> Population:
        """The population view (of partition 0: the only one unless ``partitions`` > 1)."""
        return self.driver.partition(0).population

    @property
    def watermark_ms(self) -> int:
        return max((p.meta.watermark_ms for p in self.driver.partitions.values()), default=0)

    def state_of(self, customer_id: str) -> CustomerState:
        return self.driver.state(customer_id, self.partition_of(customer_id))

    def partition_of(self, customer_id: str) -> int:
        if self.n_partitions == 1:
            return 0
        p = self._partition_of.get(customer_id)
        if p is None:
            p = self._partition_of[customer_id] = partition_for(customer_id.encode(),
                                                                self.n_partitions)
        return p

    # --- inputs -------------------------------------------------------------------------
    def process(self, event: InferenceEvent) -> list[dict[str, Any]]:
        """One event in; alert and feature dicts out (``kind`` says which)."""
        p = self.partition_of(event.customer_id)
        d = self.driver
        outputs: list[Any] = d.on_event(event, p)
        if d.due(p):
            outputs += d.on_watermark(p)
        d.dirty.clear()
        return self._route(outputs)

    def feedback(self, fb: Feedback) -> list[dict[str, Any]]:
        return self._route(self.driver.on_feedback(fb, self.partition_of(fb.customer_id)))

    def advance(self, watermark_ms: int) -> list[dict[str, Any]]:
        """Move every partition's event time to ``watermark_ms`` and fire what is due."""
        outputs: list[Any] = []
        for p in range(self.n_partitions):
            outputs += self.driver.on_watermark(p, watermark_ms)
            while self.driver.due(p):  # a timer budget paces, never drops
                outputs += self.driver.on_watermark(p)
        return self._route(outputs)

    def finish(self) -> list[dict[str, Any]]:
        """End of stream: close every open window."""
        from streamer.core.customer import window_deadline

        states = self.driver.cache.values()
        last = max((window_deadline(s) for _, s in states if s.window_events),
                   default=self.watermark_ms)
        return self.advance(max(self.watermark_ms, last))

    def _route(self, outputs: list[Any]) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = []
        for out in outputs:
            if isinstance(out, ClusterSignal):
                for verdict in self.clusters.step(out):
                    p = self.partition_of(verdict.customer_id)
                    result += self._route(self.driver.on_verdict(verdict, p))
            elif isinstance(out, Alert | FeatureRecord):
                result.append(out.to_dict())
            elif isinstance(out, DeadLetter):  # pragma: no cover - decoded events only
                continue
        return result


@dataclass(slots=True)
class ReplayResult:
    alerts: list[dict[str, Any]]
    features: list[dict[str, Any]]
    events: int
    engine: Engine


def replay(events: Iterable[InferenceEvent],
           progress: Callable[[int], None] | None = None, *,
           partitions: int = 1) -> ReplayResult:
    """Run a whole stream through a fresh :class:`Engine`; ``progress(n)`` is called per event."""
    eng = Engine(partitions)
    alerts: list[dict[str, Any]] = []
    features: list[dict[str, Any]] = []
    n = 0
    for event in events:
        for out in eng.process(event):
            (alerts if out["kind"] == "alert" else features).append(out)
        n += 1
        if progress is not None:
            progress(n)
    for out in eng.finish():
        (alerts if out["kind"] == "alert" else features).append(out)
    return ReplayResult(alerts=alerts, features=features, events=n, engine=eng)
