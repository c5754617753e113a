"""The loop every integration shares: consume a topic, deliver, commit only after delivery.

A sink reads its topic with a consumer group and manual commits. For each poll it parses every
record with a total parser (a malformed record is counted, logged once and skipped), hands the
parsed batch to ``deliver`` and retries with exponential backoff until delivery succeeds. Only
then are the offsets committed, so an alert is never lost: a crash or a stop while the target is
down leaves the batch uncommitted and it is delivered again after the restart. Delivery must
therefore be idempotent (Alertmanager dedupes by labels, webhook receivers by ``alert_id``,
Feast overwrites by entity and timestamp).

A target may also *reject* an item outright (HTTP 400/413/422: retrying cannot help). The batch
is then split and items are delivered one at a time; an item rejected on its own is counted,
logged and skipped.
"""

from __future__ import annotations

import argparse
import logging
import random
import signal
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from streamer.errors import StreamerError
from streamer.integrations.records import InvalidRecord
from streamer.settings import Settings

log = logging.getLogger("streamer.integrations")

T = TypeVar("T")

# Status codes that mean "this payload is wrong", not "try again later".
REJECTED_STATUSES = frozenset({400, 413, 422})


class DeliveryError(StreamerError):
    """Delivery failed; ``rejected`` means the target refused the payload itself (no retry)."""

    def __init__(self, message: str, *, rejected: bool = False) -> None:
        super().__init__(message)
        self.rejected = rejected


@dataclass(slots=True)
class Backoff:
    """Exponential backoff with jitter: ``initial_s`` doubling up to ``max_s``.

    >>> b = Backoff(initial_s=1.0, max_s=5.0, jitter=0.0)
    >>> [b.delay(n) for n in range(5)]
    [1.0, 2.0, 4.0, 5.0, 5.0]
    """

    initial_s: float = 0.2
    max_s: float = 30.0
    jitter: float = 0.2

    def delay(self, attempt: int) -> float:
        base = min(self.max_s, self.initial_s * 2.0 ** min(attempt, 30))
        return base * (1.0 + self.jitter * (2 * random.random() - 1))


@dataclass(slots=True)
class SinkStats:
    """Counters of one sink run (logged on exit)."""

    records: int = 0
    delivered: int = 0
    batches: int = 0
    retries: int = 0
    malformed: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    commit_failures: int = 0

    def summary(self) -> str:
        bad = ", ".join(f"{k}={v}" for k, v in sorted(self.malformed.items())) or "0"
        return (f"records={self.records} delivered={self.delivered} batches={self.batches} "
                f"retries={self.retries} malformed[{bad}] rejected={self.rejected} "
                f"commit_failures={self.commit_failures}")


