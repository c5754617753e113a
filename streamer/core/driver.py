"""The one event-time driver: offline replay and the Faust worker are thin adapters over it.

State goes in and comes out explicitly (bytewax-style). A :class:`Driver` owns, for each
partition it serves:

* the event-time **watermark** (the largest event time seen on the partition; an event dated
  further ahead of its broker timestamp than ``max_future_skew_ms`` is dead-lettered as
  ``bad_timestamp`` instead, so one bad clock cannot stall a partition),
* the **population view** (:class:`~streamer.core.population.Population`),
* the **timers** (:class:`~streamer.core.timers.Timers`): one live deadline per customer, for
  closing windows and resolving quiet episodes of customers who stopped sending,
* the **replay ledger** (:class:`~streamer.core.ledger.OffsetLedger`): exact dedupe by offset
  (with the :class:`~streamer.core.ledger.Handled` mark each stored customer state carries),

and the live customer states (an LRU of at most ``max_cached`` states, evicting only states
already handed out for persistence). Its inputs:

* :meth:`Driver.on_record` — raw bytes of any of its topics (decoded totally: anything
  unusable becomes a :class:`DeadLetter` output, never an exception);
* :meth:`Driver.on_event`, :meth:`Driver.on_verdict`, :meth:`Driver.on_feedback` — decoded;
* :meth:`Driver.on_watermark` — fire due timers (at most ``timer_budget`` per call);
* :meth:`Driver.notify_at` — when a partition next needs :meth:`Driver.on_watermark`.

Outputs are the core's own (:class:`~streamer.core.outputs.Alert`,
:class:`~streamer.core.outputs.FeatureRecord`, :class:`~streamer.core.outputs.ClusterSignal`)
plus :class:`DeadLetter`. What changed is collected with :meth:`Driver.take_writes`.

The cluster stage has its own small driver, :class:`ClusterDriver`.

>>> from streamer.core.events import event_from_dict
>>> d = Driver()
>>> outs = []
>>> for i in range(12):
...     outs += d.on_event(event_from_dict({"event_id": f"e{i}", "ts": 1767225600000 + i * 60_000,
...         "customer_id": "c1", "model": "m", "input_tokens": 10, "output_tokens": 20}),
...         partition=0, offset=i)
>>> [type(o).__name__ for o in outs]
['FeatureRecord', 'FeatureRecord']
>>> d.on_event(event_from_dict({"event_id": "e3", "ts": 1767225600000, "customer_id": "c1",
...     "model": "m", "input_tokens": 1, "output_tokens": 1}), partition=0, offset=3)
[]
>>> d.counters["replayed"], d.state("c1", 0).events_total
(1, 12)
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from streamer.core import codec, customer
from streamer.core.clusters import TokenState, step_token
from streamer.core.customer import CustomerState
from streamer.core.dlq_guard import DlqGuard, InputQuality
from streamer.core.events import InferenceEvent, decode_event
from streamer.core.ledger import OffsetLedger
from streamer.core.messages import parse_feedback, parse_signal, parse_verdict
from streamer.core.meta import PartitionMeta
from streamer.core.outputs import Alert, ClusterSignal, ClusterVerdict, FeatureRecord, Feedback
from streamer.core.population import Population
from streamer.core.timers import Timers
from streamer.errors import InvalidEvent, StateCodecError

log = logging.getLogger("streamer.driver")
Getter = Callable[[str], bytes | None]
Kind = Literal["event", "verdict", "feedback"]
KeyPolicy = Literal["dead_letter", "count", "ignore"]
#: Keys of the per-partition records in the customer-state table (never a customer id: ids
#: starting with ``__`` are refused by :meth:`Driver.on_event`).
POPULATION_KEY = "__population__/{}"
PARTITION_KEY = "__partition__/{}"
RESERVED_PREFIX = "__"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An input record the driver could not use, with the reason the DLQ record carries."""

    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class DriverConfig:
    """How the driver bounds itself. Offline replay uses the defaults (unbounded, exact)."""

    #: live customer states kept in memory (``None``: all)
    max_cached: int | None = None
    #: timers fired per :meth:`Driver.on_watermark` call (``None``: every due one)
    timer_budget: int | None = None
    #: an event dated more than this ahead of its record's broker timestamp is dead-lettered
    #: (``0``: no bound, e.g. offline where there is no broker timestamp)
    max_future_skew_ms: int = 0
    #: what to do with an event whose record key is not its ``customer_id``
    key_policy: KeyPolicy = "dead_letter"
    max_event_bytes: int = 1_000_000
    input_format: str = "auto"
    #: DLQ-rate guard: degraded when more than ``dlq_guard_threshold`` of the last
    #: ``dlq_guard_window`` input messages were dead-lettered
    dlq_guard_window: int = 1000
    dlq_guard_threshold: float = 0.05


