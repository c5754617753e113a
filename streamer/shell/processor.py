"""Between Faust and the core driver, without Faust: bytes in, sends and state writes out.

The Faust agents hand each batch of raw records to a :class:`CustomerProcessor` (or a
:class:`ClusterProcessor`) and get back what to send and which table entries to write. All
decisions — decoding, dedupe, watermarks, timers, scoring — are the core
:class:`~streamer.core.driver.Driver`'s; this module only turns records into driver calls and
driver outputs into Kafka records (alerts, features, cluster signals, dead letters) and
encoded states. Keeping it out of the agents lets it be tested without a broker.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from streamer.core import codec
from streamer.core.customer import CustomerState
from streamer.core.driver import (
    ClusterDriver,
    DeadLetter,
    Driver,
    DriverConfig,
    Getter,
    Kind,
)
from streamer.core.outputs import Alert, ClusterSignal, ClusterVerdict, FeatureRecord
from streamer.core.profile import prompt_cache_stats
from streamer.core.redact import redact
from streamer.core.scoring import SIGNAL_BY_NAME
from streamer.errors import StateCodecError

log = logging.getLogger("streamer.processor")


@dataclass(frozen=True, slots=True)
class Message:
    """One consumed record, as far as processing is concerned."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int | None = None


@dataclass(slots=True)
class Send:
    """One record to produce."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass(slots=True)
class BatchResult:
    sends: list[Send] = field(default_factory=list)
    #: table key -> (partition the entry belongs to, encoded state)
    writes: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    events: int = 0
    invalid: int = 0
    #: (trigger record, alert) for latency metrics (``None``: raised by a timer)
    alerts: list[tuple[Message | None, Alert]] = field(default_factory=list)
    #: input events skipped as replays or repeated ids (counted in ``events`` too)
    duplicates: int = 0
    #: event times of the input events processed (event-time lag histogram)
    event_ts_ms: list[int] = field(default_factory=list)
    #: optional fields dropped (unreadable) by field name
    dropped: dict[str, int] = field(default_factory=dict)


def dead_letter(msg: Message, reason: str, detail: str, dlq_topic: str, now_ms: int,
                redact_prompt: bool = True) -> Send:
    """The DLQ record: why and where from in headers; the original bytes, with prompt and
    completion text replaced by their length and hash unless ``redact_prompt`` is off."""
    value, how = (redact(msg.value) if redact_prompt else (msg.value, "off"))
    return Send(
        topic=dlq_topic,
        key=msg.key or b"",
        value=value,
        headers=[
            ("streamer-reason", reason.encode()),
            ("streamer-detail", detail[:500].encode("utf-8", "replace")),
            ("streamer-source-topic", msg.topic.encode()),
            ("streamer-source-partition", str(msg.partition).encode()),
            ("streamer-source-offset", str(msg.offset).encode()),
            ("streamer-failed-at", str(now_ms).encode()),
            ("streamer-redacted", how.encode()),
        ],
    )


def encode_state(key: str, state: Any, counters: Counter[str]) -> bytes | None:
    """Encode one state for the table; ``None`` (counted, logged) when it cannot be stored:
    past its size limit (:data:`streamer.core.codec.SIZE_LIMITS`) or holding a value its type
    does not allow."""
    kind = type(state).__name__
    try:
        data = codec.encode(state)
    except codec.StateTooLarge as err:
        counters["state_oversize"] += 1
        log.warning("state %s %r not stored: %s", kind, key[:100], err)
        return None
    except StateCodecError as err:
        counters["state_encode_errors"] += 1
        log.warning("state %s %r not stored: %s", kind, key[:100], err)
        return None
    counters[f"state_bytes:{kind}"] += len(data)
    return data


class CustomerProcessor:
    """The customer stage of one worker: a :class:`Driver` fed from the co-partitioned input,
    verdict and feedback topics."""

    def __init__(self, *, input_topic: str, verdicts_topic: str, feedback_topic: str,
                 alerts_topic: str, features_topic: str, dlq_topic: str, signals_topic: str,
                 max_message_bytes: int, max_cached: int = 100_000,
                 timer_budget: int | None = 2_000, max_future_skew_ms: int = 3_600_000,
                 key_policy: str = "dead_letter", input_format: str = "auto",
                 redact_dlq: bool = True, get: Getter | None = None,
                 dlq_guard_window: int = 1000, dlq_guard_threshold: float = 0.05,
                 quality: Any = None) -> None:
        self.input_topic = input_topic
        self.verdicts_topic = verdicts_topic
        self.feedback_topic = feedback_topic
        self.alerts_topic = alerts_topic
        self.features_topic = features_topic
        self.dlq_topic = dlq_topic
        self.signals_topic = signals_topic
        self.redact_dlq = redact_dlq
        config = DriverConfig(max_cached=max_cached, timer_budget=timer_budget,
                              max_future_skew_ms=max_future_skew_ms,
                              key_policy=key_policy,  # type: ignore[arg-type]
                              max_event_bytes=max_message_bytes, input_format=input_format,
                              dlq_guard_window=dlq_guard_window,
                              dlq_guard_threshold=dlq_guard_threshold)
        self.driver = Driver(config, get, known_signal=SIGNAL_BY_NAME.__contains__)
        self.driver.record_event_times = True
        if quality is not None:  # an InputQuality configured by the caller (tests, tools)
            self.driver.quality = quality
        self.counters: Counter[str] = Counter()
        #: partitions with timers still due after a batch (the budget ran out)
        self.pending: set[int] = set()
        self.processed = 0
        self.invalid = 0

    def bind(self, get: Getter) -> None:
        """Where stored states are read from (the table)."""
        self.driver.get = get

    @property
    def cache(self) -> Any:
        return self.driver.cache

    @property
    def quality(self) -> Any:
        """The input's DLQ-rate guard and dropped-field counts (:mod:`streamer.core.dlq_guard`)."""
        return self.driver.quality

    def kind_of(self, topic: str) -> Kind:
        if topic == self.verdicts_topic:
            return "verdict"
        if topic == self.feedback_topic:
            return "feedback"
        return "event"

    # --- processing ---------------------------------------------------------------------
    def process_batch(self, messages: Iterable[Message], now_ms: int) -> BatchResult:
        """Process one batch to its end (see :meth:`process_batch_steps`)."""
        return run_steps(self.process_batch_steps(messages, now_ms))

    def process_batch_steps(self, messages: Iterable[Message], now_ms: int,
                            slice_s: float | None = None,
                            clock: Callable[[], float] = time.perf_counter
                            ) -> Generator[BatchResult, None, BatchResult]:
        """:meth:`process_batch` in slices: the generator yields whenever ``slice_s`` seconds of
        work have passed since it last yielded (never, with ``None``), and returns the batch's
        :class:`BatchResult`. The Faust agent gives the event loop a turn at each yield, so a
        batch of 500 events never blocks it for longer than a slice; the batch stays the unit
        of state writes (one write per changed key, after the last record).

        Each yield hands over the batch's result so far: its ``sends`` only grow, so the agent
        can give the producer the outputs of each slice as soon as the slice ends (an alert is
        not held back until the batch's last record and its state writes).

        >>> p = CustomerProcessor(input_topic="in", verdicts_topic="v", feedback_topic="f",
        ...     alerts_topic="a", features_topic="x", dlq_topic="d", signals_topic="s",
        ...     max_message_bytes=10_000)
        >>> ticks = iter(range(100))
        >>> steps = p.process_batch_steps([Message("in", 0, 0, b"c1", b"{}")] * 3, 0,
        ...                               slice_s=1.0, clock=lambda: float(next(ticks)))
        >>> yields = sum(1 for _ in iter(lambda: next(steps, "end"), "end"))
        >>> yields >= 3
        True
        """
        deadline = None if slice_s is None else clock() + slice_s
        result = BatchResult()
        touched: set[int] = set(self.pending)
        d = self.driver
        for msg in messages:
            if deadline is not None and clock() >= deadline:
                yield result
                deadline = clock() + slice_s  # type: ignore[operator]
            kind = self.kind_of(msg.topic)
            before = d.counters["processed"]
            skipped = d.counters["duplicates"] + d.counters["replayed"]
            outputs = d.on_record(kind, msg.partition, msg.offset if kind == "event" else None,
                                  msg.key if msg.key is not None else b"", msg.value,
                                  timestamp_ms=msg.timestamp_ms, now_ms=now_ms)
            if kind == "event":
                dup = d.counters["duplicates"] + d.counters["replayed"] - skipped
                result.duplicates += dup
                result.events += d.counters["processed"] - before + dup
            touched.add(msg.partition)
            self._encode(outputs, msg, now_ms, result)
            # Timers fire right after the record that made them due, exactly as offline
            # (streamer.core.engine), so a replay through the worker gives the same outputs.
            if d.due(msg.partition):
                self._encode(d.on_watermark(msg.partition), None, now_ms, result)
        self.pending.clear()
        for p in sorted(touched):
            if d.due(p):  # left by the budget: fire some more now, the rest from the timer
                self._encode(d.on_watermark(p), None, now_ms, result)
                if d.due(p):
                    self.pending.add(p)
        for key, (p, state) in d.take_writes().items():
            if deadline is not None and clock() >= deadline:
                yield result
                deadline = clock() + slice_s  # type: ignore[operator]
            data = encode_state(key, state, self.counters)
            if data is not None:
                result.writes[key] = (p, data)
        result.event_ts_ms = d.event_times
        d.event_times = []
        result.dropped = dict(d.dropped)
        d.dropped.clear()
        self.processed += result.events - result.duplicates
        self.invalid += result.invalid
        if self.quality.guard.should_log(now_ms / 1000):
            logging.getLogger("streamer.input").warning(self.quality.guard.status().log_line())
        return result

    def adopt(self, partition: int, items: Iterable[tuple[bytes, bytes]]) -> int:
        """Rebuild the partition's timers from its stored customer states; returns how many."""
        n = 0
        for key, raw in items:
            try:
                cid = key.decode()
            except UnicodeDecodeError:
                continue
            self.driver.adopt(partition, cid, raw)
            n += 1
        return n

    def snapshot_populations(self) -> dict[str, tuple[int, bytes]]:
        """Encoded population views by key, with the partition each belongs to."""
        out: dict[str, tuple[int, bytes]] = {}
        for key, (p, pop) in self.driver.snapshots().items():
            data = encode_state(key, pop, self.counters)
            if data is not None:
                out[key] = (p, data)
        return out

    def forget_partitions(self, partitions: Iterable[int]) -> None:
        gone = set(partitions)
        self.driver.forget_partitions(gone)
        self.pending -= gone

    def _encode(self, outputs: Iterable[Any], msg: Message | None, now_ms: int,
                result: BatchResult) -> None:
        sends = result.sends
        for out in outputs:
            if isinstance(out, Alert):
                sends.append(Send(self.alerts_topic, out.customer_id.encode(),
                                  orjson.dumps(out.to_dict(emitted_at_ms=now_ms))))
                result.alerts.append((msg, out))
            elif isinstance(out, FeatureRecord):
                sends.append(Send(self.features_topic, out.customer_id.encode(),
                                  orjson.dumps(out.to_dict())))
            elif isinstance(out, ClusterSignal):
                sends.append(Send(self.signals_topic, out.token.encode(),
                                  orjson.dumps(out.to_dict())))
            elif isinstance(out, DeadLetter) and msg is not None:
                result.invalid += 1
                sends.append(dead_letter(msg, out.reason, out.detail, self.dlq_topic, now_ms,
                                         self.redact_dlq))

    def stats(self) -> dict[str, Any]:
        """Counters and sizes for ``/stats`` and metrics."""
        d = self.driver
        return {"counters": dict(d.counters), "dead_letters": dict(d.dead_letters),
                "sizes": d.sizes(), "state": dict(self.counters),
                "prompt_cache": prompt_cache_stats(),
                "watermarks": {str(p): part.meta.watermark_ms
                               for p, part in d.partitions.items()}}

    def customer_summary(self, customer_id: str, get: Getter) -> dict[str, Any] | None:
        """What the web endpoint shows for one customer (None if unknown)."""
        hit = self.driver.cache.get(customer_id)
        if hit is not None:
            st = hit[1]
        else:
            raw = get(customer_id)
            if not raw:
                return None
            try:
                st = codec.decode(raw, CustomerState)
            except StateCodecError:
                return None
            if st.customer_id != customer_id:  # a state stored under another customer's key
                return None
        return {
            "customer_id": customer_id, "events_processed": st.events_total,
            "duplicates_skipped": st.duplicates, "risk": round(st.risk, 4),
            "episode": st.episode.number, "episode_open": st.episode.is_open,
            "severity": st.episode.severity if st.episode.is_open else None,
            "last_event_ts_ms": st.profile.last_ts_ms,
        }


