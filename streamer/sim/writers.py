"""Writing a simulation out: JSON Lines files, or a Kafka topic (optionally in real time).

Kafka records are keyed by customer id (UTF-8) so one customer's events stay in one partition
and in order; values are the orjson-encoded event objects. The record timestamp is left to the
producer (wall clock): event time is inside the payload.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from streamer.sim.identity import parse_start
from streamer.sim.simulator import Simulation


def _progress(disable: bool = False) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), disable=disable, transient=False)


def encode(event: dict[str, Any]) -> bytes:
    """One event as compact JSON bytes."""
    return orjson.dumps(event)


def write_jsonl(sim: Simulation, events_path: str | Path, labels_path: str | Path | None,
                *, progress: bool = False) -> int:
    """Write events (one JSON object a line) and the labels (one JSON document); return count."""
    events_path = Path(events_path)
    events_path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with _progress(disable=not progress) as bar, events_path.open("wb") as fh:
        task = bar.add_task(f"writing {events_path.name}", total=len(sim))
        for ev in sim.events():
            fh.write(encode(ev) + b"\n")
            count += 1
            if count % 5000 == 0:
                bar.update(task, completed=count)
        bar.update(task, completed=count)
    if labels_path is not None:
        write_labels(sim, labels_path)
    return count


def write_labels(sim: Simulation, labels_path: str | Path) -> None:
    path = Path(labels_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(sim.labels, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def paced(events: Iterable[dict[str, Any]], speedup: float | None,
          sleep: Callable[[float], None] = time.sleep,
          clock: Callable[[], float] = time.monotonic) -> Iterator[dict[str, Any]]:
    """Yield events, sleeping so that event time runs ``speedup`` times faster than wall time.

    >>> evs = [{"ts": "2026-03-02T00:00:00.000Z"}, {"ts": "2026-03-02T00:00:10.000Z"}]
    >>> slept = []
    >>> _ = list(paced(evs, 10.0, sleep=slept.append, clock=lambda: 0.0))
    >>> slept
    [1.0]
    """
    if speedup is None or speedup <= 0:
        yield from events
        return
    t0_event: int | None = None
    t0_wall = clock()
    for ev in events:
        ts = parse_start(ev["ts"])
        if t0_event is None:
            t0_event = ts
        due = t0_wall + (ts - t0_event) / 1000.0 / speedup
        delay = due - clock()
        if delay > 0.001:
            sleep(delay)
        yield ev


def produce_to_kafka(sim: Simulation, bootstrap: str, topic: str, speedup: float | None = None,
                     client_options: dict[str, Any] | None = None, *,
                     progress: bool = True) -> int:
    """Produce every event to ``topic`` (key = customer id); return the number produced."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all",
                             linger_ms=20, batch_size=256 * 1024, compression_type=None,
                             max_request_size=2_000_000, **(client_options or {}))
    count = 0
    failures: list[BaseException] = []
    try:
        with _progress(disable=not progress) as bar:
            task = bar.add_task(f"producing to {topic}", total=len(sim))
            for ev in paced(sim.events(), speedup):
                future = producer.send(topic, key=ev["customer_id"].encode("utf-8"),
                                       value=encode(ev))
                future.add_errback(failures.append)
                if failures:
                    raise failures[0]
                count += 1
                if count % 1000 == 0 or speedup:
                    bar.update(task, completed=count)
            producer.flush()
            bar.update(task, completed=count)
        if failures:
            raise failures[0]
    finally:
        producer.close()
    return count
