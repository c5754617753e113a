"""The broker side of ``make bench``: produce, consume at the ceilings, run the real consumers.

Every consumer reads the same pre-produced stream from a fresh 4-partition topic; its rate is
measured from its first to its last observed progress (the worker's ``/stats``; the consumer
group's committed offsets for the no-op Faust agent and the Quix peer), so start-up and
rebalance time are left out and reported separately.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from uuid import uuid4

import orjson

from streamer.bench.core import quantile, rss_bytes
from streamer.errors import StreamerError
from streamer.shell.localkafka import admin_client
from streamer.shell.supervise import WorkerProcess, topic_env
from streamer.shell.topics import delete_topics

PARTITIONS = 4
Records = Sequence[tuple[bytes, bytes]]


def fresh(prefix: str) -> str:
    return f"bench-{prefix}-{uuid4().hex[:8]}"


def create_topic(bootstrap: str, name: str, partitions: int = PARTITIONS) -> None:
    """Create one fresh topic (and nothing else) and wait for its partitions' leaders."""
    from kafka.admin import NewTopic

    with admin_client(bootstrap) as admin:
        admin.create_topics([NewTopic(name, partitions, 1)])
        admin.wait_for_topics([name], timeout_ms=30_000)


def produce(bootstrap: str, topic: str, records: Records, rate: float | None = None,
            stamp: dict[bytes, float] | None = None, ids: Sequence[bytes] = ()) -> float:
    """Send ``records`` (key, value); at ``rate`` events/s if given. Returns the seconds taken.

    With ``stamp`` and ``ids`` (one event id per record), the wall time each record was handed
    to the producer is stored in ``stamp[id]`` (for event -> alert latency).
    """
    from aiokafka import AIOKafkaProducer

    async def run() -> float:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5,
                                    max_batch_size=1 << 20, acks=1)
        await producer.start()
        try:
            t0 = time.perf_counter()
            futures = []
            step = max(1, int((rate or 1e9) / 100))  # paced in 10 ms slices
            for i in range(0, len(records), step):
                if rate:
                    delay = t0 + i / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                now = time.time()
                for j in range(i, min(len(records), i + step)):
                    key, value = records[j]
                    if stamp is not None:
                        stamp[ids[j]] = now
                    futures.append(await producer.send(topic, value, key=key))
                if len(futures) > 20_000:
                    await asyncio.gather(*futures)
                    futures.clear()
            await asyncio.gather(*futures)
            return time.perf_counter() - t0
        finally:
            await producer.stop()

    return asyncio.run(run())


def committed(admin: Any, group: str, topic: str) -> int:
    """Sum of the group's committed offsets on ``topic`` (0 before its first commit)."""
    if hasattr(admin, "list_group_offsets"):  # kafka-python 3
        offsets = admin.list_group_offsets(group).get(group, {})
    else:
        offsets = admin.list_consumer_group_offsets(group)
    return sum(max(0, om.offset) for tp, om in offsets.items() if tp.topic == topic)


