"""Helpers of the fault tests: topics, producing, lag, reading outputs and final states back."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from streamer.core import codec
from streamer.settings import Settings
from streamer.shell.supervise import WorkerProcess, topic_env
from streamer.shell.topics import ensure_topics

PARTITIONS = 4
POPULATION_PREFIX = b"__"  # the driver's per-partition records: __population__/p, __partition__/p


def log(msg: str) -> None:
    """Progress lines that show with ``pytest -s`` and in the captured output on failure."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def poll(what: str, check: Callable[[], Any], timeout_s: float, every_s: float = 0.25,
         alive: Callable[[], None] | None = None) -> Any:
    """Call ``check`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        if alive is not None:
            alive()
        last = check()
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what} (last: {last!r})")


@dataclass
class Harness:
    """One test's fresh app id and topics on the real broker, and its worker processes."""

    bootstrap: str
    prefix: str
    root: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: list[WorkerProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env = {**topic_env(self.prefix), "STREAMER_PARTITIONS": str(PARTITIONS),
                    "STREAMER_STORE": "rocksdb://", "STREAMER_LOG_LEVEL": "warning",
                    **self.extra_env}
        self.settings = Settings.from_env({**self.env, "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap})
        ensure_topics(self.settings)

    # --- names -----------------------------------------------------------------------
    @property
    def app_id(self) -> str:
        return self.settings.app_id

    @property
    def input_topic(self) -> str:
        return self.settings.input_topic

    @property
    def changelog_topic(self) -> str:
        return f"{self.app_id}-customer-state-changelog"

    @property
    def verdicts_topic(self) -> str:
        return self.settings.cluster_topic_names()[1]

    @property
    def signals_topic(self) -> str:
        return self.settings.cluster_topic_names()[0]

    # --- workers ---------------------------------------------------------------------
    def worker(self, name: str = "w", env: dict[str, str] | None = None,
               web_port: int | None = None) -> WorkerProcess:
        """A worker (not started) with its own data dir; reusing ``name`` reuses the dir."""
        data_dir = self.root / name
        w = WorkerProcess(self.bootstrap, {**self.env, **(env or {})}, data_dir,
                          log_path=self.root / f"{name}.log", web_port=web_port)
        self.workers.append(w)
        return w

    def cleanup(self) -> None:
        for w in self.workers:
            with contextlib.suppress(Exception):
                w.kill()

    # --- producing -------------------------------------------------------------------
    def producer(self) -> Any:
        from kafka import KafkaProducer

        return KafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=20,
                             batch_size=256 * 1024, acks="all", enable_idempotence=True,
                             delivery_timeout_ms=180_000, max_block_ms=180_000,
                             reconnect_backoff_max_ms=1000)

    def produce(self, records: Sequence[tuple[bytes, bytes]], *, rate: float | None = None,
                topic: str | None = None) -> float:
        """Send ``records`` (at ``rate`` per second if given), flush; returns seconds taken."""
        t0 = time.monotonic()
        producer = self.producer()
        try:
            for i, (key, value) in enumerate(records):
                producer.send(topic or self.input_topic, key=key, value=value)
                if rate and i % 200 == 199:
                    ahead = t0 + (i + 1) / rate - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
            producer.flush(180)
        finally:
            producer.close(30)
        return time.monotonic() - t0

    def produce_in_background(self, records: Sequence[tuple[bytes, bytes]],
                              rate: float | None = None) -> Producing:
        return Producing(self, records, rate).start()

    # --- reading back ----------------------------------------------------------------
    def consumer(self, **kw: Any) -> Any:
        from kafka import KafkaConsumer

        # check_crcs=False: kafka-python's pure-Python CRC check makes reading 10x slower
        return KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                             check_crcs=False, isolation_level="read_committed",
                             fetch_max_bytes=16 * 2**20, max_partition_fetch_bytes=8 * 2**20, **kw)

    def read_topic(self, topic: str) -> list[Any]:
        """Every record of ``topic`` (read committed) from the start up to its current end."""
        from kafka import TopicPartition

        consumer = self.consumer()
        try:
            parts = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            if not tps:
                return []
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            out: list[Any] = []
            deadline = time.monotonic() + 120
            while any(consumer.position(tp) < end[tp] for tp in tps):
                if time.monotonic() > deadline:
                    raise AssertionError(f"could not read {topic} to its end in 120 s")
                for recs in consumer.poll(timeout_ms=500, max_records=50_000).values():
                    out.extend(recs)
            return out
        finally:
            consumer.close()

    def latest_by_key(self, topic: str) -> dict[bytes, bytes]:
        latest: dict[bytes, bytes] = {}
        for rec in self.read_topic(topic):
            if rec.value is None:
                latest.pop(rec.key, None)
            else:
                latest[rec.key] = rec.value
        return latest

    def final_states(self) -> dict[str, Any]:
        """customer id -> decoded CustomerState, from the changelog (what recovery would see)."""
        raw = self.latest_by_key(self.changelog_topic)
        return {k.decode(): codec.decode(v) for k, v in raw.items()
                if not k.startswith(POPULATION_PREFIX)}

    def state_sizes(self) -> list[int]:
        raw = self.latest_by_key(self.changelog_topic)
        return [len(v) for k, v in raw.items() if not k.startswith(POPULATION_PREFIX)]

    def alerts(self) -> list[dict[str, Any]]:
        return [orjson.loads(r.value) for r in self.read_topic(self.settings.alerts_topic)]

    # --- lag -------------------------------------------------------------------------
    def lag(self, topics: Iterable[str] | None = None) -> int:
        """Messages of ``topics`` (default: input) not yet committed by the app's group."""
        return sum(self.lag_by_partition(topics).values())

    def lag_by_partition(self, topics: Iterable[str] | None = None) -> dict[str, int]:
        """``topic:partition`` -> messages not yet committed by the app's group."""
        from kafka import KafkaAdminClient, TopicPartition

        topics = list(topics or [self.input_topic])
        consumer = self.consumer()
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10_000)
        try:
            tps = [TopicPartition(t, p) for t in topics
                   for p in sorted(consumer.partitions_for_topic(t) or ())]
            end = consumer.end_offsets(tps)
            committed = admin.list_group_offsets({self.app_id: tps}).get(self.app_id, {})
            lag = {}
            for tp in tps:
                meta = committed.get(tp)
                done = meta.offset if meta is not None and meta.offset >= 0 else 0
                lag[f"{tp.topic}:{tp.partition}"] = max(0, end[tp] - done)
            return lag
        finally:
            admin.close()
            consumer.close()

    def wait_caught_up(self, timeout_s: float, workers: Sequence[WorkerProcess] = (),
                       topics: Iterable[str] | None = None) -> float:
        """Block until the group's lag on ``topics`` is 0 (twice in a row); returns seconds."""
        t0 = time.monotonic()
        topics = list(topics or [self.input_topic])
        streak = {"n": 0}

        def alive() -> None:
            for w in workers:
                w.check_alive()

        last: dict[str, Any] = {}

        def done() -> bool:
            try:
                lag = self.lag_by_partition(topics)
            except Exception as exc:  # a broker hiccup: try again
                log(f"lag query failed: {exc!r}")
                return False
            last["lag"] = {k: v for k, v in lag.items() if v}
            streak["n"] = streak["n"] + 1 if not last["lag"] else 0
            return streak["n"] >= 2

        try:
            poll("consumer lag 0", done, timeout_s, every_s=0.5, alive=alive)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; lag left: {last.get('lag')}") from None
        return time.monotonic() - t0