class ClusterProcessor:
    """The cluster stage of one worker: token states in, verdicts out."""

    def __init__(self, verdicts_topic: str, dlq_topic: str = "", max_cached: int = 100_000,
                 redact_dlq: bool = True, get: Getter | None = None) -> None:
        self.verdicts_topic = verdicts_topic
        self.dlq_topic = dlq_topic
        self.redact_dlq = redact_dlq
        self.driver = ClusterDriver(get, max_cached=max_cached)
        self.counters: Counter[str] = Counter()

    def bind(self, get: Getter) -> None:
        self.driver.get = get

    @property
    def cache(self) -> Any:
        return self.driver.cache

    def process_batch(self, messages: Iterable[Message], now_ms: int = 0) -> BatchResult:
        result = BatchResult()
        for msg in messages:
            for out in self.driver.on_record(msg.partition, msg.value):
                if isinstance(out, ClusterVerdict):
                    result.sends.append(Send(self.verdicts_topic, out.customer_id.encode(),
                                             orjson.dumps(out.to_dict())))
                elif self.dlq_topic:
                    result.invalid += 1
                    result.sends.append(dead_letter(msg, out.reason, out.detail,
                                                    self.dlq_topic, now_ms, self.redact_dlq))
        for key, (p, state) in self.driver.take_writes().items():
            data = encode_state(key, state, self.counters)
            if data is not None:
                result.writes[key] = (p, data)
        return result

    def forget_partitions(self, partitions: Iterable[int]) -> None:
        self.driver.forget_partitions(partitions)


def run_steps(steps: Generator[BatchResult, None, BatchResult]) -> BatchResult:
    """Run a sliced batch (:meth:`CustomerProcessor.process_batch_steps`) without yielding."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            result: BatchResult = done.value
            return result


def wall_ms() -> int:
    """Wall-clock milliseconds (the shell's only clock: for ``emitted_at``)."""
    return int(time.time() * 1000)