class Progress:
    """Samples of (wall time, count) while a consumer works through ``total`` events."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.samples: list[tuple[float, int]] = []
        self.started = time.perf_counter()

    def watch(self, count: Callable[[], int | None], timeout_s: float,
              alive: Callable[[], None] = lambda: None, every_s: float = 0.25) -> None:
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            alive()
            try:
                n = count()
            except Exception:  # a poll that fails (broker busy) is retried
                n = None
            if n is not None:
                self.samples.append((time.perf_counter(), n))
                if n >= self.total:
                    return
            time.sleep(every_s)
        raise StreamerError(f"consumer reached {self.samples[-1][1] if self.samples else 0} "
                            f"of {self.total} events in {timeout_s:.0f}s")

    def rate(self) -> dict[str, float]:
        """Events per second from the first sample that shows progress to the last, counting
        what was done since then. A consumer that did everything between two samples (a short
        stream on a fast machine) is measured from the last sample before it moved, so the
        figure includes up to one sampling interval of its start-up, rather than reading 0.

        >>> p = Progress(3000); p.started = 0.0
        >>> p.samples = [(0.5, 0), (1.0, 0), (1.25, 3000)]
        >>> p.rate()["events_per_s"]
        12000.0
        >>> p.samples = [(1.0, 500), (2.0, 1500), (3.0, 3000)]
        >>> p.rate()["events_per_s"], p.rate()["startup_s"]
        (1250.0, 1.0)
        """
        moving = [(t, n) for t, n in self.samples if n > 0]
        if not moving:
            return {"events_per_s": 0.0, "startup_s": 0.0}
        (t0, n0), (t1, n1) = moving[0], moving[-1]
        if n1 <= n0 or t1 <= t0:  # all of it came between two samples
            idle = [t for t, n in self.samples if n == 0 and t < t1]
            t0, n0 = (idle[-1] if idle else self.started), 0
        rate = (n1 - n0) / (t1 - t0) if t1 > t0 and n1 > n0 else 0.0
        return {"events_per_s": rate, "startup_s": t0 - self.started,
                "measured_events": n1 - n0, "measured_s": t1 - t0}


def raw_ceiling(bootstrap: str, topic: str, total: int) -> dict[str, Any]:
    """aiokafka consumer + orjson decode of every value: the client ceiling."""
    from aiokafka import AIOKafkaConsumer

    async def run() -> dict[str, Any]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                    auto_offset_reset="earliest", enable_auto_commit=False,
                                    fetch_max_bytes=64 << 20,
                                    max_partition_fetch_bytes=16 << 20)
        await consumer.start()
        try:
            n = 0
            t0 = 0.0
            c0 = time.process_time()
            while n < total:
                batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
                for records in batches.values():
                    if not t0 and records:
                        t0 = time.perf_counter()
                    for r in records:
                        orjson.loads(r.value)
                    n += len(records)
            wall = time.perf_counter() - t0
            return {"events_per_s": total / wall, "measured_events": total, "measured_s": wall,
                    "cpu_events_per_s": total / (time.process_time() - c0)}
        finally:
            await consumer.stop()

    return asyncio.run(run())


class Child:
    """A bench consumer in a child process (its own session, log file, kill -9 able)."""

    def __init__(self, module: str, env: dict[str, str], log: Path, *args: str) -> None:
        self.log_path = log
        self._log: IO[bytes] = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", module, *args],
                                     env={**os.environ, **env}, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> None:
        if self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace").splitlines()[-30:]
            raise StreamerError(f"{self.log_path.name} exited {self.proc.returncode}:\n"
                                + "\n".join(tail))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


def run_child(module: str, bootstrap: str, topic: str, total: int, work: Path,
              timeout_s: float, *args: str, extra: dict[str, str] | None = None
              ) -> dict[str, Any]:
    """Run a bench consumer module on ``topic`` until its group committed ``total`` offsets."""
    group = fresh(module.rsplit(".", 1)[-1])
    data = work / group
    data.mkdir(parents=True, exist_ok=True)
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "BENCH_APP_ID": group, "BENCH_TOPIC": topic,
           "BENCH_DATA_DIR": str(data), **(extra or {})}
    child = Child(module, env, work / f"{group}.log", *args)
    progress = Progress(total)
    try:
        with admin_client(bootstrap, timeout_s=10) as admin:
            progress.watch(lambda: committed(admin, group, topic), timeout_s, child.alive,
                           every_s=0.5)
        return {**progress.rate(), "rss_bytes": rss_bytes(child.proc.pid)}
    finally:
        child.stop()
        shutil.rmtree(data, ignore_errors=True)


# --- the streamer worker --------------------------------------------------------------------

def worker_env(prefix: str) -> dict[str, str]:
    return {**topic_env(prefix), "STREAMER_PARTITIONS": str(PARTITIONS),
            "STREAMER_LOG_LEVEL": "warning"}


def start_worker(bootstrap: str, env: dict[str, str], data: Path, name: str = "w0"
                 ) -> WorkerProcess:
    w = WorkerProcess(bootstrap, env, data / name, log_path=data / f"{name}.log").start()
    w.wait_consuming(120)
    return w


def processed(workers: Sequence[WorkerProcess],
              loop_lag: list[LagSample] | None = None) -> int | None:
    """Events the workers processed so far (``/stats``); with ``loop_lag``, each worker's
    worst event-loop lag of the last seconds is appended to it."""
    total = 0
    for w in workers:
        st = w.stats()
        if st is None:
            return None
        total += int(st.get("events_processed", 0))
        if loop_lag is not None and "event_loop_lag_max_s" in st:
            loop_lag.append((time.perf_counter(), float(st["event_loop_lag_max_s"]),
                             float(st.get("event_loop_lag_on_cpu_max_s", 0.0)),
                             float(st.get("event_loop_lag_window_s", 0.0)),
                             float(st.get("gc_pause_max_s", 0.0))))
    return total


#: (when, worst loop lag, its part on the CPU, the window they cover, longest GC pause)
LagSample = tuple[float, float, float, float, float]
#: seconds after a paced run's worker consumes that are still taken as its start-up (Faust
#: assigns partitions, declares topics and refreshes metadata: >100 ms stalls, once)
START_UP_S = 5.0


def loop_lag_summary(samples: Sequence[LagSample], since: float) -> dict[str, float]:
    """The worst event-loop lag the workers reported (``/stats``: the worst of their last
    seconds) once the window of a sample lies after ``since`` (the workers' start-up, when
    Faust assigns partitions and opens its tables, is left out), and the worst part of a lag
    the loop's thread spent running (the rest: waiting for a CPU on a busy machine), and the
    longest garbage collection (it holds the loop).

    >>> loop_lag_summary([(1.0, 0.5, 0.5, 10.0, 0.3), (20.0, 0.2, 0.04, 10.0, 0.01),
    ...                   (21.0, 0.03, 0.03, 10.0, 0.0)], since=5.0)
    {'loop_lag_max_ms': 200.0, 'loop_lag_on_cpu_max_ms': 40.0, 'loop_lag_samples': 2, \
'gc_pause_max_ms': 10.0}
    """
    steady = [s for s in samples if s[0] - s[3] >= since]
    return {"loop_lag_max_ms": max((s[1] for s in steady), default=0.0) * 1000,
            "loop_lag_on_cpu_max_ms": max((s[2] for s in steady), default=0.0) * 1000,
            "loop_lag_samples": len(steady),
            "gc_pause_max_ms": max((s[4] for s in steady), default=0.0) * 1000}


def worker_throughput(bootstrap: str, records: Records, work: Path, n_workers: int = 1,
                      timeout_s: float = 300, profile: Callable[[int], None] | None = None
                      ) -> dict[str, Any]:
    """Pre-produce ``records``, start ``n_workers`` workers, time them through the stream."""
    prefix = fresh(f"worker{n_workers}")
    env = worker_env(prefix)
    create_topic(bootstrap, env["STREAMER_INPUT_TOPIC"])
    produce(bootstrap, env["STREAMER_INPUT_TOPIC"], records)
    workers = [WorkerProcess(bootstrap, env, work / prefix / f"w{i}",
                             log_path=work / f"{prefix}-w{i}.log").start()
               for i in range(n_workers)]
    try:
        for w in workers:
            w.wait_consuming(120)
        consuming = time.perf_counter()
        if profile is not None:
            assert workers[0].proc is not None
            profile(workers[0].proc.pid)
        progress = Progress(len(records))

        def alive() -> None:
            for w in workers:
                w.check_alive()

        lags: list[LagSample] = []
        progress.watch(lambda: processed(workers, lags), timeout_s, alive)
        rss = [rss_bytes(w.proc.pid) for w in workers if w.proc is not None]
        # steady state: from the first events processed (assignment and start-up are over)
        moving = [t for t, n in progress.samples if n > 0]
        steady = max(consuming, moving[0] if moving else consuming)
        return {**progress.rate(), **loop_lag_summary(lags, steady), "workers": n_workers,
                "rss_bytes": max(rss),
                "customers": len({k for k, _ in records}), "_env": env, "_workers": workers}
    except BaseException:
        for w in workers:
            w.kill()
        raise


def run_topics(bootstrap: str, env: dict[str, str]) -> list[str]:
    """Every topic of one worker run: its own, and those Faust made under its app id (the
    changelogs, the cluster stage's internal topics, the assignor's)."""
    own = [v for k, v in env.items() if k.endswith("_TOPIC")]
    app_id = env.get("STREAMER_APP_ID", "")
    with admin_client(bootstrap, timeout_s=10) as admin:
        names = admin.list_topics()
    return own + [t for t in names if app_id and t.startswith(app_id + "-")]


def stop_all(result: dict[str, Any], bootstrap: str) -> None:
    for w in result.pop("_workers", []):
        w.stop()
    env = result.pop("_env", {})
    delete_topics(bootstrap, run_topics(bootstrap, env))


def recovery(bootstrap: str, result: dict[str, Any], records: Records, work: Path
             ) -> dict[str, Any]:
    """kill -9 the worker of ``result``, produce more, restart: seconds to first processed."""
    if not records:
        raise StreamerError("recovery needs events to produce after the kill")
    env = result["_env"]
    old: WorkerProcess = result["_workers"][0]
    old.kill()
    produce(bootstrap, env["STREAMER_INPUT_TOPIC"], records)
    t0 = time.perf_counter()
    w = WorkerProcess(bootstrap, env, old.data_dir, log_path=work / "recovered.log").start()
    result["_workers"] = [w]
    progress = Progress(1)
    progress.watch(lambda: processed([w]), 180, w.check_alive, every_s=0.1)
    first = time.perf_counter() - t0
    Progress(len(records)).watch(lambda: processed([w]), 180, w.check_alive)
    return {"kill9_to_first_processed_s": first,
            "kill9_to_caught_up_s": time.perf_counter() - t0, "events_after_kill": len(records)}


def _ms(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


class AlertWatch:
    """Reads a topic of alerts from its start while the stream is produced, in a process of its
    own (:mod:`streamer.bench.alert_watch`), which stamps each alert with the wall time it was
    received: event -> alert latency is then measured as a user of the alerts topic sees it
    (processing, batching, the output send and the broker's hop included)."""

    def __init__(self, bootstrap: str, topic: str, work: Path) -> None:
        self._out = work / f"alerts-{topic}.jsonl"
        self._log = open(work / f"alerts-{topic}.log", "ab")  # noqa: SIM115 - closed in close()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "streamer.bench.alert_watch", bootstrap, topic,
             str(self._out)], stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not (self._out.exists() and self._out.read_bytes().startswith(b'{"ready"')):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._proc.kill()
                self._log.close()
                raise StreamerError(f"the alert watcher did not start (see {self._log.name})")
            time.sleep(0.05)

    def close(self, linger_s: float = 3.0) -> list[tuple[float, dict[str, Any]]]:
        """Keep reading for ``linger_s`` more seconds, then stop; all (received at, alert)."""
        time.sleep(linger_s)
        alive = self._proc.poll() is None
        self._proc.terminate()
        self._proc.wait(10)
        self._log.close()
        if not alive:
            raise StreamerError(f"the alert watcher exited {self._proc.returncode} early "
                                f"(see {self._log.name})")
        rows = [orjson.loads(line) for line in self._out.read_bytes().splitlines() if line]
        return [(row["received"], row["alert"]) for row in rows if "alert" in row]


