"""Run a labelled scenario through the detector and measure it.

* :func:`evaluate_offline` — simulator -> :func:`streamer.core.engine.replay` in-process, at full
  speed.
* :func:`evaluate_kafka` — simulator -> fresh Kafka topics -> a real ``streamer worker``
  subprocess -> alerts and feature topics, consumed back and scored the same way.
* :func:`compare` — what differs between two runs of the same scenario.

The simulator and engine are imported lazily so that importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from streamer.core.events import InferenceEvent, event_from_dict
from streamer.errors import InvalidEvent, StreamerError
from streamer.evaluation.metrics import StreamStats, is_flagged, severity_rank
from streamer.evaluation.result import EvalResult
from streamer.settings import Settings
from streamer.shell.supervise import WorkerProcess, free_port, log_tail
from streamer.sim.split import Part

console = Console(stderr=True)
_UPDATE_EVERY = 2_000


class EvaluationError(StreamerError):
    """An evaluation run could not be completed (worker died, broker unreachable, ...)."""


@contextlib.contextmanager
def _progress(
    enabled: bool, description: str, total: float | None
) -> Iterator[Callable[..., None]]:
    """A rich progress bar; yields ``update(completed=...)`` (a no-op when disabled)."""
    if not enabled:
        yield lambda **_: None
        return
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(description, total=total)

        def update(**kwargs: Any) -> None:
            bar.update(task, **kwargs)

        yield update


def _valid_events(
    sim: Any, stats: StreamStats, invalid: list[str], tick: Callable[[InferenceEvent], None]
) -> Iterator[InferenceEvent]:
    """The simulation's events as :class:`InferenceEvent`; invalid ones are counted, skipped."""
    for raw in sim.events():
        try:
            event = event_from_dict(raw)
        except InvalidEvent as exc:
            invalid.append(exc.reason)
            continue
        stats.add(event.customer_id, event.ts_ms)
        tick(event)
        yield event