class Producing:
    """Produce a record list from a background thread; ``join()`` re-raises its error."""

    def __init__(self, harness: Harness, records: Sequence[tuple[bytes, bytes]],
                 rate: float | None) -> None:
        self.harness, self.records, self.rate = harness, records, rate
        self.error: BaseException | None = None
        self.seconds = 0.0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Producing:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            self.seconds = self.harness.produce(self.records, rate=self.rate)
        except BaseException as exc:
            self.error = exc

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def join(self, timeout_s: float = 240) -> None:
        self.thread.join(timeout_s)
        if self.thread.is_alive():
            raise AssertionError(f"producer still running after {timeout_s}s")
        if self.error is not None:
            raise self.error


def rss_kb(pid: int) -> int:
    """VmRSS of ``pid`` and its children (the worker's process group) in kB."""
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def _tree(pid: int) -> Iterator[int]:
    yield pid
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            for c in children:
                yield from _tree(int(c))


def count_mismatches(expected: dict[str, int], got: dict[str, int]) -> dict[str, tuple[int, int]]:
    """customer -> (expected, got) where they differ (missing customers count as 0)."""
    keys = set(expected) | set(got)
    return {k: (expected.get(k, 0), got.get(k, 0)) for k in sorted(keys)
            if expected.get(k, 0) != got.get(k, 0)}