@dataclass(slots=True)
class _Partition:
    number: int
    population: Population
    meta: PartitionMeta
    timers: Timers = field(default_factory=Timers)
    ledger: OffsetLedger = field(default_factory=OffsetLedger)


Output = Alert | FeatureRecord | ClusterSignal | DeadLetter


class Driver:
    """The customer stage of one worker (or of the whole stream, offline)."""

    def __init__(self, config: DriverConfig | None = None, get: Getter | None = None,
                 known_signal: Callable[[str], bool] | None = None) -> None:
        self.config = config or DriverConfig()
        self.get: Getter = get or (lambda key: None)
        self.known_signal = known_signal
        self.cache: OrderedDict[str, tuple[int, CustomerState]] = OrderedDict()
        self.partitions: dict[int, _Partition] = {}
        self.dirty: dict[str, int] = {}
        self.dirty_meta: set[int] = set()
        self.counters: Counter[str] = Counter()
        self.dead_letters: Counter[str] = Counter()
        #: input health: the DLQ-rate guard and dropped optional fields by field and reason
        self.quality = InputQuality(DlqGuard(self.config.dlq_guard_window,
                                             self.config.dlq_guard_threshold))
        #: optional fields dropped since the shell last drained it, by field
        self.dropped: Counter[str] = Counter()
        #: event times of processed events, when ``record_event_times`` (drained by the shell)
        self.record_event_times = False
        self.event_times: list[int] = []

    # --- state --------------------------------------------------------------------------
    def _decode(self, raw: bytes, what: str, key: str = "") -> Any:
        try:
            return codec.decode(raw)
        except StateCodecError as err:
            log.warning("stored %s state %r did not decode, starting it afresh: %s", what,
                        key[:200], err)
            self.counters["state_decode_errors"] += 1
            self.counters[f"state_decode_errors:{what}"] += 1
            return None

    def partition(self, p: int) -> _Partition:
        part = self.partitions.get(p)
        if part is None:
            pop = meta = None
            raw = self.get(POPULATION_KEY.format(p))
            if raw:
                pop = self._decode(raw, "population", POPULATION_KEY.format(p))
            raw = self.get(PARTITION_KEY.format(p))
            if raw:
                meta = self._decode(raw, "partition", PARTITION_KEY.format(p))
            part = self.partitions[p] = _Partition(
                number=p, population=pop if isinstance(pop, Population) else Population(),
                meta=meta if isinstance(meta, PartitionMeta) else PartitionMeta())
        return part

    def state(self, customer_id: str, partition: int) -> CustomerState:
        hit = self.cache.get(customer_id)
        if hit is not None:
            self.cache.move_to_end(customer_id)
            return hit[1]
        raw = self.get(customer_id)
        st = self._decode(raw, "customer", customer_id) if raw else None
        if not isinstance(st, CustomerState) or st.customer_id != customer_id:
            if st is not None:
                self.counters["state_decode_errors"] += 1
            st = CustomerState(customer_id)
        self.cache[customer_id] = (partition, st)
        self.partition(partition).timers.set(customer_id, customer.next_deadline(st))
        return st

    def adopt(self, partition: int, customer_id: str, raw: bytes) -> None:
        """Schedule a stored customer's pending deadline (rebuilding timers after a restart
        or a rebalance) without keeping its state in memory."""
        if customer_id in self.cache or customer_id.startswith(RESERVED_PREFIX):
            return
        st = self._decode(raw, "customer", customer_id)
        if isinstance(st, CustomerState):
            self.partition(partition).timers.set(customer_id, customer.next_deadline(st))

    def _touch(self, cid: str, partition: int, st: CustomerState) -> None:
        self.dirty[cid] = partition
        self.partition(partition).timers.set(cid, customer.next_deadline(st))

    def take_writes(self) -> dict[str, tuple[int, Any]]:
        """Changed states since the last call, by table key, with their partition; then trim
        the cache (every state left in it has now been handed out for persistence)."""
        out: dict[str, tuple[int, Any]] = {}
        for cid, p in self.dirty.items():
            hit = self.cache.get(cid)
            if hit is not None:
                st = hit[1]
                part = self.partitions.get(p)
                if part is not None:  # what the state reflects travels with it
                    st.handled = part.ledger.snapshot(st.handled)
                out[cid] = (p, st)
        for p in self.dirty_meta:
            if p in self.partitions:
                out[PARTITION_KEY.format(p)] = (p, self.partitions[p].meta)
        self.dirty.clear()
        self.dirty_meta.clear()
        limit = self.config.max_cached
        if limit is not None:
            while len(self.cache) > limit:
                self.cache.popitem(last=False)
                self.counters["evicted"] += 1
        return out

    def snapshots(self) -> dict[str, tuple[int, Any]]:
        """The population views by table key (persisted now and then, not every batch)."""
        return {POPULATION_KEY.format(p): (p, part.population)
                for p, part in self.partitions.items()}

    def forget_partitions(self, partitions: Iterable[int]) -> None:
        """Drop everything about partitions this worker no longer owns (after a rebalance)."""
        gone = set(partitions)
        for cid in [c for c, (p, _) in self.cache.items() if p in gone]:
            del self.cache[cid]
            self.dirty.pop(cid, None)
        for p in gone:
            self.partitions.pop(p, None)
            self.dirty_meta.discard(p)

    # --- inputs -------------------------------------------------------------------------
    def on_record(self, kind: Kind, partition: int, offset: int | None, key: bytes | None,
                  value: bytes, *, timestamp_ms: int | None = None,
                  now_ms: int = 0) -> list[Output]:
        """Raw bytes of one record of any input topic; never raises on what the bytes hold."""
        try:
            if kind == "verdict":
                return self.on_verdict(parse_verdict(value), partition)
            if kind == "feedback":
                fb = parse_feedback(value, now_ms)
                if self.config.key_policy != "ignore" and key != fb.customer_id.encode():
                    self.counters["key_mismatch"] += 1
                    if self.config.key_policy == "dead_letter":
                        return [self._dead("key_mismatch", "feedback record key is not its "
                                           "customer_id (use `streamer feedback`)")]
                return self.on_feedback(fb, partition)
            event = decode_event(value, max_bytes=self.config.max_event_bytes,
                                 input_format=self.config.input_format)
        except InvalidEvent as err:
            if kind == "event":
                self._handled(self.partition(partition), offset)
                self.quality.rejected(err.reason, err.field)
            return [self._dead(err.reason, err.detail)]
        outputs = self.on_event(event, partition, offset, key=key, timestamp_ms=timestamp_ms)
        if outputs and isinstance(outputs[0], DeadLetter):
            self.quality.rejected(outputs[0].reason, None)
        else:
            self.quality.accepted(event.dropped)
            for name, _ in event.dropped:
                self.dropped[name] += 1
        return outputs

    def _dead(self, reason: str, detail: str) -> DeadLetter:
        self.dead_letters[reason] += 1
        return DeadLetter(reason, detail)

    def on_event(self, event: InferenceEvent, partition: int, offset: int | None = None, *,
                 key: bytes | None = None, timestamp_ms: int | None = None) -> list[Output]:
        part = self.partition(partition)
        cid = event.customer_id
        if cid.startswith(RESERVED_PREFIX):
            self._handled(part, offset)
            return [self._dead("reserved_id",
                               f"customer_id may not start with {RESERVED_PREFIX!r}")]
        if key is not None and key != cid.encode() and self.config.key_policy != "ignore":
            # (offline replay passes no key; a keyless record in the worker has key b"")
            self.counters["key_mismatch"] += 1
            if self.config.key_policy == "dead_letter":
                self._handled(part, offset)
                return [self._dead("key_mismatch", "record key is not the event's customer_id "
                                   "(produce keyed by customer_id)")]
        skew = self.config.max_future_skew_ms
        if skew and timestamp_ms is not None and event.ts_ms > timestamp_ms + skew:
            self._handled(part, offset)
            ahead = (event.ts_ms - timestamp_ms) // 1000
            return [self._dead("bad_timestamp", f"ts is {ahead} s ahead of the record's broker "
                               f"timestamp (allowed {skew // 1000} s)")]
        st = self.state(cid, partition)
        step_offset = offset
        if offset is not None:
            # A replay (skip it) when this process handled the offset already, or when the
            # customer's stored state says it had been handled when the state was written
            # (it then reflects it). Anything else was never processed, even below the
            # customer's last offset: handed over late, or skipped by a process that died
            # before fetching it again (see streamer.core.ledger).
            if offset in part.ledger:
                self.counters["replayed"] += 1
                return []
            if offset in st.handled:
                # Written again although unchanged: the state read back may be the local
                # store's, ahead of the changelog (a kill -9 between the store's write and the
                # changelog's flush leaves the input uncommitted). Without the rewrite the
                # changelog, from which any other worker recovers, never gets it.
                self.counters["replayed"] += 1
                self._handled(part, offset)
                self._touch(cid, partition, st)
                return []
            if offset <= st.last_offset:
                self.counters["out_of_order"] += 1
                step_offset = None  # process it, keep last_offset
        self._handled(part, offset)
        if event.ts_ms > part.meta.watermark_ms:
            part.meta.watermark_ms = event.ts_ms
            self.dirty_meta.add(partition)
        before = st.duplicates
        _, outputs = customer.step(st, event, part.population, offset=step_offset,
                                   watermark_ms=part.meta.watermark_ms)
        if st.duplicates != before:
            self.counters["duplicates"] += 1
        else:
            self.counters["processed"] += 1
            if self.record_event_times:
                self.event_times.append(event.ts_ms)
        self._touch(cid, partition, st)
        return list(outputs)

    @staticmethod
    def _handled(part: _Partition, offset: int | None) -> None:
        if offset is not None:
            part.ledger.add(offset)

    def on_verdict(self, verdict: ClusterVerdict, partition: int) -> list[Output]:
        if verdict.customer_id.startswith(RESERVED_PREFIX):
            return [self._dead("reserved_id", "verdict for a reserved key")]
        part = self.partition(partition)
        st = self.state(verdict.customer_id, partition)
        _, outputs = customer.apply_verdict(st, verdict, part.population)
        self.counters["verdicts"] += 1
        self._touch(verdict.customer_id, partition, st)
        return list(outputs)

    def on_feedback(self, fb: Feedback, partition: int) -> list[Output]:
        if fb.customer_id.startswith(RESERVED_PREFIX):
            return [self._dead("reserved_id", "feedback for a reserved key")]
        st = self.state(fb.customer_id, partition)
        # the verdict also teaches the partition's shared, bounded corrections (scoring.py)
        _, outputs = customer.apply_feedback(st, fb, self.partition(partition).population)
        self.counters["feedback"] += 1
        self._touch(fb.customer_id, partition, st)
        return list(outputs)

    def on_watermark(self, partition: int, watermark_ms: int | None = None) -> list[Output]:
        """Fire the partition's due timers (at most ``timer_budget``); ``watermark_ms`` may
        move the watermark forward (end of an offline stream), never back."""
        part = self.partition(partition)
        if watermark_ms is not None and watermark_ms > part.meta.watermark_ms:
            part.meta.watermark_ms = watermark_ms
            self.dirty_meta.add(partition)
        wm = part.meta.watermark_ms
        budget = self.config.timer_budget
        outputs: list[Output] = []
        fired = 0
        while budget is None or fired < budget:
            due = part.timers.pop_due(wm, None if budget is None else budget - fired)
            if not due:
                break
            fired += len(due)
            for cid in due:
                st = self.state(cid, partition)
                outputs.extend(customer.tick(st, wm, part.population)[1])
                self._touch(cid, partition, st)
        self.counters["timers_fired"] += fired
        return outputs

    def notify_at(self, partition: int) -> int | None:
        """Event time at which the partition next needs :meth:`on_watermark` (or ``None``)."""
        part = self.partitions.get(partition)
        return None if part is None else part.timers.next_at()

    def due(self, partition: int) -> bool:
        """Does the partition have a timer due at its current watermark?"""
        part = self.partitions.get(partition)
        if part is None:
            return False
        at = part.timers.next_at()
        return at is not None and at <= part.meta.watermark_ms

    def watermark(self, partition: int) -> int:
        part = self.partitions.get(partition)
        return 0 if part is None else part.meta.watermark_ms

    def sizes(self) -> dict[str, int]:
        """Cardinalities of every bounded structure (for metrics)."""
        return {
            "customers_cached": len(self.cache),
            "timers": sum(len(p.timers) for p in self.partitions.values()),
            "timer_heap": sum(p.timers.heap_size for p in self.partitions.values()),
            "ledger_ranges": sum(len(p.ledger.ranges) for p in self.partitions.values()),
            "handled_gaps_dropped": sum(p.ledger.gaps_dropped
                                        for p in self.partitions.values()),
            "partitions": len(self.partitions),
        }