def _invalid_summary(reasons: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for reason in reasons:
        out[reason] = out.get(reason, 0) + 1
    return out


def _length(sim: Any) -> int | None:
    try:
        return len(sim)
    except TypeError:
        return None


def replay_stream(
    name: str, sim: Any, seed: int, *, progress: bool = True, extra: dict[str, Any] | None = None
) -> EvalResult:
    """Replay any labelled stream (``sim.events()``, ``sim.labels``; first simulator or red
    team) through a fresh in-process engine and measure it.

    Wall time covers the replay (event validation and detection). Invalid events (if a
    scenario injects any) are skipped, as the worker would dead-letter them; their reasons are
    in ``extra``.
    """
    from streamer.core.engine import replay

    started = time.perf_counter()
    labels: dict[str, Any] = dict(sim.labels)
    total = _length(sim)
    stats = StreamStats()
    invalid: list[str] = []
    with _progress(progress, f"{name}: replay", total) as update:

        def tick(_event: InferenceEvent) -> None:
            if stats.events % _UPDATE_EVERY == 0:
                update(completed=stats.events + len(invalid))

        replayed = replay(_valid_events(sim, stats, invalid, tick))
        update(completed=stats.events + len(invalid))
    wall = time.perf_counter() - started
    return EvalResult.build(
        name, seed, "offline", labels, list(replayed.alerts), list(replayed.features),
        stats.times(), stats.events, wall,
        extra={**(extra or {}),
               **({"invalid_events": _invalid_summary(invalid)} if invalid else {})},
    )


def part_name(scenario: str, part: str | None) -> str:
    """Report name of a scenario part.

    >>> part_name("day", "heldout"), part_name("day", None)
    ('day.heldout', 'day')
    """
    return scenario if part is None else f"{scenario}.{part}"


def evaluate_offline(scenario: str, seed: int = 0, progress: bool = True,
                     part: Part | None = None) -> EvalResult:
    """Simulate ``scenario`` with the first simulator (its ``part`` of the calibration /
    held-out split, :mod:`streamer.sim.split`, when given) and replay it.

    The time spent building the simulation is ``extra["simulate_s"]``.
    """
    from streamer.sim import simulate

    t0 = time.perf_counter()
    sim = simulate(scenario, seed) if part is None else simulate(scenario, seed=seed, part=part)
    simulate_s = time.perf_counter() - t0
    extra: dict[str, Any] = {"simulate_s": round(simulate_s, 3), "generator": "sim"}
    if part is not None:
        extra["part"] = part
    return replay_stream(part_name(scenario, part), sim, seed, progress=progress, extra=extra)


def evaluate_redteam(scenario: str, seed: int = 0, progress: bool = True,
                     scale: float = 1.0) -> EvalResult:
    """Generate red-team scenario ``scenario`` (:mod:`streamer.sim.redteam`, held-out corpora
    only) and replay it."""
    from streamer.sim.redteam import generate

    t0 = time.perf_counter()
    sim = generate(scenario, seed, scale)
    extra = {"simulate_s": round(time.perf_counter() - t0, 3), "generator": "redteam",
             "part": "heldout", "scale": scale, "data_source": sim.data_source}
    return replay_stream(scenario, sim, seed, progress=progress, extra=extra)


# --------------------------------------------------------------------------- Kafka path


def run_settings(base: Settings, bootstrap: str, run_id: str, data_dir: Path) -> Settings:
    """Settings of one isolated evaluation run: unique topics and app id, 4 partitions.

    >>> s = run_settings(Settings(), "k:9092", "eval-x", Path("/tmp/d"))
    >>> s.input_topic, s.alerts_topic, s.app_id, s.partitions, s.store
    ('eval-x.events', 'eval-x.alerts', 'eval-x', 4, 'memory://')
    """
    return dataclasses.replace(
        base,
        bootstrap_servers=bootstrap,
        local_broker=False,
        input_topic=f"{run_id}.events",
        alerts_topic=f"{run_id}.alerts",
        dlq_topic=f"{run_id}.dlq",
        features_topic=f"{run_id}.features",
        feedback_topic=f"{run_id}.feedback",
        app_id=run_id,
        partitions=4,
        store="memory://",
        data_dir=str(data_dir),
        web_port=free_port(),
    )


def worker_env(settings: Settings) -> dict[str, str]:
    """Environment variables that make ``streamer worker`` use ``settings``."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "STREAMER_INPUT_TOPIC": settings.input_topic,
        "STREAMER_ALERTS_TOPIC": settings.alerts_topic,
        "STREAMER_DLQ_TOPIC": settings.dlq_topic,
        "STREAMER_FEATURES_TOPIC": settings.features_topic,
        "STREAMER_FEEDBACK_TOPIC": settings.feedback_topic,
        "STREAMER_APP_ID": settings.app_id,
        "STREAMER_PARTITIONS": str(settings.partitions),
        "STREAMER_DATA_DIR": settings.data_dir,
        "STREAMER_WEB_PORT": str(settings.web_port),
        "STREAMER_STORE": settings.store,
    }


def _admin(settings: Settings) -> Any:
    from kafka import KafkaAdminClient

    return KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.app_id}-eval-admin",
        request_timeout_ms=30_000,
        **settings.kafka_client_options(),
    )


def create_topics(settings: Settings) -> None:
    """Create the run's five topics: :func:`streamer.shell.topics.ensure_topics` when the shell
    provides it, else a direct kafka-python admin call."""
    try:
        from streamer.shell import topics
    except ImportError:
        pass
    else:
        topics.ensure_topics(settings)
        return
    names = (settings.input_topic, settings.alerts_topic, settings.dlq_topic,
             settings.features_topic, settings.feedback_topic)
    admin = _admin(settings)
    try:
        admin.create_topics(
            {n: {"num_partitions": settings.partitions,
                 "replication_factor": settings.replication_factor} for n in names},
            wait_for_metadata=True,
        )
    finally:
        admin.close()


def delete_run_topics(settings: Settings) -> None:
    """Best effort: delete every topic whose name starts with the run's app id."""
    with contextlib.suppress(Exception):
        admin = _admin(settings)
        try:
            ours = [t for t in admin.list_topics() if t.startswith(settings.app_id)]
            if ours:
                admin.delete_topics(ours, raise_errors=False)
        finally:
            admin.close()


def _group_caught_up(admin: Any, consumer: Any, settings: Settings) -> bool:
    """Has the worker's consumer group committed offsets at the end of every input partition?"""
    from kafka import TopicPartition

    parts = [TopicPartition(settings.input_topic, p) for p in range(settings.partitions)]
    try:
        committed = admin.list_group_offsets({settings.app_id: parts}).get(settings.app_id, {})
        ends = consumer.end_offsets(parts)
    except Exception:
        return False
    for tp in parts:
        meta = committed.get(tp)
        offset = getattr(meta, "offset", -1) if meta is not None else -1
        if offset < ends.get(tp, 0):
            return False
    return True


def _group_stable(admin: Any, group: str) -> bool:
    """Is the consumer group ``group`` stable with members? (kafka-python logs a warning for
    Faust's custom assignor metadata; it is silenced here.)"""
    quiet = logging.getLogger("kafka.admin")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        info = admin.describe_groups([group]).get(group) or {}
    except Exception:
        return False
    finally:
        quiet.setLevel(level)
    with contextlib.suppress(Exception):
        state = info.get("group_state") or info.get("state")
        return str(state).lower() == "stable" and bool(info.get("members"))
    return False


def _wait_for_worker(
    worker: WorkerProcess, admin: Any, settings: Settings, timeout_s: float
) -> None:
    """Wait until the worker's consumer group is stable (so it reads the run from the start)."""
    deadline = time.monotonic() + timeout_s
    while not _group_stable(admin, settings.app_id):
        try:
            worker.check_alive()
        except StreamerError as exc:
            raise EvaluationError(f"worker died before joining: {exc}") from None
        if time.monotonic() > deadline:
            console.print("[yellow]worker group not stable yet; producing anyway[/]")
            return
        time.sleep(0.5)


@dataclass(slots=True)
class _Collected:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    features: list[dict[str, Any]] = field(default_factory=list)
    events_total: dict[str, int] = field(default_factory=dict)
    bad_records: int = 0

    @property
    def processed(self) -> int:
        return sum(self.events_total.values())

    def add(self, topic_kind: str, value: bytes | None) -> None:
        try:
            record = orjson.loads(value or b"")
        except orjson.JSONDecodeError:
            self.bad_records += 1
            return
        if not isinstance(record, dict):
            self.bad_records += 1
            return
        (self.alerts if topic_kind == "alert" else self.features).append(record)
        total = record.get("events_total")
        cid = record.get("customer_id")
        if isinstance(total, int) and isinstance(cid, str):
            self.events_total[cid] = max(self.events_total.get(cid, 0), total)


def evaluate_kafka(
    scenario: str,
    seed: int = 0,
    bootstrap: str | None = None,
    *,
    timeout_s: float = 600.0,
    settle_s: float = 8.0,
    progress: bool = True,
    keep_topics: bool = False,
    log_dir: Path | None = None,
) -> EvalResult:
    """Run ``scenario`` through the real broker and a ``streamer worker`` subprocess.

    Fresh topics (``eval-<scenario>-<seed>-<random>.{events,alerts,dlq,features,feedback}``, 4
    partitions) and a fresh app id isolate the run. The scenario is produced as fast as
    possible; the alerts and features topics are consumed until the worker's records show
    every valid event processed (sum over customers of the latest ``events_total`` equals the
    number of valid events sent), or, since a customer's last window may stay open, until the
    worker's consumer group has committed the end of the input topic and nothing new arrived
    for ``settle_s`` seconds, or until ``timeout_s``. Then the worker gets SIGTERM (SIGKILL
    after 20 s) and the topics are deleted unless ``keep_topics``.

    Wall time is from the first produced event to the last record consumed. The worker's log
    is written to ``log_dir`` (kept), else to a temporary directory removed after a good run.
    """
    from kafka import KafkaConsumer, TopicPartition

    from streamer.sim import produce_to_kafka, simulate

    base = Settings.from_env()
    bootstrap = bootstrap or base.bootstrap_servers
    run_id = f"eval-{scenario}-{seed}-{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix=f"{run_id}-"))
    settings = run_settings(base, bootstrap, run_id, tmp / "data")
    log_path = (log_dir or tmp) / f"{run_id}.worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)

    sim = simulate(scenario, seed)
    labels: dict[str, Any] = dict(sim.labels)
    stats = StreamStats()
    invalid: list[str] = []
    for _ in _valid_events(sim, stats, invalid, lambda _e: None):
        pass
    expected = stats.events

    create_topics(settings)
    worker = WorkerProcess(bootstrap, worker_env(settings), Path(settings.data_dir),
                           log_path=log_path, web_port=settings.web_port).start()
    kinds = {settings.alerts_topic: "alert", settings.features_topic: "features"}
    collected = _Collected()
    outcome = "timeout"
    admin: Any = None
    consumer: Any = None
    produced: object = None
    try:
        admin = _admin(settings)
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id=f"{run_id}-eval-reader",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **settings.kafka_client_options(),
        )
        _wait_for_worker(worker, admin, settings, min(120.0, timeout_s))
        started = time.monotonic()
        produce_options: dict[str, Any] = {}
        if "progress" in inspect.signature(produce_to_kafka).parameters:
            produce_options["progress"] = progress
        produced = produce_to_kafka(sim, bootstrap, settings.input_topic, speedup=None,
                                    client_options=settings.kafka_client_options(),
                                    **produce_options)
        consumer.assign([TopicPartition(t, p) for t in kinds for p in range(settings.partitions)])
        deadline = started + timeout_s
        last_new = time.monotonic()
        with _progress(progress, f"{scenario}: kafka", float(expected)) as update:
            while True:
                batch = consumer.poll(timeout_ms=500)
                for tp, records in batch.items():
                    for rec in records:
                        collected.add(kinds[tp.topic], rec.value)
                now = time.monotonic()
                if batch:
                    last_new = now
                update(completed=float(min(collected.processed, expected)))
                if collected.processed >= expected:
                    outcome = "complete"
                    break
                code = worker.proc.poll() if worker.proc is not None else None
                if code is not None:
                    outcome = f"worker exited with {code}"
                    break
                if now - last_new >= settle_s and _group_caught_up(admin, consumer, settings):
                    outcome = "caught_up"
                    break
                if now > deadline:
                    break
        # Caught up: the last record arrived at last_new, the rest was waiting to be sure.
        wall = (last_new if outcome == "caught_up" else time.monotonic()) - started
    finally:
        exit_code = worker.stop(20.0)
        if consumer is not None:
            consumer.close()
        if admin is not None:
            admin.close()
        if not keep_topics:
            delete_run_topics(settings)
        shutil.rmtree(tmp / "data", ignore_errors=True)
    ok = outcome in ("complete", "caught_up")
    if not ok:
        console.print(f"[red]kafka run of {scenario}: {outcome}[/]\n{log_tail(log_path, 25)}")
    if log_dir is not None or ok:  # keep a failed run's log unless it lives in log_dir
        shutil.rmtree(tmp, ignore_errors=True)
    extra: dict[str, Any] = {
        "run_id": run_id,
        "bootstrap": bootstrap,
        "topics": worker_env(settings),
        "outcome": outcome,
        "events_processed_by_worker": collected.processed,
        "events_sent": expected,
        "events_produced": produced if isinstance(produced, int) else None,
        "worker_exit_code": exit_code,
        "worker_log": str(log_path) if log_path.exists() else None,
    }
    if invalid:
        extra["invalid_events"] = _invalid_summary(invalid)
    if collected.bad_records:
        extra["unreadable_records"] = collected.bad_records
    return EvalResult.build(
        scenario, seed, "kafka", labels, collected.alerts, collected.features,
        stats.times(), expected, wall, extra=extra,
    )