def post_json(url: str, body: bytes, headers: Mapping[str, str] | None = None,
              timeout_s: float = 10.0) -> int:
    """POST ``body``; return the 2xx status or raise :class:`DeliveryError`."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "streamer", **dict(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace").strip()
        raise DeliveryError(f"{url} answered {exc.code}: {detail}",
                            rejected=exc.code in REJECTED_STATUSES) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DeliveryError(f"{url} unreachable: {getattr(exc, 'reason', exc)}") from None


class Sink(Generic[T]):
    """A consumer loop over one topic; ``deliver(items)`` raises :class:`DeliveryError`."""

    def __init__(self, name: str, parse: Callable[[bytes], T],
                 deliver: Callable[[Sequence[T]], None], *, backoff: Backoff | None = None,
                 tick: Callable[[], None] | None = None) -> None:
        self.name = name
        self.parse = parse
        self.deliver = deliver
        self.backoff = backoff or Backoff()
        self.tick = tick
        self.stats = SinkStats()
        self.stop = threading.Event()
        self.wait: Callable[[float], object] = self.stop.wait

    def _deliver_until_done(self, items: Sequence[T]) -> bool:
        """Deliver with retries; False if stopped first. Rejected items are skipped."""
        attempt = 0
        while not self.stop.is_set():
            try:
                self.deliver(items)
                self.stats.delivered += len(items)
                return True
            except DeliveryError as exc:
                if exc.rejected:
                    return self._deliver_one_by_one(items, exc)
                wait = self.backoff.delay(attempt)
                attempt += 1
                self.stats.retries += 1
                log.warning("%s: delivery failed (attempt %d, retrying in %.1f s): %s",
                            self.name, attempt, wait, exc)
                self.wait(wait)
        return False

    def _deliver_one_by_one(self, items: Sequence[T], first: DeliveryError) -> bool:
        if len(items) == 1:
            self.stats.rejected += 1
            log.error("%s: target rejected an item, skipping it: %s", self.name, first)
            return True
        return all(self._deliver_until_done([item]) for item in items)

    def process(self, values: Sequence[tuple[str, bytes]]) -> bool:
        """Parse and deliver one polled batch of ``(where, value)``; True when delivered."""
        items: list[T] = []
        for where, value in values:
            self.stats.records += 1
            try:
                items.append(self.parse(value))
            except InvalidRecord as exc:
                self.stats.malformed[exc.reason] += 1
                log.warning("%s: skipped malformed record %s: %s", self.name, where, exc)
        if not items:
            return True
        self.stats.batches += 1
        return self._deliver_until_done(items)

    def run(self, consumer: Any, *, poll_ms: int = 500, max_records: int = 500,
            idle_exit_s: float = 0.0) -> SinkStats:
        """Consume until :attr:`stop` is set (or ``idle_exit_s`` without records)."""
        from kafka.errors import KafkaError

        self.wait = lambda seconds: self._wait_polling(consumer, seconds)
        idle_since = time.monotonic()
        while not self.stop.is_set():
            if self.tick is not None:
                self.tick()
            polled = consumer.poll(timeout_ms=poll_ms, max_records=max_records)
            batch = [(f"{tp.topic}:{tp.partition}@{r.offset}", r.value)
                     for tp, records in polled.items() for r in records]
            if not batch:
                if idle_exit_s and time.monotonic() - idle_since > idle_exit_s:
                    break
                continue
            idle_since = time.monotonic()
            if not self.process(batch):
                break  # stopped while the target was down: leave the batch uncommitted
            try:
                consumer.commit()
            except KafkaError as exc:  # e.g. a rebalance: the batch is delivered again
                self.stats.commit_failures += 1
                log.warning("%s: commit failed, the batch will be delivered again: %s",
                            self.name, exc)
        return self.stats

    def _wait_polling(self, consumer: Any, seconds: float) -> None:
        """Wait between retries while staying in the group: poll with every partition paused.

        A rebalance during the wait may assign new partitions, which are not paused: records a
        poll returns for them are not dropped, their partition is rewound to the first one.
        """
        deadline = time.monotonic() + seconds
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            consumer.pause(*consumer.assignment())
            polled = consumer.poll(timeout_ms=int(min(left, 1.0) * 1000))
            for tp, records in polled.items():
                consumer.seek(tp, min(r.offset for r in records))
        consumer.resume(*consumer.paused())


# --------------------------------------------------------------------------- CLI helpers


def add_consumer_arguments(parser: argparse.ArgumentParser, *, topic_help: str,
                           group_suffix: str) -> None:
    """The options every sink command shares."""
    parser.add_argument("--topic", help=topic_help)
    parser.add_argument("--group", help=f"consumer group (default: <app id>-{group_suffix})")
    parser.add_argument("--from-latest", action="store_true",
                        help="a new group starts at the end of the topic (default: beginning)")
    parser.add_argument("--max-backoff", type=float, default=30.0,
                        help="longest wait between delivery retries in seconds (default: 30)")
    parser.add_argument("--idle-exit", type=float, default=0.0,
                        help="exit after this many seconds without records (0: never)")


def make_consumer(settings: Settings, topic: str, group: str, *, from_latest: bool) -> Any:
    """A kafka-python consumer with manual commits (offsets only move after delivery)."""
    from kafka import KafkaConsumer

    return KafkaConsumer(
        topic, bootstrap_servers=settings.bootstrap_servers, group_id=group,
        client_id=group, enable_auto_commit=False,
        auto_offset_reset="latest" if from_latest else "earliest",
        # A dead sink's partitions move to a live one within 10 s (kafka-python's default is
        # 45 s); a live sink keeps polling (paused) while it waits to retry.
        session_timeout_ms=10_000, heartbeat_interval_ms=3_000, max_poll_interval_ms=120_000,
        **settings.kafka_client_options(),
    )


def run_command(sink: Sink[Any], settings: Settings, args: argparse.Namespace,
                default_topic: str, group_suffix: str) -> int:
    """Run ``sink`` as a command: SIGTERM/SIGINT stop it cleanly; 0 on a clean stop."""
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(max(logging.WARNING, logging.root.level))
    topic = args.topic or default_topic
    group = args.group or f"{settings.app_id}-{group_suffix}"
    sink.backoff.max_s = args.max_backoff
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sink.stop.set())
    consumer = make_consumer(settings, topic, group, from_latest=args.from_latest)
    log.info("%s: consuming %s as group %s", sink.name, topic, group)
    try:
        stats = sink.run(consumer, idle_exit_s=args.idle_exit)
    finally:
        consumer.close(autocommit=False)
    log.info("%s: stopped; %s", sink.name, stats.summary())
    return 0
