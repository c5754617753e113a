"""``streamer tail``: print extraction-risk alerts as they arrive, for a person to watch."""

from __future__ import annotations

import argparse
from typing import Any

import orjson
from rich.console import Console

from streamer.settings import Settings

SEVERITY_STYLE = {"low": "cyan", "medium": "yellow", "high": "bold red",
                  "critical": "bold white on red", "none": "dim"}


def format_alert(alert: dict[str, Any], truth: str | None = None) -> str:
    """One line of rich markup for an alert: time, customer, severity, status, top reasons."""
    sev = alert.get("severity", "none")
    style = SEVERITY_STYLE.get(sev, "")
    reasons = ", ".join(
        f"{r['signal']}={r['value']:g} (+{r['contribution']:.1f})"
        for r in alert.get("reasons", [])[:3]
    )
    cluster = alert.get("cluster")
    extra = f" [magenta]cluster {cluster['cluster_id']} ({len(cluster['members'])} accts, " \
            f"{'/'.join(cluster['shared'])})[/]" if cluster else ""
    label = f" [dim]({truth})[/]" if truth else ""
    return (f"[dim]{alert.get('detected_at', '')}[/] {alert.get('customer_id')}{label} "
            f"[{style}]{sev.upper():8s}[/] {alert.get('status', ''):9s} "
            f"risk {alert.get('risk', 0):.2f}  {reasons}{extra}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topic", help="alerts topic (default: STREAMER_ALERTS_TOPIC)")
    parser.add_argument("--from-beginning", action="store_true", help="replay the topic first")
    parser.add_argument("--min-severity", default="low",
                        choices=["low", "medium", "high", "critical"])
    parser.add_argument("--json", action="store_true", help="print raw JSON lines")
    parser.add_argument("--max", type=int, default=0, help="stop after N alerts (0: never)")
    parser.add_argument("--idle-timeout", type=float, default=0.0,
                        help="stop after this many seconds without alerts (0: never)")


def run(args: argparse.Namespace) -> int:
    from kafka import KafkaConsumer

    settings = Settings.from_env()
    topic = args.topic or settings.alerts_topic
    order = ["none", "low", "medium", "high", "critical"]
    floor = order.index(args.min_severity)
    console = Console()
    consumer = KafkaConsumer(
        topic, bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest" if args.from_beginning else "latest",
        enable_auto_commit=False, consumer_timeout_ms=int(args.idle_timeout * 1000) or None,
        **settings.kafka_client_options(),
    )
    console.print(f"[dim]tailing {topic} at {settings.bootstrap_servers} (Ctrl-C to stop)[/]")
    shown = 0
    try:
        for msg in consumer:
            alert = orjson.loads(msg.value)
            severity = order.index(alert.get("severity", "none"))
            if alert.get("status") != "resolved" and severity < floor:
                continue
            console.print(orjson.dumps(alert).decode() if args.json else format_alert(alert),
                          markup=not args.json, highlight=False)
            shown += 1
            if args.max and shown >= args.max:
                break
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0
