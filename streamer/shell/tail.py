"""``streamer tail``: print extraction-risk alerts as they arrive, for a person to watch."""

from __future__ import annotations

import argparse
from typing import Any

import orjson
from rich.console import Console
from rich.text import Text

from streamer.settings import Settings

SEVERITY_STYLE = {"low": "cyan", "medium": "yellow", "high": "bold red",
                  "critical": "bold white on red", "none": "dim"}


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(32), *range(127, 160))}


def _clean(value: object) -> str:
    r"""``str(value)`` with control characters shown as ``\xNN`` (no terminal escapes).

    >>> _clean("cus\x1b[2J")
    'cus\\x1b[2J'
    """
    return str(value).translate(_CONTROL)


def _num(value: Any, spec: str) -> str:
    """``format(value, spec)`` for numbers; anything else as ``str``, never an exception."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format(value, spec)
    return _clean(value)


def format_alert(alert: dict[str, Any], truth: str | None = None) -> Text:
    """One styled line for an alert: time, customer, severity, status, top reasons.

    Built as a :class:`rich.text.Text` from plain pieces, never as markup, so strings from the
    topic (customer ids like ``[/]``, reasons, cluster ids) print as themselves, and control
    characters (terminal escape sequences) are shown as ``\\xNN``:

    >>> format_alert({"customer_id": "[/]", "severity": "high", "status": "open",
    ...               "risk": 0.9, "detected_at": "2026-01-01T00:00:00Z"}).plain
    '2026-01-01T00:00:00Z [/] HIGH     open      risk 0.90  '
    """
    sev = _clean(alert.get("severity", "none"))
    raw_reasons = alert.get("reasons")
    reasons = ", ".join(
        f"{_clean(r.get('signal'))}={_num(r.get('value'), 'g')} "
        f"(+{_num(r.get('contribution'), '.1f')})"
        for r in (raw_reasons if isinstance(raw_reasons, list) else [])[:3]
        if isinstance(r, dict)
    )
    line = Text()
    line.append(_clean(alert.get("detected_at", "")), style="dim")
    line.append(f" {_clean(alert.get('customer_id'))}")
    if truth:
        line.append(f" ({_clean(truth)})", style="dim")
    line.append(" ")
    line.append(f"{sev.upper():8s}", style=SEVERITY_STYLE.get(sev, "dim"))
    line.append(f" {_clean(alert.get('status', '')):9s} risk {_num(alert.get('risk', 0), '.2f')}  "
                f"{reasons}")
    cluster = alert.get("cluster")
    if isinstance(cluster, dict):
        members, shared = cluster.get("members"), cluster.get("shared")
        n = len(members) if isinstance(members, list) else 0
        shared_text = "/".join(map(_clean, shared)) if isinstance(shared, list) else ""
        line.append(f" cluster {_clean(cluster.get('cluster_id'))} ({n} accts, {shared_text})",
                    style="magenta")
    return line


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
            try:
                alert = orjson.loads(msg.value)
            except orjson.JSONDecodeError:
                alert = None
            if not isinstance(alert, dict):
                console.print(f"[dim]skipped a record that is not a JSON object "
                              f"({msg.topic}:{msg.partition}@{msg.offset})[/]", highlight=False)
                continue
            sev = alert.get("severity", "none")
            severity = order.index(sev) if sev in order else 0
            if alert.get("status") != "resolved" and severity < floor:
                continue
            console.print(orjson.dumps(alert).decode() if args.json else format_alert(alert),
                          markup=False, highlight=False)
            shown += 1
            if args.max and shown >= args.max:
                break
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0
