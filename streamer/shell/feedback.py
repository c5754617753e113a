"""``streamer feedback``: send an analyst verdict on a customer to the feedback topic.

The worker consumes it: ``allowlisted`` customers stop alerting (until ``--expires``),
``confirmed`` ones stay flagged, ``false_positive`` lowers future sensitivity for the pattern
that raised the alert.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import orjson

from streamer.settings import Settings


def feedback_record(customer_id: str, verdict: str, expires_in_h: float | None = None,
                    note: str = "", now: datetime | None = None) -> dict[str, object]:
    """The JSON record the worker expects on the feedback topic."""
    now = now or datetime.now(UTC)
    rec: dict[str, object] = {"customer_id": customer_id, "verdict": verdict,
                              "ts": now.isoformat(), "note": note}
    if expires_in_h is not None:
        rec["expires_at"] = (now + timedelta(hours=expires_in_h)).isoformat()
    return rec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("customer_id")
    parser.add_argument("verdict", choices=["false_positive", "confirmed", "allowlisted"])
    parser.add_argument("--expires-in-hours", type=float, default=None,
                        help="allowlist expiry (default: never)")
    parser.add_argument("--note", default="")


def run(args: argparse.Namespace) -> int:
    from kafka import KafkaProducer

    settings = Settings.from_env()
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers,
                             **settings.kafka_client_options())
    rec = feedback_record(args.customer_id, args.verdict, args.expires_in_hours, args.note)
    producer.send(settings.feedback_topic, key=args.customer_id.encode(), value=orjson.dumps(rec))
    producer.flush(10)
    producer.close()
    print(f"sent {args.verdict} for {args.customer_id} to {settings.feedback_topic}")
    return 0