def latency(bootstrap: str, records: Records, ids: Sequence[bytes], rate: float,
            work: Path, profile: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Paced producer at ``rate`` events/s into a running worker: event -> alert latency, from
    the moment the event is handed to the producer to the moment a consumer of the alerts
    topic receives the alert it triggered (and, for comparison, to the alert's
    ``emitted_at``, stamped when the worker's batch started).

    ``profile(pid)`` is called once the worker consumes (the bench starts py-spy there)."""
    prefix = fresh("latency")
    env = worker_env(prefix)
    create_topic(bootstrap, env["STREAMER_INPUT_TOPIC"])
    w = start_worker(bootstrap, env, work / prefix)
    consuming = time.perf_counter()
    if profile is not None and w.proc is not None:
        profile(w.proc.pid)
    stamp: dict[bytes, float] = {}
    watch = AlertWatch(bootstrap, env["STREAMER_ALERTS_TOPIC"], work)
    try:
        took = produce(bootstrap, env["STREAMER_INPUT_TOPIC"], records, rate=rate, stamp=stamp,
                       ids=ids)
        lags: list[LagSample] = []
        Progress(len(records)).watch(lambda: processed([w], lags), 120, w.check_alive)
        lat, emitted = [], []
        for received, alert in watch.close():
            sent = stamp.get(str(alert.get("trigger_event_id", "")).encode())
            if sent is None:
                continue
            lat.append((received - sent) * 1000)
            if alert.get("emitted_at"):
                emitted.append(_ms(alert["emitted_at"]) - sent * 1000)
        return {"target_rate": rate, "achieved_rate": len(records) / took, "alerts": len(lat),
                "p50_ms": quantile(lat, 0.5), "p99_ms": quantile(lat, 0.99),
                "max_ms": max(lat, default=0.0),
                "emitted_p50_ms": quantile(emitted, 0.5), "emitted_p99_ms": quantile(emitted, 0.99),
                **loop_lag_summary(lags, consuming + START_UP_S),
                "rss_bytes": rss_bytes(w.proc.pid) if w.proc else 0}
    finally:
        w.stop()
        delete_topics(bootstrap, run_topics(bootstrap, env))
