"""``streamer demo`` (``make demo``): the whole product on one screen.

Starts the local broker unless ``KAFKA_BOOTSTRAP_SERVERS`` is set, creates a fresh set of demo
topics, starts a worker, replays a simulated scenario (ordinary customers plus an extraction
campaign) into Kafka at a speed-up of event time, and prints alerts live as they arrive — with
the simulator's ground truth next to each, so you can see who was right. Ends with a summary:
the wall-clock delay from the campaign's first request to its first alert, and false alarms.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from streamer.core.alerts import actionable
from streamer.settings import Settings

console = Console()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", default="smoke")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speedup", type=float, default=120.0,
                        help="event time runs this many times faster than wall time")
    parser.add_argument("--linger", type=float, default=8.0,
                        help="seconds to keep watching after the last event")


class AlertWatcher(threading.Thread):
    """Consumes the alerts topic in the background and prints each alert as it lands."""

    def __init__(self, bootstrap: str, topic: str, labels: dict[str, Any],
                 options: dict[str, object]) -> None:
        super().__init__(daemon=True)
        from kafka import KafkaConsumer

        self.labels = labels
        self.alerts: list[tuple[float, dict[str, Any]]] = []
        self.stop_flag = threading.Event()
        self.consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap,
                                      auto_offset_reset="earliest", enable_auto_commit=False,
                                      consumer_timeout_ms=500, **options)

    def run(self) -> None:
        from streamer.shell.tail import format_alert

        while not self.stop_flag.is_set():
            for msg in self.consumer:
                alert = orjson.loads(msg.value)
                self.alerts.append((time.monotonic(), alert))
                info = self.labels["customers"].get(alert["customer_id"], {})
                truth = (f"campaign: {info.get('tactic')}" if info.get("role") == "campaign"
                         else f"ordinary: {info.get('archetype', '?')}")
                console.print(format_alert(alert, truth), highlight=False)
                if self.stop_flag.is_set():
                    break
        self.consumer.close()


def run(args: argparse.Namespace) -> int:
    from kafka import KafkaProducer

    from streamer.shell import localkafka
    from streamer.shell.supervise import WorkerProcess, topic_env
    from streamer.shell.topics import ensure_topics
    from streamer.sim import simulate

    base = Settings.from_env()
    if base.local_broker:
        console.rule("[bold]1. Kafka")
    bootstrap = localkafka.bootstrap_for(base)
    if not base.local_broker:
        console.print(f"using your cluster at {bootstrap}")
    prefix = f"demo-{int(time.time())}"
    env = topic_env(prefix)
    settings = Settings.from_env({**env, "KAFKA_BOOTSTRAP_SERVERS": bootstrap})
    ensure_topics(settings)
    console.rule("[bold]2. Worker")
    data_dir = Path(tempfile.mkdtemp(prefix="streamer-demo-"))
    worker = WorkerProcess(bootstrap, env, data_dir).start()
    try:
        t0 = time.monotonic()
        worker.wait_consuming(120)
        console.print(f"worker consuming after {time.monotonic() - t0:.1f}s "
                      f"(web: http://127.0.0.1:{worker.web_port}/health, log: {worker.log_path})")
        # [ops hook] the operator dashboard of this worker, live while the demo runs
        console.print(f"operator dashboard: http://127.0.0.1:{worker.web_port}/  "
                      f"(metrics: http://127.0.0.1:{worker.web_port}/metrics)")
        console.print(f"topics: {env['STREAMER_INPUT_TOPIC']} → {env['STREAMER_ALERTS_TOPIC']} "
                      f"(watch with: STREAMER_ALERTS_TOPIC={env['STREAMER_ALERTS_TOPIC']} "
                      f"streamer tail --from-beginning)")
        sim = simulate(args.scenario, args.seed)
        labels = sim.labels
        watcher = AlertWatcher(bootstrap, env["STREAMER_ALERTS_TOPIC"], labels,
                               settings.kafka_client_options())
        watcher.start()
        console.rule(f"[bold]3. Traffic: scenario {args.scenario}, {args.speedup:g}x real time")
        producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5,
                                 **settings.kafka_client_options())
        first_attack = _replay(sim, producer, env["STREAMER_INPUT_TOPIC"], args.speedup, labels,
                               worker)
        time.sleep(args.linger)
        watcher.stop_flag.set()
        watcher.join(5)
        _summary(watcher.alerts, labels, first_attack, worker)
    finally:
        worker.stop()
    return 0


def _replay(sim: Any, producer: Any, topic: str, speedup: float, labels: dict[str, Any],
            worker: Any) -> dict[str, float]:
    """Produce the scenario at ``speedup``; return wall time of each campaign's first event."""
    from rich.progress import Progress

    campaign_of = {c: info["campaign_id"] for c, info in labels["customers"].items()
                   if info["role"] == "campaign"}
    first_attack: dict[str, float] = {}
    events = list(sim.events())
    start_ms = labels["start_ms"]
    wall0 = time.monotonic()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("producing", total=len(events))
        for i, ev in enumerate(events):
            ts = int(ev["ts"]) if isinstance(ev["ts"], int) else _ms(ev["ts"])
            due = wall0 + (ts - start_ms) / 1000 / speedup
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            producer.send(topic, key=ev["customer_id"].encode(), value=orjson.dumps(ev))
            camp = campaign_of.get(ev["customer_id"])
            if camp and camp not in first_attack:
                producer.flush()
                first_attack[camp] = time.monotonic()
            if i % 200 == 0:
                progress.update(task, completed=i)
                worker.check_alive()
    producer.flush()
    return first_attack


def _ms(ts: str) -> int:
    from streamer.core.events import parse_ts

    return parse_ts(ts)


def _summary(alerts: list[tuple[float, dict[str, Any]]], labels: dict[str, Any],
             first_attack: dict[str, float], worker: Any) -> None:
    console.rule("[bold]4. Summary")
    customers = labels["customers"]
    flagged = {a["customer_id"] for _, a in alerts if actionable(a["severity"])}
    table = Table("campaign", "tactic", "accounts", "detected", "wall-clock delay to 1st alert")
    for cid, camp in labels["campaigns"].items():
        accounts = set(camp["accounts"])
        hits = [(t, a) for t, a in alerts if a["customer_id"] in accounts
                and actionable(a["severity"])]
        delay = (f"{min(t for t, _ in hits) - first_attack[cid]:.2f} s"
                 if hits and cid in first_attack else "—")
        table.add_row(cid, camp["tactic"], str(len(accounts)),
                      f"{len(accounts & flagged)}/{len(accounts)}", delay)
    console.print(table)
    ordinary = [c for c, i in customers.items() if i["role"] != "campaign"]
    false_alarms = [c for c in ordinary if c in flagged]
    stats = worker.stats() or {}
    console.print(f"ordinary customers alerted at ≥ medium: {len(false_alarms)}/{len(ordinary)}; "
                  f"events processed by the worker: {stats.get('events_processed', '?')}")