class ClusterDriver:
    """The cluster stage of one worker: token states in, verdicts out."""

    def __init__(self, get: Getter | None = None, max_cached: int | None = None) -> None:
        self.get: Getter = get or (lambda key: None)
        self.max_cached = max_cached
        self.cache: OrderedDict[str, tuple[int, TokenState]] = OrderedDict()
        self.dirty: dict[str, int] = {}
        self.counters: Counter[str] = Counter()
        self.dead_letters: Counter[str] = Counter()

    def token(self, key: str, partition: int) -> TokenState:
        hit = self.cache.get(key)
        if hit is not None:
            self.cache.move_to_end(key)
            return hit[1]
        raw = self.get(key)
        st: Any = None
        if raw:
            try:
                st = codec.decode(raw)
            except StateCodecError as err:
                log.warning("stored token state %r did not decode, starting it afresh: %s",
                            key[:200], err)
                self.counters["state_decode_errors"] += 1
        token = st if isinstance(st, TokenState) else TokenState()
        self.cache[key] = (partition, token)
        return token

    def on_record(self, partition: int, value: bytes) -> list[ClusterVerdict | DeadLetter]:
        try:
            signal = parse_signal(value)
        except InvalidEvent as err:
            self.dead_letters[err.reason] += 1
            return [DeadLetter(err.reason, err.detail)]
        return list(self.on_signal(signal, partition))

    def on_signal(self, signal: ClusterSignal, partition: int) -> list[ClusterVerdict]:
        st = self.token(signal.token, partition)
        _, verdicts = step_token(st, signal)
        self.dirty[signal.token] = partition
        self.counters["signals"] += 1
        return verdicts

    def take_writes(self) -> dict[str, tuple[int, Any]]:
        out = {k: (p, self.cache[k][1]) for k, p in self.dirty.items() if k in self.cache}
        self.dirty.clear()
        if self.max_cached is not None:
            while len(self.cache) > self.max_cached:
                self.cache.popitem(last=False)
        return out

    def forget_partitions(self, partitions: Iterable[int]) -> None:
        gone = set(partitions)
        for key in [k for k, (p, _) in self.cache.items() if p in gone]:
            del self.cache[key]
            self.dirty.pop(key, None)