# --------------------------------------------------------------------------- comparison


def max_severity_by_customer(alerts: list[dict[str, Any]]) -> dict[str, str]:
    """Highest severity of any alert message per customer.

    >>> max_severity_by_customer([{"customer_id": "a", "severity": "low"},
    ...                           {"customer_id": "a", "severity": "high"}])
    {'a': 'high'}
    """
    out: dict[str, str] = {}
    for alert in alerts:
        cid, sev = str(alert.get("customer_id")), alert.get("severity")
        if isinstance(sev, str) and severity_rank(sev) > severity_rank(out.get(cid)):
            out[cid] = sev
    return out


@dataclass(slots=True)
class Comparison:
    """Differences between two runs of one scenario (e.g. offline vs Kafka)."""

    flagged_only_in_first: list[str]
    flagged_only_in_second: list[str]
    severity_differences: dict[str, tuple[str | None, str | None]]
    campaigns_detected_first: list[str]
    campaigns_detected_second: list[str]

    @property
    def same_flagged(self) -> bool:
        return not self.flagged_only_in_first and not self.flagged_only_in_second

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "same_flagged": self.same_flagged}


def _flagged(alerts: list[dict[str, Any]]) -> set[str]:
    return {str(a.get("customer_id")) for a in alerts if is_flagged(a)}


def compare(first: EvalResult, second: EvalResult) -> Comparison:
    """Customers flagged (>= medium) in one run but not the other, customers whose highest
    severity differs, and the campaigns each run detected."""
    a, b = _flagged(first.alerts), _flagged(second.alerts)
    sev_a, sev_b = max_severity_by_customer(first.alerts), max_severity_by_customer(second.alerts)
    diffs = {
        cid: (sev_a.get(cid), sev_b.get(cid))
        for cid in sorted(set(sev_a) | set(sev_b))
        if sev_a.get(cid) != sev_b.get(cid)
    }

    def detected(r: EvalResult) -> list[str]:
        return [c.campaign_id for c in r.metrics.campaign_outcomes if c.detected]

    return Comparison(
        flagged_only_in_first=sorted(a - b),
        flagged_only_in_second=sorted(b - a),
        severity_differences=diffs,
        campaigns_detected_first=detected(first),
        campaigns_detected_second=detected(second),
    )
